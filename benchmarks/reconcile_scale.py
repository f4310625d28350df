"""Reconcile's cost as a model's versions grow: the artifact check hashes every version.

    python benchmarks/reconcile_scale.py [--versions 500 2000 10000] [--format json]

Two measurements, each at every size in `--versions`:

1. `fingerprint` of every version through the real MlflowRegistry on a real MLflow SQLite
   store. The versions are rows copied in bulk in MLflow's own `model_versions` table from one
   version registered normally (same source, the same small sklearn model): creating 10,000
   through the client would take most of an hour on two cores and measure MLflow's writes,
   not reconcile's reads. What was quadratic was a read of the whole registered model (every
   version) inside MlflowClient's per-version download-URI call: this counts those reads too.
2. The whole `reconcile` (artifact check on) over that many governed versions, on the
   governance SQLite store, with the FakeRegistry of governance/testing.py: its MLflow calls
   are free, so what is timed is reconcile's own per-version work. Version 1 is registered
   normally; the others are copies of its row (registering 10,000 through the service takes
   ~70 ms each here, and no version's audit trail is read unless a finding is fixable).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _mlflow_versions(root: Path, count: int) -> tuple[Any, str]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from support.toy_models import log_toy_model

    from mlgov.registry.mlflow_registry import MlflowRegistry

    db = root / "mlflow.db"
    uri = f"sqlite:///{db}"
    run_id, _ = log_toy_model(uri, artifact_location=str(root / "artifacts"), dataset=False)
    registry = MlflowRegistry(uri, artifact_location=str(root / "artifacts"))
    registry.register("scale", run_id=run_id)
    with sqlite3.connect(db) as con:
        columns = [row[1] for row in con.execute("PRAGMA table_info(model_versions)")]
        picked = ", ".join(c if c != "version" else "? AS version" for c in columns)
        for v in range(2, count + 1):
            con.execute(
                f"INSERT INTO model_versions ({', '.join(columns)}) "  # noqa: S608
                f"SELECT {picked} FROM model_versions WHERE name = 'scale' AND version = 1",
                (v,),
            )
    return registry, "scale"


def measure_registry(count: int) -> dict[str, Any]:
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

    with tempfile.TemporaryDirectory(prefix="mlgov-scale-") as tmp:
        registry, model = _mlflow_versions(Path(tmp), count)
        reads: list[str] = []
        real = SqlAlchemyStore.get_registered_model

        def counted(self: Any, name: str) -> Any:
            reads.append(name)
            return real(self, name)

        SqlAlchemyStore.get_registered_model = counted  # type: ignore[method-assign]
        try:
            start = time.perf_counter()
            state = registry.state(model)
            for version in state.versions:
                registry.fingerprint(model, version)
            elapsed = time.perf_counter() - start
        finally:
            SqlAlchemyStore.get_registered_model = real  # type: ignore[method-assign]
    return {
        "versions": len(state.versions),
        "seconds": round(elapsed, 2),
        "ms_per_version": round(1000 * elapsed / max(1, len(state.versions)), 2),
        "whole_model_reads": len(reads),
    }


def measure_reconcile(count: int) -> dict[str, Any]:
    from mlgov.governance.clock import FixedClock
    from mlgov.governance.defaults import core_gates
    from mlgov.governance.reconcile import reconcile
    from mlgov.governance.service import Governance
    from mlgov.governance.store import Store
    from mlgov.governance.testing import FakeRegistry

    with tempfile.TemporaryDirectory(prefix="mlgov-reconcile-") as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'governance.db'}")
        store.upgrade()
        registry = FakeRegistry()
        gov = Governance(store, clock=FixedClock(), gates=core_gates(), registry=registry)
        gov.init("admin")
        gov.add_user("admin", "ds", ["data_scientist"])
        setup = time.perf_counter()
        gov.register("ds", "scale", risk_tier="low", purpose="scale", run_id="r1")
        _copy_version(store, registry, count)
        setup = time.perf_counter() - setup
        start = time.perf_counter()
        report = reconcile(gov, "admin", check_artifacts=True)
        elapsed = time.perf_counter() - start
        store.engine.dispose()
    return {
        "versions": count,
        "seconds": round(elapsed, 2),
        "ms_per_version": round(1000 * elapsed / count, 3),
        "findings": len(report["findings"]),
        "setup_s": round(setup, 1),
    }


def _copy_version(store: Any, registry: Any, count: int) -> None:
    from sqlalchemy import insert, select

    from mlgov.governance.tables import ModelVersion

    table = ModelVersion.__table__
    with store.transaction() as s:
        first = s.execute(select(table)).mappings().one()
        rows = [
            {k: val for k, val in first.items() if k != "id"} | {"version": str(v)}
            for v in range(2, count + 1)
        ]
        if rows:
            s.execute(insert(table), rows)
    for v in range(2, count + 1):
        registry.files[("scale", str(v))] = dict(registry.files[("scale", "1")])
        registry.tags[("scale", str(v))] = dict(registry.tags[("scale", "1")])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, nargs="+", default=[500, 2000, 10000])
    parser.add_argument("--only", choices=("registry", "reconcile"))
    parser.add_argument("--format", choices=("table", "json"), default="table")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for count in args.versions:
        if args.only != "reconcile":
            rows.append(
                {"measure": "MLflow fingerprint of every version"} | measure_registry(count)
            )
        if args.only != "registry":
            rows.append({"measure": "whole reconcile (fake registry)"} | measure_reconcile(count))
        if args.format == "table":
            for row in rows[-2:] if args.only is None else rows[-1:]:
                print(row, flush=True)
    if args.format == "json":
        print(json.dumps(rows))
    else:
        print("| measure | versions | seconds | ms per version | whole-model reads |")
        print("|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['measure']} | {r['versions']:,} | {r['seconds']} | {r['ms_per_version']} "
                f"| {r.get('whole_model_reads', 'n/a')} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
