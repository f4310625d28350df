"""Crash drill: SIGKILL promote, approve, deploy, retire, rollback and undeploy at every named
crash point and at random moments, run `reconcile`, and check that nothing is half-applied.

    python benchmarks/crash.py [--per-transition 200] [--seed 1] [--home DIR] [--format json]

Real parts: the embedded governance database (SQLite), a real MLflow store (SQLite plus local
artifacts) with a logged sklearn model, and mlgov's real serving status files and manifests.
The one shortcut: the deployer writes the version's serving manifest without importing the
model into BentoML and building a Bento, because that happens before a deploy's operation
begins and is no part of the crash protocol (tests/deploy exercise it for real).

Each trial is a forked child (the parent imported everything but never opens a store), killed
either by itself at a named point (faults.arm(point, kill=True) in the child) or by the parent
after a random delay within the move's measured duration. Every transition acts on its own
model, so one reconcile at the end settles all the crashed operations at once. Then:

- no operation is left pending, and every move is whole: the version is in the stage it came
  from with no trace of the move, or in the target stage with exactly one stage change and
  one audit event (for approve: one decision and one event, or none; for rollback and
  undeploy: the target's active deployment moved with one event, or did not move with none);
- the audit chain verifies;
- MLflow's tags and aliases equal governance state (reconcile finds nothing);
- no target's status file says "serving" without an active deployment row of that version.

tests/integration/test_crash_recovery.py runs the same drill with 50 kills per transition.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("promote", "approve", "deploy", "retire", "rollback", "undeploy")
ADMIN = "admin"
TEAM = {"ds": "data_scientist", "ro": "risk_officer", "eng": "ml_engineer", "aud": "auditor"}
CARD = {
    "intended_use": "crash drill",
    "limitations": "none: a drill",
    "training_data": "iris",
    "evaluation_data": "iris",
    "owner_contact": "ds@bank.example",
}
# Settings that would point a child away from the drill's home (a test run may have set them).
FOREIGN_ENV = (
    "MLGOV_DB_URL",
    "MLGOV_USER",
    "MLGOV_POLICY",
    "MLGOV_SIGNING_KEY",
    "MLGOV_CHECKPOINT_SINKS",
    "MLGOV_VERIFY_KEY",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "BENTOML_HOME",
)
# Where each transition starts and where it goes.
FROM_TO = {
    "promote": ("develop", "train"),
    "approve": ("train", "train"),
    "deploy": ("train", "deploy"),
    "retire": ("deploy", "retire"),
    # Moves of a target: the stage stays; what changes is the target's active deployment.
    "rollback": ("deploy", "deploy"),
    "undeploy": ("deploy", "deploy"),
}


# --- the child side ---------------------------------------------------------------------------


def _drill_deployer(root: Path) -> Any:
    from mlgov.adapters import BentoDeployerPort
    from mlgov.deploy.deployer import target_paths
    from mlgov.deploy.manifest import ServingManifest, features_from_signature, write_manifest
    from mlgov.governance.ports import PreparedDeployment

    class DrillDeployer(BentoDeployerPort):
        """The real status files and manifests; no BentoML import or build (see above)."""

        def prepare(self, *, target, model, version, model_uri, fingerprint_digest, features,
                    metadata):  # fmt: skip
            paths = target_paths(self.serving_root, target)
            tag = f"{model}:v{version}"
            manifest = ServingManifest(
                target=target,
                model=model,
                version=version,
                bento_model_tag=tag,
                bento_tag=None,
                model_uri=model_uri,
                fingerprint_digest=fingerprint_digest,
                features=features_from_signature({"inputs": list(features)}),
                status_file=str(paths.status),
                prediction_log_dir=str(paths.predictions),
            )
            path = write_manifest(paths.version_manifest(version), manifest)
            return PreparedDeployment(
                target=target, bento_model_tag=tag, bento_tag=None, manifest_path=path
            )

        def discard(self, prepared: PreparedDeployment) -> None:
            prepared.manifest_path.unlink(missing_ok=True)

    return DrillDeployer(root)


def _open(home: Path) -> Any:
    from mlgov.app import open_governance
    from mlgov.config import load_settings

    settings = load_settings(home=str(home), user=ADMIN)
    gov = open_governance(settings)
    gov.ports["deployer"] = _drill_deployer(settings.targets_dir)
    return gov


def _model_name(kind: str, i: int) -> str:
    return f"drill-{kind}-{i:03d}"


def _setup(home: Path, kinds: tuple[str, ...], count: int) -> dict[str, Any]:
    """Init the home, log one model, and bring each trial's version to its start stage."""
    import mlflow
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from mlgov.app import open_governance
    from mlgov.config import load_settings
    from mlgov.governance import approvals, cards, deployments
    from mlgov.governance.references import record_reference

    settings = load_settings(home=str(home), user=ADMIN)
    gov = open_governance(settings, initializing=True)
    gov.init(ADMIN)
    gov.ports["deployer"] = _drill_deployer(settings.targets_dir)
    for name, role in TEAM.items():
        gov.add_user(ADMIN, name, [role])
    x, y = load_iris(return_X_y=True, as_frame=True)
    x.columns = [c.replace(" (cm)", "").replace(" ", "_") for c in x.columns]
    reference = home / "reference.csv"
    x.to_csv(reference, index=False)
    # A test run may have pointed MLflow's fluent API elsewhere before this child forked.
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    mlflow.set_experiment("crash-drill")
    with mlflow.start_run() as run:
        fitted = LogisticRegression(max_iter=300).fit(x, y)
        signature = mlflow.models.infer_signature(x, fitted.predict(x))
        mlflow.sklearn.log_model(fitted, name="model", signature=signature)
    for kind in kinds:
        for i in range(count):
            model = _model_name(kind, i)
            run_id = run.info.run_id
            gov.register("ds", model, risk_tier="low", purpose="crash drill", run_id=run_id)
            cards.set_card(gov, "ds", model, "1", CARD)
            record_reference(gov, "ds", model, "1", reference)
            if kind == "promote":
                continue
            gov.promote("ds", model, "1", "train")
            approvals.request_approval(gov, "ds", model, "1")
            if kind == "approve":
                continue
            approvals.decide(gov, "ro", model, "1", approve=True)
            if kind == "deploy":
                continue
            deployments.deploy(gov, "eng", model, "1", target=model)
            if kind != "rollback":
                continue
            gov.register("ds", model, risk_tier="low", purpose="crash drill", run_id=run_id)
            cards.set_card(gov, "ds", model, "2", CARD)
            record_reference(gov, "ds", model, "2", reference)
            gov.promote("ds", model, "2", "train")
            approvals.request_approval(gov, "ds", model, "2")
            approvals.decide(gov, "ro", model, "2", approve=True)
            deployments.deploy(gov, "eng", model, "2", target=model)
    return {"run_id": run.info.run_id}


def _move(home: Path, kind: str, model: str) -> dict[str, Any]:
    from mlgov.governance import approvals, deployments

    gov = _open(home)
    _ready()
    if kind == "promote":
        gov.promote("ds", model, "1", "train", reason="drill")
    elif kind == "approve":
        approvals.decide(gov, "ro", model, "1", approve=True, comment="drill")
    elif kind == "deploy":
        deployments.deploy(gov, "eng", model, "1", target=model)
    elif kind == "retire":
        gov.retire("ro", model, "1", reason="drill")
    elif kind == "rollback":
        deployments.rollback(gov, "eng", model)
    else:
        deployments.undeploy(gov, "eng", model, reason="drill")
    return {}


def _reconcile(home: Path) -> dict[str, Any]:
    from mlgov.governance.reconcile import reconcile

    return reconcile(_open(home), ADMIN, fix=False, check_artifacts=False)


def _inspect(home: Path, kinds: tuple[str, ...], count: int) -> dict[str, Any]:
    """Every invariant the drill promises, as counts of violations."""
    from sqlalchemy import func, select

    from mlgov.deploy.deployer import target_paths
    from mlgov.deploy.status import read_status_document
    from mlgov.governance.tables import (
        ApprovalDecision,
        ApprovalRequest,
        AuditEvent,
        Deployment,
        ModelVersion,
        Operation,
        StageChange,
    )

    gov = _open(home)
    problems: list[str] = []
    moved: Counter[str] = Counter()
    with gov.store.read() as s:
        pending = s.scalar(
            select(func.count()).select_from(Operation).where(Operation.state == "pending")
        )
        if pending:
            problems.append(f"{pending} operation(s) still pending")
        for kind in kinds:
            start, end = FROM_TO[kind]
            for i in range(count):
                model = _model_name(kind, i)
                v = gov.version(s, model, "1")
                subject = f"model:{model}/1"
                if kind == "approve":
                    decisions = s.scalar(
                        select(func.count())
                        .select_from(AuditEvent)
                        .where(
                            AuditEvent.subject == subject,
                            AuditEvent.action == "approval.decide",
                            AuditEvent.actor == "ro",
                        )
                    )
                    rows = s.scalar(
                        select(func.count())
                        .select_from(ApprovalDecision)
                        .join(ApprovalRequest, ApprovalDecision.request_id == ApprovalRequest.id)
                        .where(
                            ApprovalRequest.version_id == v.id,
                            ApprovalDecision.approver == "ro",
                        )
                    )
                    if rows != decisions or rows not in (0, 1):
                        problems.append(f"{model}: {rows} decision row(s), {decisions} event(s)")
                    moved["applied" if rows else "not applied"] += 1
                    continue
                if kind in ("rollback", "undeploy"):
                    action = f"deployment.{kind}"
                    events_n = s.scalar(
                        select(func.count())
                        .select_from(AuditEvent)
                        .where(
                            AuditEvent.action == action, AuditEvent.subject.like(f"model:{model}/%")
                        )
                    )
                    on = s.scalar(
                        select(Deployment).where(
                            Deployment.target == model, Deployment.state == "active"
                        )
                    )
                    serving = None if on is None else s.get(ModelVersion, on.version_id).version
                    done = "1" if kind == "rollback" else None
                    before = "2" if kind == "rollback" else "1"
                    whole = (serving == done and events_n == 1) or (
                        serving == before and events_n == 0
                    )
                    if not whole:
                        problems.append(
                            f"{model}: target serves {serving}, {events_n} {action} event(s)"
                        )
                    moved["applied" if events_n else "not applied"] += 1
                    continue
                changes = s.scalar(
                    select(func.count())
                    .select_from(StageChange)
                    .where(StageChange.version_id == v.id, StageChange.to_stage == end)
                )
                events = [
                    e.payload
                    for e in s.scalars(
                        select(AuditEvent).where(
                            AuditEvent.subject == subject, AuditEvent.action == "stage.change"
                        )
                    )
                    if e.payload.get("to") == end
                ]
                whole = (v.stage == end and changes == 1 and len(events) == 1) or (
                    v.stage == start and changes == 0 and not events
                )
                if not whole:
                    problems.append(
                        f"{model}: stage {v.stage}, {changes} change row(s), "
                        f"{len(events)} event(s) to {end}"
                    )
                moved["applied" if v.stage == end else "not applied"] += 1
        active = {
            d.target: s.get(ModelVersion, d.version_id).version
            for d in s.scalars(select(Deployment).where(Deployment.state == "active"))
        }
    chain = gov.audit_verify("aud")
    if not chain.chain.ok:
        problems.append(f"audit chain broken at seq {chain.first_bad_seq}: {chain.problem}")
    for d in chain.disagreements:  # a crash must never leave a table the trail does not support
        problems.append(f"state disagrees with the audit trail: {d.describe()}")
    serving = 0
    targets_dir = gov.ports["deployer"].serving_root
    for status_file in sorted(Path(targets_dir).glob("*/status.json")):
        target = status_file.parent.name
        doc = read_status_document(status_file) or {}
        if doc.get("state") != "serving":
            continue
        serving += 1
        if active.get(target) != doc.get("version"):
            problems.append(
                f"target {target} serves version {doc.get('version')} but its active "
                f"deployment row is {active.get(target)}"
            )
        manifest = json.loads(target_paths(targets_dir, target).manifest.read_text())
        if manifest.get("version") != doc.get("version"):
            problems.append(f"target {target}: manifest and status name other versions")
    for target in active:
        doc = read_status_document(target_paths(targets_dir, target).status) or {}
        if doc.get("state") not in ("serving", "suspended"):
            problems.append(f"target {target} has an active deployment but is {doc.get('state')}")
    return {
        "problems": problems,
        "moves": dict(moved),
        "serving_targets": serving,
        "audit_events": chain.events,
    }


# --- the parent side --------------------------------------------------------------------------

_READY_FD: int | None = None


def _ready() -> None:
    """Tell the parent the child has opened everything and starts the move now."""
    if _READY_FD is not None:
        os.write(_READY_FD, b"R")


@dataclass
class Outcome:
    killed: bool
    ok: bool
    seconds: float
    result: Any = None
    error: str | None = None


def _in_child(
    fn: Callable[..., Any],
    *args: Any,
    fault: str | None = None,
    kill_after: float | None = None,
    wait_ready: bool = False,
) -> Outcome:
    """Run fn(*args) in a forked child; with `wait_ready`, time it (and kill it `kill_after`
    seconds) from the moment it says it is ready."""
    global _READY_FD
    result_r, result_w = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(result_r)
        os.close(ready_r)
        _READY_FD = ready_w
        code = 0
        try:
            for name in FOREIGN_ENV:  # the drill's home only, whatever the caller pointed at
                os.environ.pop(name, None)
            if fault is not None:  # the child SIGKILLs itself there
                from mlgov.governance import faults

                faults.arm(fault, kill=True)
            payload = {"result": fn(*args)}
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            payload, code = {"error": f"{type(exc).__name__}: {exc}"}, 1
        with os.fdopen(result_w, "w") as out:
            out.write(json.dumps(payload, default=str))
        os._exit(code)
    os.close(result_w)
    os.close(ready_w)
    if wait_ready:
        os.read(ready_r, 1)  # empty when the child ends before it gets ready
    start = time.monotonic()
    if kill_after is not None:
        time.sleep(kill_after)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    # Read before waiting: a result bigger than the pipe's buffer would block the child.
    with os.fdopen(result_r) as inp:
        raw = inp.read()
    _, status = os.waitpid(pid, 0)
    seconds = time.monotonic() - start
    os.close(ready_r)
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    data = json.loads(raw) if raw and not killed else {}
    return Outcome(killed, not killed and "error" not in data, seconds, data.get("result"),
                   data.get("error"))  # fmt: skip


@dataclass
class DrillReport:
    per_transition: int
    kinds: tuple[str, ...]
    kills: Counter = field(default_factory=Counter)
    finished: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    operations: Counter = field(default_factory=Counter)
    findings: int = 0
    inspection: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def problems(self) -> list[str]:
        return (
            self.failures
            + list(self.inspection.get("problems", []))
            + ([f"reconcile left {self.findings} MLflow difference(s)"] if self.findings else [])
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "per_transition": self.per_transition,
            "kills": dict(self.kills),
            "finished_before_kill": dict(self.finished),
            "operations_settled": dict(self.operations),
            "mlflow_differences_after_reconcile": self.findings,
            "moves": self.inspection.get("moves"),
            "serving_targets": self.inspection.get("serving_targets"),
            "audit_events": self.inspection.get("audit_events"),
            "problems": self.problems,
            "seconds": round(self.seconds, 1),
        }

    def summary(self) -> str:
        kills = ", ".join(f"{k} {n}" for k, n in sorted(self.kills.items()))
        ops = ", ".join(f"{k} {n}" for k, n in sorted(self.operations.items())) or "none"
        return (
            f"crash drill: {sum(self.kills.values())} kills ({kills}); "
            f"{sum(self.finished.values())} moves finished before their kill; "
            f"reconcile settled {ops}; {self.findings} MLflow difference(s) after; "
            f"moves {self.inspection.get('moves')}; "
            f"{self.inspection.get('serving_targets')} serving target(s), each with its row; "
            f"{len(self.problems)} problem(s) in {self.seconds:.0f} s"
        )


def run_drill(
    home: Path,
    *,
    per_transition: int,
    seed: int = 1,
    kinds: tuple[str, ...] = KINDS,
    progress: Callable[[str], None] = lambda msg: None,
) -> DrillReport:
    """Crash each transition `per_transition` times (named points twice each, the rest at
    random moments), reconcile once, inspect."""
    # Import what the children use once, here, so each fork starts warm.
    import mlflow  # noqa: F401

    import mlgov.app  # noqa: F401
    import mlgov.governance.reconcile  # noqa: F401
    import mlgov.registry.mlflow_registry  # noqa: F401
    from mlgov.governance.faults import POINTS

    rng = random.Random(seed)
    report = DrillReport(per_transition, kinds)
    started = time.monotonic()
    home.mkdir(parents=True, exist_ok=True)
    # One more version per kind than kills: the first move is timed, not killed.
    setup = _in_child(_setup, home, kinds, per_transition + 1)
    if not setup.ok:
        raise RuntimeError(f"drill setup failed: {setup.error}")
    took = time.monotonic() - started
    progress(f"setup: {len(kinds)} x {per_transition + 1} versions in {took:.0f} s")
    named = [p for p in POINTS for _ in range(2)][:per_transition]
    for kind in kinds:
        timed = _in_child(_move, home, kind, _model_name(kind, 0), wait_ready=True)
        if not timed.ok:
            report.failures.append(f"{kind}: the untimed move failed: {timed.error}")
            continue
        duration = max(timed.seconds, 0.05)
        for i in range(1, per_transition + 1):
            model = _model_name(kind, i)
            if i <= len(named):
                point = named[i - 1]
                outcome = _in_child(_move, home, kind, model, fault=point, wait_ready=True)
                label = point
            else:
                outcome = _in_child(
                    _move,
                    home,
                    kind,
                    model,
                    kill_after=rng.uniform(0, duration * 1.2),
                    wait_ready=True,
                )
                label = "random"
            if outcome.killed:
                report.kills[f"{kind}@{label}"] += 1
            elif outcome.ok:
                report.finished[kind] += 1
            else:
                report.failures.append(f"{model}: {outcome.error}")
        progress(f"{kind}: {per_transition} kills done (a move takes {duration:.2f} s)")
    settled = _in_child(_reconcile, home)
    if not settled.ok:
        report.failures.append(f"reconcile failed: {settled.error}")
    else:
        report.operations.update(o["outcome"] for o in settled.result["operations"])
    again = _in_child(_reconcile, home)  # what remains after settling: must be nothing
    if again.ok:
        report.findings = len(again.result["findings"]) + len(again.result["operations"])
    else:
        report.failures.append(f"second reconcile failed: {again.error}")
    inspected = _in_child(_inspect, home, kinds, per_transition + 1)
    if not inspected.ok:
        report.failures.append(f"inspection failed: {inspected.error}")
    else:
        report.inspection = inspected.result
    report.seconds = time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-transition", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args(argv)
    home = args.home or Path(tempfile.mkdtemp(prefix="mlgov-crash-")) / "home"
    report = run_drill(
        home,
        per_transition=args.per_transition,
        seed=args.seed,
        progress=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.summary())
        for problem in report.problems:
            print(f"  problem: {problem}")
    print(f"home: {home}", file=sys.stderr)
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
