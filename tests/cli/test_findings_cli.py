"""`mlgov findings` (issue 20): bad input is one clear message, exit 2 or 1, nothing written."""

from __future__ import annotations

import json

import pytest


def _events(mlgov) -> int:
    return len(json.loads(mlgov("audit", "log", "--format", "json", user="u_aud").output))


def _open(mlgov, *extra: str, user: str = "u_ro"):
    return mlgov(
        "findings", "open", "credit", "2", "--title", "bias on thin files", *extra, user=user
    )


def test_open_list_show_close_round_trip(mlgov) -> None:
    r = _open(mlgov, "--severity", "high", "--format", "json")
    assert r.exit_code == 0, r.output
    f = json.loads(r.output)
    assert (f["severity"], f["owner"], f["state"]) == ("high", "owner_ds", "open")
    listed = json.loads(mlgov("findings", "list", "--open", "--format", "json").output)
    assert [x["id"] for x in listed] == [f["id"]]
    mine = json.loads(
        mlgov("findings", "list", "--mine", "--format", "json", user="owner_ds").output
    )
    assert [x["id"] for x in mine] == [f["id"]]
    # The open high finding is an unmet condition of approval (the train gate it runs).
    r = mlgov("approvals", "request", "credit", "2", user="owner_ds")
    assert r.exit_code == 1 and "[findings] finding" in r.output
    r = mlgov("findings", "close", str(f["id"]), "--resolution", "mine", user="owner_ds")
    assert r.exit_code == 1 and "risk officer" in r.output
    r = mlgov("findings", "close", str(f["id"]), "--resolution", "reweighted", user="u_ro")
    assert r.exit_code == 0 and "closed by u_ro" in r.output
    shown = json.loads(mlgov("findings", "show", str(f["id"]), "--format", "json").output)
    assert shown["resolution"] == "reweighted"


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--severity", "severe"], 2, "unknown severity 'severe'"),
        (["--severity", "high", "--due", "2020-01-01"], 2, "is not in the future"),
        (["--severity", "high", "--due", "soon"], 2, "--due: cannot read time"),
        (["--severity", "high", "--type", "bug"], 2, "unknown finding type"),
        (["--severity", "high", "--owner", "nobody"], 1, "'nobody' is not a registered user"),
    ],
)
def test_bad_open_is_refused_and_writes_nothing(mlgov, args, code, message) -> None:
    before = _events(mlgov)
    r = _open(mlgov, *args)
    assert r.exit_code == code, r.output
    assert message in r.output and "Traceback" not in r.output
    assert r.output.count("\n") == 1
    assert _events(mlgov) == before
    assert json.loads(mlgov("findings", "list", "--format", "json").output) == []


def test_closing_a_closed_finding_and_bad_ids(mlgov) -> None:
    fid = json.loads(_open(mlgov, "--severity", "low", "--format", "json").output)["id"]
    assert mlgov("findings", "close", str(fid), "--resolution", "done", user="u_ro").exit_code == 0
    before = _events(mlgov)
    r = mlgov("findings", "close", str(fid), "--resolution", "again", user="u_ro")
    assert r.exit_code == 1 and "already closed" in r.output
    for bad in ("0", "999"):
        r = mlgov("findings", "show", bad)
        assert r.exit_code == 2 and ("malformed finding id" in r.output or "no finding" in r.output)
    assert mlgov("findings", "show", "x").exit_code == 2
    r = mlgov("findings", "accept", str(fid), "--reason", "r", "--until", "2030-01-01", user="u_ro")
    assert r.exit_code == 1 and "is closed" in r.output
    assert _events(mlgov) == before


def test_auditor_may_not_open(mlgov) -> None:
    r = _open(mlgov, "--severity", "low", user="u_aud")
    assert r.exit_code == 1 and "may not raise finding" in r.output
