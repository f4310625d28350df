"""mlgov.api.audit: log, verify (chain, head, checkpoints), checkpoint and export, called
without the CLI, on the real wiring (mlgov.app) over a fresh embedded home."""

from __future__ import annotations

import json

import pytest
from support import tampering

from mlgov.api import Actor, users
from mlgov.api import audit as api
from mlgov.api.errors import BadInput, UnknownUser
from mlgov.governance.store import Store

AUD = Actor.asserted("aud")


@pytest.fixture
def team(open_platform, admin):
    users.init(open_platform(), admin, keys=True)
    users.add_user(open_platform(), admin, "aud", ["auditor"])
    users.add_user(open_platform(), admin, "dana", ["data_scientist"])
    return open_platform


def _store(platform) -> Store:
    return Store(f"sqlite:///{platform.settings.home / 'governance.db'}")


def test_log_with_filters(team) -> None:
    log = api.audit_log(team(), AUD)
    assert [e.seq for e in log.events] == list(range(1, len(log.events) + 1))
    assert {"user.add", "audit.signing_key"} <= {e.action for e in log.events}
    assert set(log.to_json()[0]) == {
        "seq", "time", "actor", "action", "subject", "payload", "prev_hash", "hash",
    }  # fmt: skip
    added = api.audit_log(team(), AUD, action="user.add")
    assert {e.action for e in added.events} == {"user.add"} and len(added.events) >= 2
    last = log.events[-1]
    assert [e.seq for e in api.audit_log(team(), AUD, since=last.time).events][-1] == last.seq
    assert api.audit_log(team(), AUD, model="credit").events == ()
    with pytest.raises(BadInput):
        api.audit_log(team(), AUD, since="yesterday-ish")


def test_verify_chain_and_a_head_kept_elsewhere(team) -> None:
    checked = api.verify(team(), AUD)
    assert isinstance(checked, api.ChainVerification)
    assert checked.ok and checked.chain_ok and checked.problems == ()
    assert checked.head_seq == checked.events == len(api.audit_log(team(), AUD).events)
    assert checked.to_json()["state_disagreements"] == []
    json.dumps(checked.to_json())
    wrong = api.verify(team(), AUD, head="f" * 64)  # not a hash of this chain
    assert not wrong.ok and wrong.problems
    with pytest.raises(BadInput, match="64-character"):
        api.verify(team(), AUD, head="abc")


def test_verify_options_are_checked_before_the_store(team, tmp_path) -> None:
    platform = team()
    with pytest.raises(BadInput, match="not both"):
        api.verify(platform, AUD, head="0" * 64, checkpoint_file=tmp_path / "cp.jsonl")
    with pytest.raises(BadInput, match="needs --checkpoints"):
        api.verify(platform, AUD, public_keys=[tmp_path / "k.pub"])
    assert not platform.opened


def test_checkpoint_then_verify_catches_a_rehashed_chain(team, tmp_path) -> None:
    out = tmp_path / "mine.jsonl"
    written = api.write_checkpoint(team(), AUD, out=out)
    assert (
        str(out) in written.files and written.checkpoint["seq"] == api.verify(team(), AUD).head_seq
    )
    good = api.verify(team(), AUD, checkpoint_file=out)
    assert isinstance(good, api.CheckpointVerification)
    assert good.ok and good.passed and good.verified == 1 and good.uncovered_events == 0

    store = _store(team())
    tampering.tamper(store, "edit", 2, recompute=True)
    store.engine.dispose()
    assert api.verify(team(), AUD).chain_ok  # the chain alone is fooled
    caught = api.verify(team(), AUD, checkpoint_file=out)
    assert not caught.ok and not caught.passed and caught.first_bad_seq == 1
    assert caught.to_json()["chain"]["ok"] is True  # the JSON `audit verify` prints, unchanged


def test_an_unknown_user_reads_and_writes_nothing(team, tmp_path) -> None:
    stranger = Actor.asserted("mallory")
    out = tmp_path / "cp.jsonl"
    with pytest.raises(UnknownUser):
        api.write_checkpoint(team(), stranger, out=out)
    assert not out.exists()
    with pytest.raises(UnknownUser):
        api.verify(team(), stranger)
    with pytest.raises(UnknownUser):
        api.audit_log(team(), stranger)


def test_export_writes_every_event(team, tmp_path) -> None:
    out = tmp_path / "trail.jsonl"
    done = api.export(team(), AUD, out)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert done.events == len(lines) and done.head_hash == lines[-1]["hash"]
    assert done.to_json() == {
        "file": str(out),
        "events": len(lines),
        "head_hash": lines[-1]["hash"],
    }
    with pytest.raises(BadInput, match="does not exist"):
        api.export(team(), AUD, tmp_path / "no" / "trail.jsonl")
