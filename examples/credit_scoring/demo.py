"""The whole lifecycle of a credit-scoring model, every role played through the mlgov CLI.

Run: make demo   (or: python examples/credit_scoring/demo.py [--home DIR] [--port N])

On a fresh MLGOV_HOME: the admin creates the team; a data scientist trains two versions
(logistic regression, gradient boosting), registers them as high-risk, completes their
evidence and promotes them to train; approval is requested; risk officers reject v1 and
approve v2; a pre-deployment drift check passes; the ML engineer deploys and serves v2;
applicants are scored over HTTP; monitoring sees the applicant population change (warning,
then breach, with the policy's actions); the auditor verifies the audit chain and exports the
inventory and an evidence pack; the rejected version is retired as stale. The script checks
each outcome and exits non-zero if any is not what governance promises.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the demo's own helper modules (training, shift)

MODEL = "credit-risk"
TEAM = [
    ("dana", "data_scientist"),
    ("sam", "data_scientist"),
    ("rita", "risk_officer"),
    ("omar", "risk_officer"),
    ("eve", "ml_engineer"),
    ("aud", "auditor"),
]


class DemoFailed(Exception):
    pass


class Demo:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.work = home / "demo-files"
        self.step_no = 0
        self.started = time.monotonic()

    # --- narration and the CLI --------------------------------------------------------------

    def step(self, who: str, text: str) -> None:
        self.step_no += 1
        elapsed = time.monotonic() - self.started
        print(f"\n[{self.step_no:2d} | {elapsed:5.1f}s] {who}: {text}", flush=True)

    def mlgov(
        self, user: str, *args: str, expect: int = 0, quiet: bool = False, echo: bool = True
    ) -> str:
        """Run one mlgov command in-process, as `user`; check its exit code."""
        from click.testing import CliRunner

        from mlgov.cli.main import cli

        line = "mlgov --user " + user + " " + " ".join(shlex.quote(a) for a in args)
        if echo:
            print(f"    $ {line}", flush=True)
        result = CliRunner().invoke(cli, ["--user", user, *args], catch_exceptions=False)
        output = result.output.rstrip()
        if output and not quiet:
            print("      " + output.replace("\n", "\n      "), flush=True)
        if result.exit_code != expect:
            raise DemoFailed(f"`{line}` exited {result.exit_code}, expected {expect}")
        return result.stdout

    def json(self, user: str, *args: str, expect: int = 0, echo: bool = True) -> object:
        out = self.mlgov(user, *args, "--format", "json", expect=expect, quiet=True, echo=echo)
        return json.loads(out)

    def check(self, condition: bool, what: str) -> None:
        if not condition:
            raise DemoFailed(f"outcome not as governance promises: {what}")
        print(f"      ok: {what}", flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _records(frame) -> list[dict]:
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def _score(url: str, frame, batch: int = 50) -> int:
    scored = 0
    for start in range(0, len(frame), batch):
        body = json.dumps({"records": _records(frame.iloc[start : start + batch])}).encode()
        request = urllib.request.Request(
            url + "/predict", data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            scored += len(json.loads(response.read())["predictions"])
    return scored


def run(demo: Demo, port: int) -> None:
    from shift import MODERATE, STRONG, shifted
    from training import load_splits, train_and_log

    from mlgov.config import load_settings

    d = demo
    d.work.mkdir(parents=True)
    d.step("admin alice", "initializes mlgov on a fresh embedded home and creates the team")
    d.mlgov("alice", "init")
    for name, role in TEAM:
        d.mlgov("alice", "users", "add", name, "--role", role, quiet=True)
    d.mlgov("alice", "users", "list")
    d.mlgov("alice", "policy", "set", str(HERE / "policy.toml"))
    d.mlgov("alice", "policy", "show", "--tier", "high", quiet=True)

    settings = load_settings(user="dana")
    splits = load_splits()
    reference = d.work / "reference.csv"
    applicants = d.work / "applicants.csv"
    splits.reference.to_csv(reference, index=False)
    splits.applicants.to_csv(applicants, index=False)

    d.step(
        "data scientist dana",
        "trains logistic regression and gradient boosting, logged to "
        "MLflow with AUC/KS/Gini, and registers both as high-risk",
    )
    for version, kind in (("1", "logreg"), ("2", "gbm")):
        run_id = train_and_log(
            kind, splits, tracking_uri=settings.tracking_uri, artifact_root=settings.artifact_root
        )
        d.mlgov(
            "dana",
            "register",
            MODEL,
            "--run-id",
            run_id,
            "--risk-tier",
            "high",
            "--purpose",
            "probability of default for retail loan applications",
        )
        d.mlgov(
            "dana", "models", "card", MODEL, version, "--file", str(HERE / f"card_v{version}.toml")
        )
        d.mlgov("dana", "models", "reference", MODEL, version, str(reference))

    d.step(
        "data scientist dana",
        "promotes both to train: the gate checks card, run, metrics "
        "(policy: roc_auc >= 0.70, ks >= 0.30) and the reference dataset",
    )
    for version in ("1", "2"):
        d.mlgov("dana", "promote", MODEL, version, "--to", "train")
        d.mlgov("dana", "approvals", "request", MODEL, version, "--note", "ready for validation")

    d.step(
        "risk officers",
        "rita rejects v1; dana may not approve (not a risk officer, and never her own "
        "model); rita and omar approve v2 (high tier needs two)",
    )
    d.mlgov(
        "rita",
        "reject",
        MODEL,
        "1",
        "--reason",
        "KS below the bank's appetite for this segment; calibration unstable across age bands",
    )
    d.mlgov("dana", "approve", MODEL, "2", expect=1)
    d.mlgov("rita", "approve", MODEL, "2", "--comment", "validated: stable AUC on holdout")
    d.mlgov(
        "eve", "deploy", MODEL, "2", expect=1
    )  # one approval is not a quorum (nor a drift check)
    d.mlgov("omar", "approve", MODEL, "2", "--comment", "fairness review attached")
    requests = {r["version"]: r for r in d.json("aud", "approvals", "list")}
    d.check(requests["1"]["state"] == "rejected", "v1 rejected, with the reason on record")
    d.check(
        requests["2"]["state"] == "approved" and requests["2"]["approvals_count"] == 2,
        "v2 approved by two distinct risk officers",
    )

    d.step(
        "ML engineer eve",
        "runs the pre-deployment drift check on recent applicants, "
        "deploys v2 and serves it on a local port",
    )
    result = d.json("eve", "monitor", "drift", MODEL, "2", "--current", str(applicants))
    d.check(result["drift_detected"] is False, "no drift between reference and recent applicants")
    d.mlgov("eve", "deploy", MODEL, "2")
    log = d.home / "serve.log"
    env = dict(os.environ, MLGOV_HOME=str(d.home), MLGOV_USER="eve")
    # The installed entry point, run from the demo's home: `python -m` from the repository
    # root would import the bare source folder instead of the installed package.
    mlgov_cmd = shutil.which("mlgov", path=str(Path(sys.executable).parent)) or "mlgov"
    server = subprocess.Popen(
        [mlgov_cmd, "serve", MODEL, "--port", str(port)],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env=env,
        cwd=d.home,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 150
        print(f"    (polling `mlgov models show {MODEL} 2` until the version is in evaluate)")
        while time.monotonic() < deadline:
            if d.json("aud", "models", "show", MODEL, "2", echo=False)["stage"] == "evaluate":
                break
            if server.poll() is not None:
                raise DemoFailed(f"mlgov serve exited; see {log}")
            time.sleep(1)
        print("      " + log.read_text().strip().replace("\n", "\n      "))
        d.check(
            d.json("aud", "models", "show", MODEL, "2")["stage"] == "evaluate",
            "v2 answered ready and a probe prediction: verified into evaluate",
        )
        url = f"http://127.0.0.1:{port}"

        d.step(
            "the bank's systems",
            "score today's applicants over HTTP; monitoring finds them like the reference",
        )
        d.check(
            _score(url, splits.applicants) == len(splits.applicants),
            f"{len(splits.applicants)} applicants scored by {url}/predict",
        )
        run1 = d.json("eve", "monitor", "run")["checked"][0]
        d.check(run1["health"] == "ok", f"health ok (drifted share {run1['drifted_share']:.2f})")

        d.step(
            "the bank's systems",
            "a changed applicant population arrives: older, larger "
            "loans, longer terms (3 of 20 attributes)",
        )
        _score(url, shifted(splits.applicants, MODERATE))
        run2 = d.json("eve", "monitor", "run")["checked"][0]
        d.check(
            run2["health"] == "warning" and run2["actions"] == ["notify"],
            f"health warning (share {run2['drifted_share']:.2f}): the policy notifies",
        )

        d.step("the bank's systems", "the change deepens (12 of 20 attributes)")
        _score(url, shifted(splits.applicants, STRONG))
        run3 = d.json("eve", "monitor", "run")["checked"][0]
        d.check(
            run3["health"] == "breach" and "require_review" in run3["actions"],
            f"health breach (share {run3['drifted_share']:.2f}): notify + review required",
        )
        d.mlgov("eve", "deployments", "list")
        d.mlgov("eve", "monitor", "history", MODEL, "2")
        shown = d.json("aud", "models", "show", MODEL, "2")
        d.check(
            shown["stage"] == "evaluate" and shown["review_required"],
            "the stage did not change silently; a review is now required",
        )
        notes = (d.home / "notifications.jsonl").read_text()
        d.check('"event": "health.breach"' in notes, "risk notified of the breach")
        d.mlgov(
            "rita",
            "monitor",
            "ack",
            MODEL,
            "2",
            "--comment",
            "population shift confirmed with the business; model to be retrained",
        )
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    d.check(server.returncode is not None, "the demo's server stopped")

    d.step(
        "admin alice",
        "retires stale versions: v1 was rejected and never deployed "
        "(the demo uses --days 0: it cannot wait the policy's 90 days)",
    )
    d.mlgov("alice", "retire", "--stale", "--days", "0", "--model", MODEL, "--dry-run")
    d.mlgov("alice", "retire", "--stale", "--days", "0", "--model", MODEL, "--yes")
    d.check(
        d.json("aud", "models", "show", MODEL, "1")["stage"] == "retire",
        "v1 retired as stale; v2 (serving) untouched",
    )

    d.step(
        "auditor aud", "verifies the audit chain, exports it, the inventory and v2's evidence pack"
    )
    chain = d.json("aud", "audit", "verify")
    d.check(chain["ok"], f"audit chain verified: {chain['events']} events")
    exported = d.json("aud", "audit", "export", "--out", str(d.home / "audit.jsonl"))
    d.mlgov("aud", "audit", "verify", "--head", exported["head_hash"])
    (d.home / "inventory.csv").write_text(
        d.mlgov("aud", "inventory", "--format", "csv", quiet=True)
    )
    d.mlgov("aud", "inventory")
    pack = d.home / "evidence" / f"{MODEL}-2"
    pack.parent.mkdir()
    d.mlgov("aud", "report", MODEL, "2", "--out", str(pack))
    d.mlgov("aud", "report", "verify", str(pack))
    d.check((pack / "manifest.json").exists(), "evidence pack written and verified")

    print(f"\nDone in {time.monotonic() - demo.started:.0f} s. Everything is under {d.home}:")
    print(f"  MLflow UI:      mlflow ui --backend-store-uri {settings.tracking_uri}")
    print(f"  drift reports:  {d.home / 'reports'}")
    print(f"  evidence pack:  {pack / 'index.html'}")
    print(f"  audit export:   {d.home / 'audit.jsonl'}  (head {exported['head_hash']})")
    print(f"  inventory:      {d.home / 'inventory.csv'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--home",
        default=".demo/home",
        help="MLGOV_HOME for the demo (emptied first; default .demo/home)",
    )
    parser.add_argument("--port", type=int, default=0, help="port to serve on (default: free)")
    args = parser.parse_args()
    home = Path(args.home).resolve()
    if home.exists():
        shutil.rmtree(home)
    home.parent.mkdir(parents=True, exist_ok=True)
    os.environ["MLGOV_HOME"] = str(home)
    os.environ.pop("MLGOV_DB_URL", None)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ.pop("BENTOML_HOME", None)
    os.environ.pop("MLGOV_POLICY", None)
    demo = Demo(home)
    try:
        run(demo, args.port or _free_port())
    except DemoFailed as exc:
        print(f"\nDEMO FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
