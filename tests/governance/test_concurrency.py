"""Many processes appending audit events to one SQLite file end with one unbroken chain."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from mlgov.governance.audit import append_event
from mlgov.governance.clock import SystemClock
from mlgov.governance.service import Governance
from mlgov.governance.store import Store

WORKERS = 8
EVENTS_EACH = 25


def _append_many(url: str, worker: int) -> int:
    store = Store(url)
    clock = SystemClock()
    for i in range(EVENTS_EACH):
        with store.transaction() as s:
            append_event(
                s,
                actor=f"w{worker}",
                action="test.append",
                subject=f"worker:{worker}",
                payload={"i": i},
                at=clock.now(),
            )
    store.engine.dispose()
    return EVENTS_EACH


def test_concurrent_appenders_never_fork_the_chain(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'g.db'}"
    gov = Governance(Store(url))
    gov.init("admin")
    gov.store.engine.dispose()  # children open their own connections
    ctx = mp.get_context("fork")
    with ctx.Pool(WORKERS) as pool:
        written = sum(pool.starmap(_append_many, [(url, w) for w in range(WORKERS)]))
    report = gov.audit_verify("admin")
    assert report.ok, report
    appended = [e for e in gov.audit_log("admin") if e["action"] == "test.append"]
    assert len(appended) == written == WORKERS * EVENTS_EACH
    per_worker = {}
    for e in appended:
        per_worker.setdefault(e["actor"], []).append(e["payload"]["i"])
    assert all(v == list(range(EVENTS_EACH)) for v in per_worker.values())
