"""A long schemathesis run against the governed service's own OpenAPI document.

    python benchmarks/fuzz_serving.py [--max-examples 20000] [--seed 1] [--out FILE]

Trains the benchmark's small sklearn pipeline (as serving.py does), starts the governed
server on 127.0.0.1 (one worker), runs `st run <url>/docs.json --checks all` with the given
examples per operation (`/predict` takes nearly all of them: the other operations have no
inputs), and reports the cases generated, what the server answered (BentoML's own
/metrics counter, per status), server errors and schemathesis' failures. The CI test
(tests/deploy/test_fuzz_serving.py) runs the same, through run_schemathesis here, with
1,000 examples.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def requests_by_status(url: str) -> collections.Counter[int]:
    """BentoML's own request counter, summed per status over every endpoint."""
    import httpx

    counts: collections.Counter[int] = collections.Counter()
    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        match = re.match(
            r'bentoml_service_request_total\{.*http_response_code="(\d+)".*\} (\S+)', line
        )
        if match:
            counts[int(match.group(1))] += int(float(match.group(2)))
    return counts


def run_schemathesis(
    url: str, workdir: Path, *, max_examples: int, seed: int, timeout: float | None = None
) -> dict:
    """`st run` against url/docs.json with every check; returns its JSON report, with the
    tail of its output under "_output" and its exit code under "_exit_code"."""
    report = workdir / "schemathesis.json"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{url}/docs.json",
        "--url",
        url,
        "--checks",
        "all",
        "--max-examples",
        str(max_examples),
        "--seed",
        str(seed),
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    done = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=timeout, check=False
    )
    if not report.exists():
        raise RuntimeError(
            "schemathesis wrote no report:\n" + done.stdout[-3000:] + done.stderr[-3000:]
        )
    data = json.loads(report.read_text())
    data["_output"] = done.stdout[-6000:]
    data["_exit_code"] = done.returncode
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=20000, help="per operation")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="also write the summary as JSON here")
    args = parser.parse_args()

    from serving import start_governed, train_and_import, wait  # same folder

    from mlgov.deploy.server import find_free_port

    with tempfile.TemporaryDirectory(prefix="mlgov-fuzz-") as tmp:
        root = Path(tmp)
        tag, _, signature = train_and_import(root)
        port = find_free_port()
        server = start_governed(root, tag, signature, port)
        url = f"http://127.0.0.1:{port}"
        try:
            wait(port)
            before = requests_by_status(url)
            started = time.monotonic()
            data = run_schemathesis(url, root, max_examples=args.max_examples, seed=args.seed)
            elapsed = time.monotonic() - started
            made = requests_by_status(url) - before
        finally:
            server.stop()
    summary = {
        "schemathesis": data["schemathesis_version"],
        "seed": args.seed,
        "max_examples": args.max_examples,
        "cases_generated": data["test_cases"]["generated"],
        "operations": data["operations"]["tested"],
        "seconds": round(elapsed, 1),
        "requests_by_status": dict(sorted(made.items())),
        "server_errors": sum(c for s, c in made.items() if s >= 500),
        "failures": data["failures"],
        "errors": len(data["errors"]),
        "exit_code": data["_exit_code"],
    }
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2) + "\n")
    if summary["server_errors"] or summary["failures"] or summary["errors"]:
        print(data["_output"], file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
