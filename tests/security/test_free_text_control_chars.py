import pytest

from mlgov.governance import validate
from mlgov.governance.errors import BadInput


@pytest.mark.parametrize(
    "text", ["x\napproval.state   approved", "a\rb", "a\tb", "a\x1b[2Jb", "a\u2028b", "a\u202eb"]
)
def test_single_line_free_text_refuses_control_and_line_separator_characters(text):
    with pytest.raises(BadInput, match="--purpose"):
        validate.free_text(text, "--purpose")


def test_single_line_free_text_keeps_plain_unicode():
    assert validate.free_text("Kreditrisiko – Privatkunden €", "--purpose") == (
        "Kreditrisiko – Privatkunden €"
    )
