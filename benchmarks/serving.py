"""Governed service vs plain BentoML service: requests/s and p50/p99 latency.

    python benchmarks/serving.py [--requests 1500] [--concurrency 4] [--rounds 3] [--out F]

Same model (a small sklearn pipeline logged to a temporary MLflow store and imported once
into a temporary BentoML home), same machine, same client (threads with keep-alive
`http.client` connections on loopback), one worker each, logging on in both (mlgov's
prediction log; `bentoml.monitor` for the plain one). Rounds alternate between the two
servers so background load on the machine hits both alike; the best round of each counts.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
for _name in ("DO_NOT_TRACK", "BENTOML_DO_NOT_TRACK", "MLFLOW_DISABLE_TELEMETRY"):
    os.environ[_name] = "true"
os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"


def train_and_import(root: Path) -> tuple[str, list[dict], dict]:
    os.environ["BENTOML_HOME"] = str(root / "bentoml")
    import mlflow
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from mlgov.deploy.bento import import_model

    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    experiment = mlflow.create_experiment("bench", artifact_location=str(root / "art"))
    rng = np.random.default_rng(1)
    n = 1000
    frame = pd.DataFrame(
        {
            "income": rng.normal(50.0, 12.0, n),
            "age": rng.integers(18, 80, n).astype("int64"),
            "owner": rng.integers(0, 2, n).astype(bool),
            "region": rng.choice(["north", "south", "east"], n),
        }
    )
    target = ((frame.income + frame.age / 3 + frame.owner * 5) > 68).astype(int)
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["region"]), remainder="passthrough"
        ),
        LogisticRegression(max_iter=500),
    ).fit(frame, target)
    signature = infer_signature(frame, model.predict(frame))
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.sklearn.log_model(
            model, name="model", signature=signature, pip_requirements=["scikit-learn"]
        )
    version = mlflow.register_model(info.model_uri, "credit").version
    tag = import_model(
        f"models:/credit/{version}", model="credit", version=str(version), fingerprint_digest="x"
    )
    return tag, frame.to_dict(orient="records"), signature.to_dict()


def start_governed(root: Path, tag: str, signature: dict, port: int):
    from mlgov.deploy.manifest import ServingManifest, features_from_signature, write_manifest
    from mlgov.deploy.server import start_server
    from mlgov.deploy.status import write_status

    folder = root / "governed"
    manifest = ServingManifest(
        target="credit",
        model="credit",
        version="1",
        bento_model_tag=tag,
        model_uri="models:/credit/1",
        fingerprint_digest="x",
        features=features_from_signature(signature),
        status_file=str(folder / "status.json"),
        prediction_log_dir=str(folder / "predictions"),
    )
    path = write_manifest(folder / "manifest.json", manifest)
    write_status(manifest.status_file, "serving", version="1", bento_model_tag=tag)
    return start_server(
        path, port=port, log_file=folder / "server.log", bentoml_home=root / "bentoml"
    )


def start_plain(root: Path, tag: str, port: int) -> subprocess.Popen[bytes]:
    folder = root / "plain"
    folder.mkdir()
    env = {
        **os.environ,
        "BENTOML_HOME": str(root / "bentoml"),
        "PLAIN_MODEL_TAG": tag,
        "PLAIN_MONITOR_DIR": str(folder / "monitoring"),
    }
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bentoml",
            "serve",
            "plain_service:PlainService",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--working-dir",
            str(HERE),
        ],
        cwd=HERE,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def run_load(port: int, body: bytes, requests: int, concurrency: int, max_seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(requests))
    deadline = time.monotonic() + max_seconds

    def worker() -> None:
        nonlocal errors
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json"}
        mine: list[float] = []
        bad = 0
        while time.monotonic() < deadline:
            with lock:
                if next(counter, None) is None:
                    break
            started = time.perf_counter()
            conn.request("POST", "/predict", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                bad += 1
        conn.close()
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "n": len(latencies),
        "errors": errors,
    }


def wait(port: int, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"server on port {port} not ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500, help="requests per 1-record run")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-seconds", type=float, default=30.0, help="cap per run")
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args()

    from mlgov.deploy.server import find_free_port

    with tempfile.TemporaryDirectory(prefix="mlgov-bench-") as tmp:
        root = Path(tmp)
        tag, rows, signature = train_and_import(root)
        governed_port, plain_port = find_free_port(), find_free_port()
        governed = start_governed(root, tag, signature, governed_port)
        plain = start_plain(root, tag, plain_port)
        try:
            wait(governed_port)
            wait(plain_port)
            scenarios = {
                "1 record": (json.dumps({"records": rows[:1]}).encode(), args.requests),
                "100 records": (json.dumps({"records": rows[:100]}).encode(), args.requests // 5),
            }
            best: dict[tuple[str, str], dict] = {}
            for _round in range(args.rounds):
                for scenario, (body, count) in scenarios.items():
                    for name, port in (
                        ("plain BentoML", plain_port),
                        ("mlgov governed", governed_port),
                    ):
                        run_load(port, body, 50, 2, 10)  # warm-up
                        result = run_load(port, body, count, args.concurrency, args.max_seconds)
                        key = (scenario, name)
                        if key not in best or result["rps"] > best[key]["rps"]:
                            best[key] = result
        finally:
            governed.stop()
            os.killpg(plain.pid, 15)
            plain.wait(timeout=30)

    lines = [
        "| request | server | req/s | p50 ms | p99 ms | requests | errors | governed/plain |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario in scenarios:
        plain_rps = best[(scenario, "plain BentoML")]["rps"]
        for name in ("plain BentoML", "mlgov governed"):
            r = best[(scenario, name)]
            ratio = f"{r['rps'] / plain_rps:.2f}x" if name == "mlgov governed" else ""
            lines.append(
                f"| {scenario} | {name} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} "
                f"| {r['n']} | {r['errors']} | {ratio} |"
            )
    table = "\n".join(lines)
    note = (
        f"\n\n{os.cpu_count()} CPUs, 1 worker each, {args.concurrency} client threads "
        f"(keep-alive, loopback), best of {args.rounds} alternating rounds."
    )
    print(table + note)
    if args.out:
        args.out.write_text(table + note + "\n")


if __name__ == "__main__":
    main()
