"""Operations: moves that write outside the governance database, made crash-safe.

MLflow tags and aliases and the serving status files cannot share a transaction with the
governance database. So a move that writes them runs as an operation:

1. `begin` commits an intent row (`pending`: id, kind, version, target stage, what it will
   touch) before the first outside write; one pending operation per version at most.
2. The outside writes carry the operation id: the MLflow tag `mlgov.op_id` (written after
   the move's other MLflow writes) and an `op_id` in each status file it rewrites (which also
   keeps the status it replaced, so the write can be undone).
3. `complete` marks the row `completed` in the transaction of the stage change and its audit
   event.

A failure raised in the process undoes the outside writes from governance state and deletes
the intent row, so a failed move leaves the database as it was. A crash (SIGKILL, power loss)
leaves the row pending; `mlgov reconcile` then settles it: if any outside write of the
operation is visible it replays the move (gate checked again, writes are idempotent) and
completes it; if none is, or the replay is refused, it undoes what was written and aborts
the row. Both outcomes are audit events.

Registration is an operation too, begun before its version row exists (version_id empty
until the transaction that records the version links it): the MLflow version it creates
carries the operation id as a tag from its creation, so reconcile finds it and records the
registration (or, if that is refused now, deletes the version mlgov created). Monitoring's
`suspend` writes the targets' status files as an operation; a suspension a crash left
unrecorded is kept and recorded by reconcile (the kill switch fails closed).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mlgov.governance.clock import as_utc, isoformat, parse_time
from mlgov.governance.data_grade import parse_data_grade
from mlgov.governance.errors import BadInput, Conflict, MlgovError, NotFound
from mlgov.governance.mirror import mirror_version
from mlgov.governance.ports import PreparedDeployment
from mlgov.governance.roles import Action
from mlgov.governance.tables import ModelVersion, Operation

if TYPE_CHECKING:
    from mlgov.governance.service import Governance

PENDING, COMPLETED, ABORTED = "pending", "completed", "aborted"
REGISTER, SUSPEND = "register", "suspend"
OP_TAG = "mlgov.op_id"
# How long a move waits for another live process's operation on the same version to finish.
WAIT_SECONDS = 30.0
# The node an operation records as its holder. Containers may share a hostname, so it can be
# named per process (MLGOV_NODE_NAME); two processes of one node must see each other's pids.
NODE = os.environ.get("MLGOV_NODE_NAME", "").strip()[:100] or socket.gethostname()
# An operation of another node is live until its lease ends: no pid can be checked there.
# Longer than any move (a deploy's build included); reconcile settles it after that.
LEASE = timedelta(minutes=30)
# Operations a thread of this process is moving right now. A server worker runs many requests
# at once in one process, so "begun by this pid" does not mean "a failed leftover of ours":
# only an operation of this pid that no thread is moving is one.
_IN_FLIGHT: set[str] = set()
_IN_FLIGHT_LOCK = threading.Lock()


@dataclass
class OperationRun:
    """The operation a running move belongs to, as that move sees it."""

    id: str
    resumed: bool = False  # reconcile is replaying it
    side_effects_started: bool = False
    recovered_by: str | None = None

    @property
    def audit_fields(self) -> dict[str, Any]:
        """What the completing audit event adds when reconcile replayed the move."""
        return {"op_id": self.id, "recovered_by": self.recovered_by} if self.resumed else {}


def _moving_here(op_id: str) -> bool:
    with _IN_FLIGHT_LOCK:
        return op_id in _IN_FLIGHT


def _process_alive(
    detail: dict[str, Any], op_id: str | None = None, *, now: datetime | None = None
) -> bool | None:
    """Whether the process that began an operation still runs (None: cannot tell).

    On this node, its pid says: a zombie (killed, not yet reaped by its parent; never reaped
    in a container without an init) is dead, and so is a live process that took over a reused
    pid: its start time differs from the one recorded when the operation began. On another
    node (a second server on the same database), the operation's lease says: live until it
    ends. Rows from before leases (no `lease_until`) cannot be told.
    """
    if detail.get("host") != NODE:
        return _lease_running(detail, now)
    if not isinstance(detail.get("pid"), int):
        return None
    pid = detail["pid"]
    if pid == os.getpid():  # alive only while one of this process's threads moves it
        return op_id is not None and _moving_here(op_id)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by another user: /proc still tells its state
    stat = _proc_stat(pid)
    if stat is None:  # no /proc (not Linux), or it ended just now: os.kill's answer stands
        return True
    state, started = stat
    if state in _DEAD_STATES:
        return False
    recorded = detail.get("pid_start")
    return not (isinstance(recorded, int) and recorded != started)


def _lease_running(detail: dict[str, Any], now: datetime | None) -> bool | None:
    until = detail.get("lease_until")
    if not isinstance(until, str) or now is None:
        return None
    try:
        return as_utc(now) < parse_time(until)
    except BadInput:  # a row edited by hand: it cannot be told
        return None


def pid_alive(pid: int) -> bool:
    """Whether process `pid` of this host runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    stat = _proc_stat(pid)
    return stat is None or stat[0] not in _DEAD_STATES


# Z: zombie (exited, not reaped); X: dead (being torn down).
_DEAD_STATES = frozenset({"Z", "X"})


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """State letter and start time (clock ticks since boot) from /proc/PID/stat."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "PID (COMM) STATE ..." where COMM may hold spaces and parentheses: split at the last ')'.
    fields = raw[raw.rfind(")") + 2 :].split()
    try:
        return fields[0], int(fields[19])  # fields 3 and 22 of proc(5)
    except (IndexError, ValueError):
        return None


def _own_identity(now: datetime) -> dict[str, Any]:
    """What an operation records of the process that begins it, and when its lease ends."""
    identity: dict[str, Any] = {
        "host": NODE,
        "pid": os.getpid(),
        "lease_until": isoformat(now + LEASE),
    }
    stat = _proc_stat(os.getpid())
    if stat is not None:
        identity["pid_start"] = stat[1]
    return identity


def _busy(op: Operation, label: str) -> Conflict:
    return Conflict(
        f"operation {op.id} ({op.kind} by {op.actor}, started {isoformat(op.started_at)}) "
        f"is still pending on {label}",
        hint="if the command that started it is no longer running, run `mlgov reconcile` "
        "(as an admin) to finish or undo it",
    )


def begin(
    gov: Governance,
    model: str,
    version: str,
    *,
    kind: str,
    actor: str,
    to_stage: str | None,
    detail: dict[str, Any],
    precheck: Callable[[Session, ModelVersion], None],
    targets: Callable[[Session, ModelVersion], Iterable[str]] = lambda s, v: (),
    resume: str | None = None,
    recovered_by: str | None = None,
) -> OperationRun:
    """Commit the intent row (or adopt pending `resume`), after `precheck` passes.

    Waits while another live process (or another thread of this one) holds a pending
    operation on the version, then checks again: the other move may have made this one
    illegal. The caller discards the id from the in-flight set when the move ends.
    """
    options: dict[str, Any] = {
        "kind": kind,
        "actor": actor,
        "to_stage": to_stage,
        "detail": detail,
        "precheck": precheck,
        "targets": targets,
        "resume": resume,
        "recovered_by": recovered_by,
    }
    deadline = time.monotonic() + gov.operation_wait_seconds
    # The id is marked as moving here before its row can be seen by another thread.
    op_id = resume or uuid.uuid4().hex
    with _IN_FLIGHT_LOCK:
        _IN_FLIGHT.add(op_id)
    try:
        return _begin(gov, model, version, op_id, deadline, **options)
    except BaseException:
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT.discard(op_id)
        raise


def _begin(
    gov: Governance,
    model: str,
    version: str,
    op_id: str,
    deadline: float,
    *,
    kind: str,
    actor: str,
    to_stage: str | None,
    detail: dict[str, Any],
    precheck: Callable[[Session, ModelVersion], None],
    targets: Callable[[Session, ModelVersion], Iterable[str]],
    resume: str | None,
    recovered_by: str | None,
) -> OperationRun:
    while True:
        busy: Operation | None = None
        if resume is None and _other_live_operation(gov, model, version):
            # Waiting on a read: a waiter's write transaction would only slow the winner.
            if time.monotonic() <= deadline:
                time.sleep(0.05)
                continue
        try:
            with gov.store.transaction() as s:
                v = gov.version(s, model, version, lock=True)
                precheck(s, v)
                busy = s.scalar(
                    select(Operation).where(
                        Operation.version_id == v.id, Operation.state == PENDING
                    )
                )
                if resume is not None:
                    if busy is None or busy.id != resume:
                        raise Conflict(f"operation {resume} is no longer pending on {v.label}")
                    return OperationRun(busy.id, resumed=True, recovered_by=recovered_by)
                if busy is None:
                    op = Operation(
                        id=op_id,
                        kind=kind,
                        version_id=v.id,
                        subject=f"model:{v.label}",
                        actor=actor,
                        from_stage=v.stage,
                        to_stage=to_stage,
                        detail=detail
                        | {"targets": sorted(set(targets(s, v)))}
                        | _own_identity(gov.now()),
                        state=PENDING,
                        started_at=gov.now(),
                    )
                    s.add(op)
                    s.flush()
                    return OperationRun(op.id)
                label = v.label
        except IntegrityError:  # another process inserted first: look again
            continue
        if _ours(busy):
            # A move of this process failed and could not undo its writes then: try now.
            if settle_failure(gov, OperationRun(busy.id, side_effects_started=True)):
                continue
        alive = _process_alive(busy.detail, busy.id, now=gov.now())
        if alive is False or time.monotonic() > deadline:
            raise _busy(busy, label)
        time.sleep(0.05)


@contextmanager
def running(gov: Governance, model: str, version: str, **intent: Any) -> Iterator[OperationRun]:
    """`begin` (same arguments), then the move in the block; if it fails, its outside
    writes are undone and the intent forgotten (settle_failure)."""
    run = begin(gov, model, version, **intent)
    try:
        yield run
    except BaseException:
        settle_failure(gov, run)
        raise
    finally:
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT.discard(run.id)


def begin_registration(
    gov: Governance, actor: str, model: str, *, detail: dict[str, Any]
) -> OperationRun:
    """Commit the intent of a registration before MLflow is asked to create the version."""
    op_id = uuid.uuid4().hex
    with _IN_FLIGHT_LOCK:
        _IN_FLIGHT.add(op_id)
    try:
        with gov.store.transaction() as s:
            gov.authorize(s, actor, Action.REGISTER)
            s.add(
                Operation(
                    id=op_id,
                    kind=REGISTER,
                    version_id=None,
                    subject=f"model:{model}",
                    actor=actor,
                    from_stage=None,
                    to_stage="develop",
                    detail=detail | _own_identity(gov.now()),
                    state=PENDING,
                    started_at=gov.now(),
                )
            )
    except BaseException:
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT.discard(op_id)
        raise
    return OperationRun(op_id)


def link_registration(
    s: Session, run: OperationRun, v: ModelVersion, *, audit_seq: int, now: datetime
) -> None:
    """In the registration's transaction: the operation names its version and is done."""
    op = s.get(Operation, run.id)
    assert op is not None  # begin_registration committed it; only this process deletes it
    op.version_id, op.subject = v.id, f"model:{v.label}"
    complete(s, run, audit_seq=audit_seq, now=now)


def forget(gov: Governance, run: OperationRun) -> None:
    """A move failed in this process with nothing left outside: delete its intent row."""
    if run.resumed:
        return
    with gov.store.transaction() as s:
        s.execute(delete(Operation).where(Operation.id == run.id, Operation.state == PENDING))


def done_moving(run: OperationRun) -> None:
    with _IN_FLIGHT_LOCK:
        _IN_FLIGHT.discard(run.id)


def _other_live_operation(gov: Governance, model: str, version: str) -> bool:
    with gov.store.read() as s:
        op = s.scalar(
            select(Operation)
            .join(ModelVersion, Operation.version_id == ModelVersion.id)
            .where(
                Operation.state == PENDING,
                ModelVersion.version == str(version),
                ModelVersion.model.has(name=model),
            )
        )
        if op is None or _ours(op):
            return False
        return _process_alive(op.detail, op.id, now=gov.now()) is not False


def _ours(op: Operation) -> bool:
    """A leftover of this process: begun here, and no thread of it is moving it now."""
    here = op.detail.get("host") == NODE and op.detail.get("pid") == os.getpid()
    return here and not _moving_here(op.id)


def complete(s: Session, run: OperationRun, *, audit_seq: int, now: datetime) -> None:
    """In the move's transaction: the operation is done with its stage change and event."""
    op = s.get(Operation, run.id)
    assert op is not None  # begin committed it; only its own process deletes it, after the move
    op.state, op.ended_at, op.audit_seq = COMPLETED, now, audit_seq
    op.ended_by = run.recovered_by or op.actor
    op.outcome = "completed by reconcile" if run.resumed else "completed"


def mark_written(gov: Governance, run: OperationRun, v: ModelVersion) -> None:
    """Tag the version in MLflow with the operation: its last MLflow write."""
    registry = gov.ports.get("registry")
    if registry is None:
        return
    try:
        registry.mirror(v.model.name, v.version, tags={OP_TAG: run.id})
    except NotFound:  # a version deleted in MLflow (only retire tolerates it)
        pass


# --- undoing and settling ----------------------------------------------------------------


def revert(gov: Governance, op_id: str) -> list[str]:
    """Make MLflow and the status files show governance state again; returns what it did."""
    done: list[str] = []
    with gov.store.read() as s:
        op = s.get(Operation, op_id)
        # Called on an operation of this process (settle_failure) or one reconcile found
        # pending with its process gone: only the live process deletes its row.
        assert op is not None
        v = s.get(ModelVersion, op.version_id)
        assert v is not None  # version_id is a foreign key
        registry = gov.ports.get("registry")
        if registry is not None:
            try:
                mirror_version(s, registry, v)
                current = registry.state(v.model.name).versions.get(v.version)
                if current is not None and current.tags.get(OP_TAG) == op.id:
                    # Back to the last completed operation's mark (the registration's at least).
                    previous = s.scalar(
                        select(Operation.id)
                        .where(Operation.version_id == v.id, Operation.state == COMPLETED)
                        .order_by(Operation.ended_at.desc())
                        .limit(1)
                    )
                    registry.mirror(v.model.name, v.version, tags={OP_TAG: previous})
                done.append("MLflow tags and aliases restored from governance")
            except NotFound:
                pass
        deployer = gov.ports.get("deployer")
        for target in op.detail.get("targets", []):
            if deployer is not None and deployer.restore_status(target, op.id):
                done.append(f"status of target '{target}' restored")
    return done


def settle_failure(gov: Governance, run: OperationRun) -> bool:
    """A move failed in this process: undo its outside writes and forget the intent.

    If undoing fails too (the outside system is down), the row stays pending for reconcile.
    A replay's failure is left to reconcile, which records the abort. True when settled.
    """
    if run.side_effects_started:
        try:
            revert(gov, run.id)
        except Exception as exc:  # noqa: BLE001 - the move's own error is what the user sees
            gov.warnings.append(
                f"operation {run.id} could not be undone ({exc}); it stays pending: "
                "run `mlgov reconcile` once the outside system answers"
            )
            return False
    if not run.resumed:
        with gov.store.transaction() as s:
            s.execute(delete(Operation).where(Operation.id == run.id, Operation.state == PENDING))
    return True


def observe(gov: Governance, op: Operation, v: ModelVersion) -> list[str]:
    """The outside writes of `op` that are visible now."""
    seen: list[str] = []
    registry = gov.ports.get("registry")
    if registry is not None:
        current = registry.state(v.model.name).versions.get(v.version)
        if current is not None and current.tags.get(OP_TAG) == op.id:
            seen.append(f"MLflow tag {OP_TAG}")
    deployer = gov.ports.get("deployer")
    for target in op.detail.get("targets", []):
        if deployer is not None and deployer.status_operation(target) == op.id:
            seen.append(f"status file of target '{target}'")
    return seen


def _replay(gov: Governance, actor: str, op: Operation, model: str, version: str) -> None:
    detail = op.detail
    if op.kind == SUSPEND:
        _record_suspension(gov, actor, op.id)
        return
    if op.kind == "approve":
        from mlgov.governance.approvals import decide

        decide(
            gov,
            op.actor,
            model,
            version,
            approve=bool(detail.get("approve")),
            comment=detail.get("comment"),
            resume=op.id,
            recovered_by=actor,
        )
        return
    if op.kind in ("rollback", "undeploy"):
        from mlgov.governance import deployments

        if op.kind == "rollback":
            deployments.rollback(gov, op.actor, detail["target"], resume=op.id, recovered_by=actor)
        else:
            deployments.undeploy(
                gov,
                op.actor,
                detail["target"],
                reason=detail.get("reason"),
                resume=op.id,
                recovered_by=actor,
            )
        return
    options: dict[str, Any] = {"force": bool(detail.get("force"))}
    if detail.get("prepared"):
        options["prepared"] = PreparedDeployment.from_record(detail["prepared"])
    assert op.to_stage is not None  # every kind but approve, rollback, undeploy has one
    gov.promote(
        op.actor,
        model,
        version,
        op.to_stage,
        reason=detail.get("reason"),
        options=options,
        resume=op.id,
        recovered_by=actor,
    )


def _abort(gov: Governance, actor: str, op_id: str, why: str, seen: list[str]) -> dict[str, Any]:
    undone = revert(gov, op_id)
    with gov.store.transaction() as s:
        op = s.get(Operation, op_id, with_for_update=True)
        assert op is not None  # its process is gone: nothing deletes a pending row then
        if op.state != PENDING:
            return {"id": op.id, "outcome": op.state}
        op.state, op.ended_at, op.ended_by = ABORTED, gov.now(), actor
        op.outcome = why
        event = gov.audit(
            s,
            actor,
            "operation.abort",
            op.subject,
            {
                "op_id": op.id,
                "kind": op.kind,
                "by": op.actor,
                "from": op.from_stage,
                "to": op.to_stage,
                "seen": seen,
                "undone": undone,
                "reason": why,
            },
        )
        op.audit_seq = event.seq
        prepared = op.detail.get("prepared")
    deployer = gov.ports.get("deployer")
    if prepared and deployer is not None:
        # What the deploy built is garbage now; nothing can serve it (no deployment row).
        try:
            deployer.discard(PreparedDeployment.from_record(prepared))
        except Exception:  # noqa: BLE001, S110 - leftover build files harm nothing
            pass
    return {"id": op_id, "outcome": ABORTED, "reason": why}


def _why_running(op: Operation) -> str:
    if op.detail.get("host") == NODE:
        return "its process still runs"
    return (
        f"held by node {op.detail.get('host')!r} until {op.detail.get('lease_until')} "
        "(its lease); run reconcile again after that, or on that node"
    )


def settle_pending(
    gov: Governance, actor: str, *, progress: Callable[[str], None] | None = None
) -> list[dict[str, Any]]:
    """Finish or undo every pending operation whose process is gone; each outcome audited."""
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.RECONCILE)
        pending = list(
            s.scalars(
                select(Operation).where(Operation.state == PENDING).order_by(Operation.started_at)
            )
        )
    results: list[dict[str, Any]] = []
    for n, op in enumerate(pending, 1):
        base = {"id": op.id, "kind": op.kind, "subject": op.subject, "by": op.actor}
        if progress is not None:
            progress(f"settling operation {n}/{len(pending)}: {op.kind} of {op.subject}")
        if _process_alive(op.detail, op.id, now=gov.now()):
            results.append(base | {"outcome": "running", "reason": _why_running(op)})
            continue
        if op.version_id is None:
            results.append(base | _settle_registration(gov, actor, op))
            continue
        with gov.store.read() as s:
            v = s.get(ModelVersion, op.version_id)
            assert v is not None  # version_id is a foreign key
            model, version = v.model.name, v.version
            seen = observe(gov, op, v)
        if not seen:
            results.append(base | _abort(gov, actor, op.id, "no outside write was made", seen))
            continue
        try:
            _replay(gov, actor, op, model, version)
        except MlgovError as exc:
            why = f"replay refused: {exc}"
            results.append(base | _abort(gov, actor, op.id, why, seen))
            continue
        results.append(base | {"outcome": COMPLETED, "seen": seen})
    return results


# --- registration and suspension ----------------------------------------------------------


def _created_by(registry: Any, model: str, op_id: str) -> str | None:
    """The MLflow version of `model` that the registration `op_id` created, if any."""
    try:
        state = registry.state(model)
    except NotFound:
        return None
    for version, found in state.versions.items():
        if found.tags.get(OP_TAG) == op_id:
            return str(version)
    return None


def _settle_registration(gov: Governance, actor: str, op: Operation) -> dict[str, Any]:
    """A registration whose process is gone: record the version MLflow created for it, or,
    when none was created or recording it is refused now, undo and abort."""
    detail = op.detail
    model = str(detail.get("model") or op.subject.removeprefix("model:"))
    registry = gov.ports.get("registry")
    version = _created_by(registry, model, op.id) if registry is not None else None
    if version is None:
        return _abort_registration(gov, actor, op.id, "no outside write was made", [], None)
    seen = [f"MLflow version {model}/{version} tagged {OP_TAG}"]
    assert registry is not None  # a version was found through it
    try:
        reg = registry.register(model, model_uri=f"models:/{model}/{version}")
        # Adopted by the replay, but this operation created it (its tag says so).
        reg = replace(reg, created=True)
        grade = detail.get("data_grade") or {}
        gov.record_registration(
            op.actor,
            reg,
            risk_tier=str(detail.get("risk_tier")),
            purpose=str(detail.get("purpose") or ""),
            owner=str(detail.get("owner") or op.actor),
            reinstate=detail.get("reinstate"),
            operation=OperationRun(op.id, resumed=True, recovered_by=actor),
            # Parsed as the command line's was: a grade edited in the row aborts the replay.
            data_grade=parse_data_grade(
                grade.get("grade"), grade.get("sensitive"), option="the recorded data grade"
            ),
        )
    except MlgovError as exc:
        return _abort_registration(gov, actor, op.id, f"replay refused: {exc}", seen, version)
    return {"outcome": COMPLETED, "seen": seen}


def _abort_registration(
    gov: Governance, actor: str, op_id: str, why: str, seen: list[str], version: str | None
) -> dict[str, Any]:
    undone: list[str] = []
    with gov.store.read() as s:
        op = s.get(Operation, op_id)
        assert op is not None  # its process is gone: nothing deletes a pending row then
        model = str(op.detail.get("model") or "")
    registry = gov.ports.get("registry")
    if version is not None and registry is not None:
        registry.discard(model, version)  # created by this operation (mlgov.created)
        undone.append(f"MLflow version {model}/{version} deleted")
    with gov.store.transaction() as s:
        op = s.get(Operation, op_id, with_for_update=True)
        assert op is not None
        if op.state != PENDING:
            return {"id": op.id, "outcome": op.state}
        op.state, op.ended_at, op.ended_by, op.outcome = ABORTED, gov.now(), actor, why
        event = gov.audit(
            s,
            actor,
            "operation.abort",
            op.subject,
            {
                "op_id": op.id,
                "kind": op.kind,
                "by": op.actor,
                "from": None,
                "to": op.to_stage,
                "seen": seen,
                "undone": undone,
                "reason": why,
            },
        )
        op.audit_seq = event.seq
    return {"id": op_id, "outcome": ABORTED, "reason": why}


def _record_suspension(gov: Governance, actor: str, op_id: str) -> None:
    """A suspension that reached the targets' status but not the database: keep it (a kill
    switch a crash interrupted stays on) and record it, like the suspension would have."""
    from mlgov.governance.deployments import active_on

    deployer = gov.ports.get("deployer")
    with gov.store.transaction() as s:
        op = s.get(Operation, op_id, with_for_update=True)
        assert op is not None and op.version_id is not None  # a suspend names its version
        v = s.get(ModelVersion, op.version_id)
        assert v is not None  # version_id is a foreign key
        last = None
        for target in op.detail.get("targets", []):
            if deployer is None or deployer.status_operation(target) != op.id:
                continue
            d = active_on(s, target)
            last = gov.audit(
                s,
                op.actor,
                "deployment.suspend",
                f"model:{v.label}",
                {
                    "target": target,
                    "deployment_id": d.id if d is not None else None,
                    "reason": op.detail.get("reason"),
                    "op_id": op.id,
                    "recovered_by": actor,
                },
            )
        run = OperationRun(op.id, resumed=True, recovered_by=actor)
        if last is None:
            raise Conflict(f"suspension {op.id} left no status to record")
        complete(s, run, audit_seq=last.seq, now=gov.now())
