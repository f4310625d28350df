"""Issue 16, item 12: event times never go backwards, and `inventory --at` never shows half a
transaction; and a year-1 time prints with four digits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from mlgov.governance import approvals
from mlgov.governance.audit import append_event
from mlgov.governance.clock import FixedClock, isoformat
from mlgov.governance.inventory import inventory, replay_inventory
from mlgov.governance.policy import DEFAULT_POLICY


class SteppingClock(FixedClock):
    """Moves 10 ms forward each time it is read: events of one transaction that each ask the
    clock (and a move that stamps its stage change with the time it began) get different
    times, as they do with a real clock."""

    def now(self) -> datetime:
        return self.advance(milliseconds=10)


def _times(gov) -> list[tuple[int, datetime]]:
    return [(e["seq"], datetime.fromisoformat(e["time"])) for e in gov.audit_log("aud")]


def test_a_transaction_whose_clock_goes_backwards_gets_non_decreasing_times(gov, clock):
    with gov.store.transaction() as s:
        first = append_event(s, actor="admin", action="t.one", subject="system", at=clock.now())
        clock.set(clock.now() - timedelta(seconds=5))  # the clock steps back mid-transaction
        second = append_event(s, actor="admin", action="t.two", subject="system", at=clock.now())
    assert second.occurred_at == first.occurred_at  # one time per transaction


def test_event_times_never_go_backwards_across_transactions(gov, clock):
    before = _times(gov)[-1][1]
    clock.set(clock.now() - timedelta(days=1))  # another writer's clock, or an NTP step
    gov.add_user("admin", "late", ["auditor"])
    assert _times(gov)[-1][1] >= before
    times = [t for _, t in _times(gov)]
    assert times == sorted(times)


def test_inventory_at_never_shows_half_of_the_retire_transaction(in_train):
    gov = in_train
    approvals.request_approval(gov, "ds1", "credit", "1")
    approvals.decide(gov, "ro1", "credit", "1", approve=True)
    approvals.decide(gov, "ro2", "credit", "1", approve=True)
    last_before = _times(gov)[-1][0]
    gov.clock = SteppingClock(gov.now())
    gov.retire("ds1", "credit", "1", reason="replaced")  # voids the approval, then the stage
    retire_events = [(seq, t) for seq, t in _times(gov) if seq > last_before]
    assert {e["action"] for e in gov.audit_log("aud")[last_before:]} >= {
        "approval.void",
        "stage.change",
    }
    assert len({t for _, t in retire_events}) == 1  # the transaction has one time
    moments = sorted({t for _, t in _times(gov)})
    probes = moments + [t + timedelta(microseconds=1) for t in moments]
    probes += [t - timedelta(microseconds=1) for t in moments]
    probes += [t + timedelta(milliseconds=15) for t in moments]
    for at in probes:
        if at > gov.now():
            continue
        for row in inventory(gov, "aud", at=at):
            # never existed: a retired version whose approval still stands
            assert not (row["stage"] == "retire" and row["approval_state"] == "approved"), at


def test_inventory_at_of_exported_events_cuts_by_sequence():
    """Events written before times were monotonic: the cut is the last sequence stamped at or
    before T, so the replay is a prefix of the trail (a state that was committed)."""
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def event(seq: int, ms: int, action: str, payload: dict) -> dict:
        time = isoformat(t0 + timedelta(milliseconds=ms))
        return {"seq": seq, "time": time, "actor": "ds1", "action": action,
                "subject": "model:credit/1", "payload": payload}  # fmt: skip

    events = [
        event(1, 0, "version.register", {"risk_tier": "low", "owner": "ds1"}),
        event(2, 1, "stage.change", {"from": "develop", "to": "train"}),
        event(3, 25, "approval.request", {"request_id": 1, "approvals_required": 1}),
        # one old transaction whose stage change was stamped before its first event
        event(4, 5, "stage.change", {"from": "train", "to": "retire"}),
    ]
    rows = replay_inventory(events, DEFAULT_POLICY, t0 + timedelta(milliseconds=10))
    assert rows[0]["stage"] == "retire" and rows[0]["approval_request"] == 1  # seq 1..4
    rows = replay_inventory(events, DEFAULT_POLICY, t0 + timedelta(milliseconds=3))
    assert rows[0]["stage"] == "train" and rows[0]["approval_request"] is None  # seq 1..2


def test_year_one_time_prints_with_a_four_digit_year(tmp_path: Path, monkeypatch):
    from mlgov.cli.main import cli

    assert isoformat(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00.000000Z"
    monkeypatch.delenv("MLGOV_DB_URL", raising=False)
    home = str(tmp_path / "home")
    assert CliRunner().invoke(cli, ["--home", home, "--user", "admin", "init"]).exit_code == 0
    result = CliRunner().invoke(
        cli, ["--home", home, "--user", "admin", "inventory", "--at", "0001-01-01"]
    )
    assert result.exit_code == 0, result.output
    assert "inventory as at 0001-01-01T00:00:00.000000Z" in result.stdout
