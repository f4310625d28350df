"""Issue 16 (small): a 5,000-digit integer in /predict is valid JSON, and the answer says so."""

from __future__ import annotations

import pytest

from mlgov.deploy.validation import RequestRejected, parse_json_body


def test_huge_integer_literal_is_named_as_such_not_as_invalid_json():
    body = b'{"records": [{"age": ' + b"9" * 5000 + b"}]}"
    with pytest.raises(RequestRejected) as caught:
        parse_json_body(body)
    message = caught.value.message
    assert "integer literal longer than 4300 digits" in message
    assert "not valid JSON" not in message
    assert "9999" not in message  # never the value


def test_broken_json_is_still_called_invalid():
    with pytest.raises(RequestRejected, match="not valid JSON"):
        parse_json_body(b'{"records": [')
