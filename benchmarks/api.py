"""The governance server's reads against MLflow's own server, on the same machine and data.

N governed models of one version each (the governance store filled through the core, as the
server reads it), then `mlgov server --workers W` answering:

- inventory     GET /api/v1/inventory            (every version's row)
- model show    GET /api/v1/models/mK/versions/1 (one version in detail)

and `mlflow server` on a SQLite store holding the same N registered models:

- search        GET /api/2.0/mlflow/registered-models/search?max_results=1000
- get           GET /api/2.0/mlflow/registered-models/get?name=mK

each for `--seconds` at concurrency 1 and 16 (threads with one keep-alive client each).
Prints a markdown table: requests/s, p50 and p99 in ms.

    python benchmarks/api.py [--models 1000] [--workers 1] [--seconds 10] [--db-url URL]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited {proc.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def _mlgov(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mlgov.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=str(Path(env["MLGOV_HOME"]).parent),  # not the source tree: its mlgov/ is no package
    )
    return done.stdout


def _fill_governance(env: dict[str, str], n: int) -> None:
    """N models of one version each, registered through the core (no MLflow round trips)."""
    from mlgov.governance.clock import SystemClock
    from mlgov.governance.gates import Gates
    from mlgov.governance.service import Governance
    from mlgov.governance.store import Store
    from mlgov.governance.testing import FakeRegistry

    store = Store(env["MLGOV_DB_URL"])
    gov = Governance(store, clock=SystemClock(), gates=Gates(), registry=FakeRegistry())
    for i in range(n):
        gov.register("dana", f"m{i}", risk_tier="low", purpose="benchmark", run_id=f"run{i}")
    store.engine.dispose()


def _fill_mlflow(tracking_uri: str, n: int) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    for i in range(n):
        client.create_registered_model(f"m{i}", description="benchmark")


def _load(url_of, headers: dict[str, str], concurrency: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker() -> None:
        nonlocal errors
        mine: list[float] = []
        bad = 0
        with httpx.Client(headers=headers, timeout=60) as client:
            while time.monotonic() < stop:
                started = time.perf_counter()
                r = client.get(url_of())
                mine.append((time.perf_counter() - started) * 1000)
                bad += r.status_code != 200
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
    return {
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) if latencies else 0.0,
        "p99": p99,
        "errors": errors,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--db-url", help="governance database (default: SQLite in the home)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mlgov-bench-api-") as tmp:
        home = Path(tmp) / "home"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLGOV_", "MLFLOW_"))}
        env |= {"MLGOV_HOME": str(home), "MLGOV_USER": "admin"}
        env["MLGOV_DB_URL"] = args.db_url or f"sqlite:///{home / 'governance.db'}"
        _mlgov(env, "init")
        _mlgov(env, "users", "add", "dana", "--role", "data_scientist")
        _mlgov(env, "users", "add", "rita", "--role", "risk_officer")
        token = _mlgov(env, "tokens", "create", "rita", "--format", "json").split('"token": "')[1]
        token = token.split('"')[0]
        started = time.monotonic()
        _fill_governance(env, args.models)
        fill_s = time.monotonic() - started
        mlflow_uri = f"sqlite:///{Path(tmp) / 'mlflow-bench.db'}"
        _fill_mlflow(mlflow_uri, args.models)

        gport, mport = _free_port(), _free_port()
        governance = subprocess.Popen(
            [sys.executable, "-m", "mlgov.cli.main", "server", "--port", str(gport)]
            + ["--workers", str(args.workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=tmp,
        )
        mlflow = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", mlflow_uri]
            + ["--host", "127.0.0.1", "--port", str(mport), "--workers", str(args.workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=tmp,
        )
        rows = []
        try:
            g = f"http://127.0.0.1:{gport}/api/v1"
            m = f"http://127.0.0.1:{mport}/api/2.0/mlflow"
            _wait(g + "/openapi.json", governance)
            _wait(f"http://127.0.0.1:{mport}/health", mlflow)
            auth = {"Authorization": f"Bearer {token}"}
            n = args.models
            cases = [
                ("mlgov inventory", lambda: f"{g}/inventory", auth),
                (
                    "MLflow registered-models/search",
                    lambda: f"{m}/registered-models/search?max_results=1000",
                    {},
                ),
                ("mlgov model show", lambda: f"{g}/models/m{random.randrange(n)}/versions/1", auth),
                (
                    "MLflow registered-models/get",
                    lambda: f"{m}/registered-models/get?name=m{random.randrange(n)}",
                    {},
                ),
            ]
            for name, url_of, headers in cases:
                for concurrency in (1, 16):
                    got = _load(url_of, headers, concurrency, args.seconds)
                    rows.append((name, concurrency, got))
        finally:
            for proc in (governance, mlflow):
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()

    print(
        f"\n{args.models} models, {args.workers} worker(s), {args.seconds:.0f} s per cell, "
        f"{platform.machine()} x{os.cpu_count()}, governance store "
        f"{'PostgreSQL' if args.db_url else 'SQLite'}, filled in {fill_s:.1f} s\n"
    )
    print("| call | concurrency | req/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|")
    for name, concurrency, got in rows:
        print(
            f"| {name} | {concurrency} | {got['rps']:.1f} | {got['p50']:.1f} | "
            f"{got['p99']:.1f} | {got['errors']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
