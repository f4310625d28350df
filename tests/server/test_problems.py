"""Each error of the family maps to one HTTP status; a gate refusal lists every condition."""

from __future__ import annotations

import pytest

from mlgov.api import errors
from mlgov.governance.errors import Unmet
from mlgov.server.problems import from_error


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.NotAuthenticated("x"), 401),
        (errors.UnknownUser("x"), 403),
        (errors.PermissionDenied("x"), 403),
        (errors.NotFound("x"), 404),
        (errors.BadInput("x"), 400),
        (errors.Conflict("x"), 409),
        (errors.Unavailable("x"), 503),
        (errors.Refused("x"), 409),
        (errors.IdempotencyKeyReused("x"), 422),
        (errors.RequestInProgress("x"), 409),
    ],
)
def test_statuses(error, status):
    got, body = from_error(error)
    assert got == status == body["status"] and body["detail"] == "x"
    assert body["exit_code"] == error.exit_code


def test_a_gate_refusal_lists_every_unmet_condition():
    refused = errors.GateRefused(
        "deploy", [Unmet("approval", "no approval"), Unmet("drift", "no drift check")]
    )
    status, body = from_error(refused)
    assert status == 409 and [u["check"] for u in body["unmet"]] == ["approval", "drift"]
