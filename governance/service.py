"""The governance service: the one API the CLI (and later a REST API) calls.

Every method takes the acting user's name, checks the permission matrix, and does its state
change and its audit event in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mlgov.governance import (
    audit,
    checkpoints,
    implied_state,
    operations,
    policy_store,
    tier_history,
    validate,
)
from mlgov.governance.clock import Clock, SystemClock
from mlgov.governance.data_grade import DataGrade
from mlgov.governance.errors import (
    BadInput,
    Conflict,
    GateRefused,
    NotFound,
    PermissionDenied,
    StateTampered,
    UnknownUser,
)
from mlgov.governance.faults import fault_point
from mlgov.governance.fingerprints import fingerprint_digest
from mlgov.governance.gates import Gates, MoveContext
from mlgov.governance.lifecycle import (
    SERVING_STAGES,
    Health,
    RiskTier,
    Stage,
    check_move,
    parse_stage,
    parse_tier,
)
from mlgov.governance.policy import Policy
from mlgov.governance.ports import ModelRegistry, Notifier, RegisteredVersion
from mlgov.governance.roles import Action, Role, parse_role, roles_for, validate_user_name
from mlgov.governance.store import Store
from mlgov.governance.tables import (
    AuditEvent,
    Model,
    ModelVersion,
    StageChange,
    User,
    UserRole,
)
from mlgov.governance.views import stage_change_view, user_view, version_detail, version_view

_PROMOTE_ACTION = {
    Stage.TRAIN: Action.PROMOTE_TRAIN,
    Stage.DEPLOY: Action.DEPLOY,
    Stage.EVALUATE: Action.OPERATE,
    Stage.RETIRE: Action.RETIRE,
}


# Who may be accountable for a model: never an auditor, nor someone who only administers.
OWNER_ROLES = (Role.DATA_SCIENTIST.value, Role.ML_ENGINEER.value, Role.RISK_OFFICER.value)


# The most warnings one service keeps untaken (oldest dropped first).
MAX_WARNINGS = 100


class Warnings(list[str]):
    """A list that keeps only the newest MAX_WARNINGS entries."""

    def append(self, message: str) -> None:
        super().append(message)
        if len(self) > MAX_WARNINGS:
            del self[: len(self) - MAX_WARNINGS]


class HashedOnce:
    """A registry whose `fingerprint` answers each version from its first hashing."""

    def __init__(self, registry: Any) -> None:
        self._registry = registry
        self._hashed: dict[tuple[str, str], dict[str, str]] = {}

    def fingerprint(self, model: str, version: str) -> dict[str, str]:
        key = (model, str(version))
        if key not in self._hashed:
            self._hashed[key] = dict(self._registry.fingerprint(model, version))
        return dict(self._hashed[key])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._registry, name)


def version_subject(model: str, version: str) -> str:
    return f"model:{model}/{version}"


class Governance:
    def __init__(
        self,
        store: Store,
        *,
        policy: Policy | None = None,
        clock: Clock | None = None,
        gates: Gates | None = None,
        registry: ModelRegistry | None = None,
        notifier: Notifier | None = None,
        ports: Mapping[str, Any] | None = None,
        home: Path | None = None,
        checkpointer: checkpoints.Checkpointer | None = None,
    ) -> None:
        self.store = store
        self.home = home
        # None: the policy in force in the store, read when first needed (see `policy`).
        self._policy = policy
        self.clock = clock or SystemClock()
        self.gates = gates or Gates()
        self.registry = registry
        self.notifier = notifier
        self.ports: dict[str, Any] = dict(ports or {})
        if registry is not None:
            self.ports.setdefault("registry", registry)
        self.ports["governance"] = self
        # Signs the chain head after every stage change (None or keyless: no checkpoints).
        self.checkpointer = checkpointer
        # How long a move waits for another process's operation on the same version.
        self.operation_wait_seconds = operations.WAIT_SECONDS
        # Things the user should know that did not fail the call (the CLI prints them). Bounded,
        # and drained by take_warnings: a long-running process (the server, a serving
        # controller) keeps one service for many calls, and nothing may grow with its life.
        self.warnings: Warnings = Warnings()
        # How the acting user was identified, when a surface proved it (a token, a session):
        # recorded with each of that user's events, so the trail says which credential acted.
        self.principal: dict[str, str] | None = None
        # Other packages add sections to `models show` (card, evidence, approvals, deployment).
        self.show_sections: dict[str, Callable[[Session, ModelVersion], Any]] = {}
        # Other packages add what an approval snapshot freezes beyond the core's evidence.
        self.snapshot_sections: dict[str, Callable[[Session, ModelVersion], Any]] = {}

    # --- helpers --------------------------------------------------------------------------

    @contextmanager
    def hashing_once(self) -> Iterator[None]:
        """For the block, the registry hashes each version's artifacts at most once.

        One use case checks the same binding several times (sweep, gate preview, the move's
        gate); hashing again between them reads the whole model again and proves nothing the
        first read did not. The next use case hashes afresh."""
        registry = self.ports.get("registry")
        if registry is None or isinstance(registry, HashedOnce):
            yield
            return
        self.ports["registry"] = HashedOnce(registry)
        try:
            yield
        finally:
            self.ports["registry"] = registry

    def take_warnings(self) -> list[str]:
        """The warnings noted since the last take, oldest first; the service forgets them."""
        taken = list(self.warnings)
        self.warnings.clear()
        return taken

    @property
    def policy(self) -> Policy:
        """The policy in force. Read lazily so that a store whose policy row was tampered
        with still lets `audit verify` and `policy set` run, while every rule that needs the
        policy is refused."""
        if self._policy is None:
            with self.store.read() as s:
                self._policy = policy_store.in_force(s)
        return self._policy

    @policy.setter
    def policy(self, value: Policy) -> None:
        self._policy = value

    def now(self) -> datetime:
        return self.clock.now()

    def home_for(self, what: str) -> Path:
        """MLGOV_HOME, where `what` (reports, datasets) is kept; refused if none is set."""
        if self.home is None:
            raise BadInput(f"no MLGOV_HOME configured to keep {what}")
        return self.home

    def audit(
        self,
        session: Session,
        actor: str,
        action: str,
        subject: str,
        payload: Mapping[str, Any] | None,
        *,
        at: datetime | None = None,
    ) -> AuditEvent:
        """Append an event; pass `at` so a row and its event carry the very same time."""
        if self.principal is not None and self.principal.get("user") == actor:
            via = {k: v for k, v in self.principal.items() if k != "user"}
            payload = {**(payload or {}), "via": via}
        return audit.append_event(
            session,
            actor=actor,
            action=action,
            subject=subject,
            payload=payload,
            at=at or self.now(),
        )

    def user(self, session: Session, name: str) -> User:
        validate_user_name(name)
        user = session.scalar(select(User).where(User.name == name))
        if user is None or not user.active:
            state = "was removed" if user is not None else "is not a registered user"
            raise UnknownUser(
                f"'{name}' {state}",
                hint="ask an admin to run `mlgov users add "
                f"{name} --role ROLE`, or act as another user with --user",
            )
        return user

    def authorize(self, session: Session, actor: str, action: Action) -> User:
        user = self.user(session, actor)
        allowed = roles_for(action)
        if not allowed.intersection(Role(r) for r in user.role_names):
            need = " or ".join(sorted(r.value for r in allowed))
            raise PermissionDenied(
                f"'{actor}' may not {action.value.replace('_', ' ')}: it needs role {need} "
                f"(has {', '.join(user.role_names) or 'none'})"
            )
        return user

    def version(
        self, session: Session, model: str, version: str | int, *, lock: bool = False
    ) -> ModelVersion:
        model, version = validate.model_name(model), validate.version(version)
        stmt = (
            select(ModelVersion)
            .join(Model)
            .where(Model.name == model, ModelVersion.version == str(version))
        )
        if lock:
            stmt = stmt.with_for_update(of=ModelVersion)
        found = session.scalar(stmt)
        if found is None:
            if session.scalar(select(Model.id).where(Model.name == model)) is None:
                raise NotFound(f"unknown model '{model}'", hint="see `mlgov models list`")
            raise NotFound(
                f"model '{model}' has no version '{version}'",
                hint=f"see `mlgov models show {model}`",
            )
        return found

    def touch(self, version: ModelVersion) -> None:
        version.last_activity_at = self.now()

    def notify(self, event: str, payload: Mapping[str, Any]) -> None:
        """Sent after the transaction in progress commits; dropped if it rolls back."""
        notifier = self.notifier
        if notifier is not None:
            payload = dict(payload)
            self.store.after_commit(lambda: notifier.notify(event, payload))

    # --- setup and users -----------------------------------------------------------------

    def init(self, actor: str) -> dict[str, Any]:
        validate_user_name(actor)
        before = self.store.upgrade()
        created_admin = False
        with self.store.transaction() as s:
            if s.scalar(select(func.count()).select_from(User)) == 0:
                self._add_user(s, actor, actor, [Role.ADMIN])
                created_admin = True
            self.audit(
                s,
                actor,
                "store.init",
                "system",
                {"schema_before": before, "created_admin": actor if created_admin else None},
            )
        return {
            "database": self.store.display_url,
            "schema_before": before,
            "schema_now": self.store.revision(),
            "admin_created": actor if created_admin else None,
        }

    def _add_user(self, s: Session, actor: str, name: str, roles: Iterable[Role]) -> User:
        user = User(name=name, created_at=self.now(), created_by=actor)
        user.roles = [UserRole(role=r.value) for r in sorted(set(roles))]
        s.add(user)
        s.flush()
        self.audit(s, actor, "user.add", f"user:{name}", {"roles": user.role_names})
        return user

    def add_user(self, actor: str, name: str, roles: Iterable[Role | str]) -> dict[str, Any]:
        validate_user_name(name)
        wanted = {parse_role(str(r)) for r in roles}
        if not wanted:
            raise BadInput("give at least one --role")
        with self.store.transaction() as s:
            self.authorize(s, actor, Action.MANAGE_USERS)
            user = s.scalar(select(User).where(User.name == name))
            if user is None:
                user = self._add_user(s, actor, name, wanted)
            elif not user.active:
                user.removed_at = user.removed_by = None
                user.roles = [UserRole(role=r.value) for r in sorted(wanted)]
                self.audit(s, actor, "user.restore", f"user:{name}", {"roles": user.role_names})
            else:
                new = sorted(r.value for r in wanted if r.value not in user.role_names)
                if not new:
                    raise Conflict(
                        f"user '{name}' already has role(s) {', '.join(user.role_names)}"
                    )
                user.roles.extend(UserRole(role=r) for r in new)
                self.audit(s, actor, "user.grant", f"user:{name}", {"added_roles": new})
            s.flush()
            return user_view(user)

    def remove_user(self, actor: str, name: str) -> dict[str, Any]:
        validate_user_name(name)
        with self.store.transaction() as s:
            self.authorize(s, actor, Action.MANAGE_USERS)
            user = self.user(s, name)
            if Role.ADMIN.value in user.role_names:
                admins = s.scalar(
                    select(func.count())
                    .select_from(User)
                    .join(UserRole)
                    .where(UserRole.role == Role.ADMIN.value, User.removed_at.is_(None))
                )
                if admins == 1:
                    raise Conflict(f"'{name}' is the last admin: add another admin first")
            user.removed_at, user.removed_by = self.now(), actor
            self.audit(s, actor, "user.remove", f"user:{name}", {"roles": user.role_names})
            return user_view(user)

    def list_users(self, actor: str, *, include_removed: bool = False) -> list[dict[str, Any]]:
        with self.store.read() as s:
            self.authorize(s, actor, Action.READ)
            stmt = select(User).order_by(User.name)
            if not include_removed:
                stmt = stmt.where(User.removed_at.is_(None))
            return [user_view(u) for u in s.scalars(stmt)]

    def whoami(self, actor: str) -> dict[str, Any]:
        with self.store.read() as s:
            return user_view(self.user(s, actor))

    # --- registration -------------------------------------------------------------------

    def register(
        self,
        actor: str,
        model: str,
        *,
        risk_tier: str,
        purpose: str,
        owner: str | None = None,
        run_id: str | None = None,
        model_uri: str | None = None,
        artifact_path: str | None = None,
        reinstate: str | None = None,
        data_grade: DataGrade | None = None,
    ) -> dict[str, Any]:
        """Create (or adopt) the MLflow version, then the governed version in `develop`.
        `data_grade`: the training data's grade and sensitivity, kept in the lineage."""
        tier = parse_tier(risk_tier)
        if not purpose or not purpose.strip():
            raise BadInput("--purpose must say what the model is for")
        validate.free_text(purpose, "--purpose")
        validate.model_name(model)
        if model_uri is not None:
            validate.model_uri(model_uri)
        if artifact_path is not None:
            validate.name(artifact_path, "--artifact-path")
        if (run_id is None) == (model_uri is None):
            raise BadInput("give exactly one of --run-id or --model-uri")
        if self.registry is None:
            raise BadInput("no model registry is configured")
        if self.checkpointer is not None:
            self.checkpointer.preflight()
        if reinstate is not None:
            validate.free_text(reinstate, "--reinstate", required=True)
        owner = owner or actor
        # What can be refused before MLflow is touched is refused here (and again below,
        # inside the registration's transaction).
        with self.store.read() as s:
            self.authorize(s, actor, Action.REGISTER)
            self._check_owner(self.user(s, owner))
            self._model_for_registration(s, model)
        # The intent first: a crash after MLflow created the version and before governance
        # recorded it leaves this row pending, and reconcile finishes (or undoes) it.
        run = operations.begin_registration(
            self,
            actor,
            model,
            detail={
                "model": model,
                "run_id": run_id,
                "model_uri": model_uri,
                "artifact_path": artifact_path,
                "risk_tier": tier.value,
                "purpose": purpose,
                "owner": owner,
                "reinstate": reinstate,
                "data_grade": data_grade.to_json() if data_grade else None,
            },
        )
        reg: RegisteredVersion | None = None
        try:
            reg = self.registry.register(
                model, run_id=run_id, model_uri=model_uri, artifact_path=artifact_path, op_id=run.id
            )
            fault_point("after-side-effect")
            result = self.record_registration(
                actor,
                reg,
                risk_tier=tier,
                purpose=purpose,
                owner=owner,
                reinstate=reinstate,
                operation=run,
                data_grade=data_grade,
            )
        except BaseException:
            if reg is not None and reg.created:
                self.registry.discard(reg.model, reg.version)
            operations.forget(self, run)
            raise
        finally:
            operations.done_moving(run)
        fault_point("after-commit")
        return result

    @staticmethod
    def _check_owner(owner: User) -> None:
        roles = set(owner.role_names)
        if Role.AUDITOR.value in roles:
            raise PermissionDenied(
                f"'{owner.name}' is an auditor and may not own a model: auditors stay "
                "independent of what they audit",
                hint="give --owner a data scientist, ML engineer or risk officer",
            )
        if not roles & set(OWNER_ROLES):
            raise PermissionDenied(
                f"'{owner.name}' may not own a model: an owner needs role "
                f"{' or '.join(OWNER_ROLES)} (has {', '.join(sorted(roles)) or 'none'})"
            )

    @staticmethod
    def _model_for_registration(s: Session, name: str) -> Model | None:
        """The model `name` names; a name differing only in case from a governed one is
        refused, as a bank's inventory has one CREDIT model, not two."""
        found = s.scalars(select(Model).where(func.lower(Model.name) == name.lower())).all()
        exact = next((m for m in found if m.name == name), None)
        if exact is None and found:
            raise BadInput(
                f"model '{name}' would differ from the governed model '{found[0].name}' only "
                "in case: model names are unique regardless of case",
                hint=f"register it as '{found[0].name}'",
            )
        return exact

    def record_registration(
        self,
        actor: str,
        reg: RegisteredVersion,
        *,
        risk_tier: RiskTier | str,
        purpose: str,
        owner: str,
        reinstate: str | None = None,
        operation: operations.OperationRun | None = None,
        data_grade: DataGrade | None = None,
    ) -> dict[str, Any]:
        """The governed version of `reg`, in develop. `reinstate` is the reason for
        registering a retired version's artifact again (refused without it). `operation`:
        the registration's pending operation, completed in the same transaction."""
        tier = parse_tier(str(risk_tier))
        if reinstate is not None:
            reinstate = validate.free_text(reinstate, "--reinstate", required=True)
        now = self.now()
        digest = fingerprint_digest(reg.fingerprint)
        with self.store.transaction() as s:
            self.authorize(s, actor, Action.REGISTER)
            self._check_owner(self.user(s, owner))
            model = self._model_for_registration(s, reg.model)
            reinstated = tier_history.check_not_retired(
                s, digest, has_artifacts=bool(reg.fingerprint), tier=tier.value, reinstate=reinstate
            )
            if model is None:
                model = Model(name=reg.model, created_at=now)
                s.add(model)
                s.flush()
            elif s.scalar(
                select(ModelVersion.id).where(
                    ModelVersion.model_id == model.id, ModelVersion.version == reg.version
                )
            ):
                raise Conflict(f"{reg.model}/{reg.version} is already governed")
            lineage = {
                "run_id": reg.run_id,
                "experiment_id": reg.experiment_id,
                "source_uri": reg.source_uri,
                "datasets": list(reg.datasets),
                "git_commit": reg.git_commit,
                "signature": reg.signature,
                "flavors": list(reg.flavors),
                "metrics": dict(reg.metrics),
                "adopted": not reg.created,
                "data_grade": data_grade.to_json() if data_grade else None,
            }
            v = ModelVersion(
                model=model,
                version=reg.version,
                owner=owner,
                registered_by=actor,
                purpose=purpose.strip(),
                risk_tier=tier.value,
                stage=Stage.DEVELOP.value,
                health=Health.OK.value,
                review_required=False,
                created_at=now,
                stage_changed_at=now,
                last_activity_at=now,
                source_uri=reg.source_uri,
                run_id=reg.run_id,
                experiment_id=reg.experiment_id,
                lineage=lineage,
                fingerprint=dict(reg.fingerprint),
                fingerprint_digest=digest,
            )
            s.add(v)
            s.flush()
            event = self.audit(
                s,
                actor,
                "version.register",
                version_subject(reg.model, reg.version),
                {
                    "risk_tier": tier.value,
                    "owner": owner,
                    "purpose": v.purpose,
                    "source_uri": reg.source_uri,
                    "run_id": reg.run_id,
                    "fingerprint_digest": v.fingerprint_digest,
                    "adopted": not reg.created,
                    **({"data_grade": data_grade.to_json()} if data_grade else {}),
                    **({"reinstates": reinstated} if reinstated else {}),
                    **(operation.audit_fields if operation is not None else {}),
                },
                at=now,
            )
            s.add(
                StageChange(
                    version_id=v.id,
                    from_stage=None,
                    to_stage=Stage.DEVELOP.value,
                    actor=actor,
                    reason="registered",
                    at=now,
                    audit_seq=event.seq,
                )
            )
            ctx = MoveContext(
                session=s,
                version=v,
                current=Stage.DEVELOP,
                target=Stage.DEVELOP,
                actor=actor,
                policy=self.policy,
                now=now,
                ports=self.ports,
            )
            self.gates.run_effects(ctx)
            if operation is not None:
                operations.link_registration(s, operation, v, audit_seq=event.seq, now=now)
            result = version_detail(v)
            earlier = tier_history.earlier_tier(s, v)
            fault_point("before-commit")
        if earlier is not None:
            result["tier_confirmation_required"] = earlier.tier
            self.warnings.append(
                f"risk tier {tier.value} is lower than {earlier.describe()}: the train gate "
                "waits for a risk officer's `mlgov models confirm-tier "
                f"{reg.model} {reg.version} --reason TEXT`"
            )
        checkpoints.checkpoint_after_commit(self)
        return result

    # --- moves --------------------------------------------------------------------------

    def _authorize_move(self, s: Session, actor: str, v: ModelVersion, target: Stage) -> None:
        action = _PROMOTE_ACTION.get(target)
        if action is None:
            raise BadInput(f"'{target}' is entered by registration, not by a move")
        if target is not Stage.RETIRE:
            self.authorize(s, actor, action)
            return
        user = self.user(s, actor)
        if set(user.role_names) & {r.value for r in roles_for(Action.RETIRE)}:
            return
        if actor == v.owner and Stage(v.stage) not in SERVING_STAGES:
            return
        raise PermissionDenied(
            f"'{actor}' may not retire {v.label}: it needs role admin or risk_officer "
            "(the owner may retire a version that is not serving)"
        )

    def promote(
        self,
        actor: str,
        model: str,
        version: str,
        to: str,
        *,
        reason: str | None = None,
        options: Mapping[str, Any] | None = None,
        before_commit: Callable[[MoveContext], None] | None = None,
        resume: str | None = None,
        recovered_by: str | None = None,
    ) -> dict[str, Any]:
        """Move a version to `to`, if the lifecycle allows it and the gate passes.

        The move runs as an operation (see governance/operations.py): its intent is committed
        first, so a crash between MLflow's writes and the commit is settled by reconcile.
        `resume` is reconcile replaying such an operation.
        """
        target = parse_stage(to)
        validate.free_text(reason, "--reason")
        if target is Stage.RETIRE and not (reason and reason.strip()):
            raise BadInput("retiring needs --reason saying why")
        if self.checkpointer is not None:
            self.checkpointer.preflight()  # a bad key is refused before anything moves
        sweeps = self.gates.sweeps_for(target)
        if sweeps:  # they record what is due, so only for an actor who may make this move
            with self.store.read() as s:
                v = self.version(s, model, version)
                self._authorize_move(s, actor, v, target)
                self.check_against_trail(s, v, locked=False)  # before a sweep writes about it
            for sweep in sweeps:
                sweep(self, actor, model, str(version))
        options = dict(options or {})

        def precheck(s: Session, v: ModelVersion) -> None:
            self._authorize_move(s, actor, v, target)
            self.check_against_trail(s, v)
            check_move(Stage(v.stage), target)

        prepared = options.get("prepared")

        def targets(s: Session, v: ModelVersion) -> list[str]:
            from mlgov.governance.deployments import active_for_version

            found = [d.target for d in active_for_version(s, v)]
            return found + ([prepared.target] if prepared is not None else [])

        with operations.running(
            self,
            model,
            version,
            kind={Stage.DEPLOY: "deploy", Stage.RETIRE: "retire"}.get(target, "promote"),
            actor=actor,
            to_stage=target.value,
            detail={
                "reason": reason,
                "force": bool(options.get("force")),
                "prepared": None if prepared is None else prepared.to_record(),
            },
            precheck=precheck,
            targets=targets,
            resume=resume,
            recovered_by=recovered_by,
        ) as run:
            try:
                result, payload = self._move(
                    actor, model, version, target, reason, options, run, before_commit
                )
            except IntegrityError as exc:  # the database's rules, should a race slip past
                raise Conflict(
                    f"{model}/{version} was changed by another move at the same time: "
                    "look at `mlgov models show` and try again if it still applies"
                ) from exc
        fault_point("after-commit")
        checkpoints.checkpoint_after_commit(self)
        self.notify("stage.change", {"model": model, "version": str(version), **payload})
        return result

    def _move(
        self,
        actor: str,
        model: str,
        version: str,
        target: Stage,
        reason: str | None,
        options: dict[str, Any],
        run: operations.OperationRun,
        before_commit: Callable[[MoveContext], None] | None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        with self.store.transaction() as s:
            v = self.version(s, model, version, lock=True)
            self.check_against_trail(s, v)
            current = Stage(v.stage)
            self._authorize_move(s, actor, v, target)
            check_move(current, target)
            ctx = MoveContext(
                session=s,
                version=v,
                current=current,
                target=target,
                actor=actor,
                policy=self.policy,
                now=self.now(),
                ports=self.ports,
                reason=reason.strip() if reason else None,
                options=options,
                op_id=run.id,
            )
            unmet = self.gates.unmet(ctx)
            if unmet:
                raise GateRefused(target.value, unmet)
            v.stage = target.value
            v.stage_changed_at = ctx.now
            v.last_activity_at = ctx.now
            s.flush()
            # Effects see the new state; if one fails the transaction rolls back the stage
            # and the operation's outside writes are undone (operations.settle_failure).
            run.side_effects_started = True
            self.gates.run_effects(ctx)
            operations.mark_written(self, run, v)
            fault_point("after-side-effect")
            payload = {"from": current.value, "to": target.value, "reason": ctx.reason}
            payload.update(ctx.audit_payload)
            payload.update(run.audit_fields)
            event = self.audit(
                s, actor, "stage.change", version_subject(model, v.version), payload, at=ctx.now
            )
            s.add(
                StageChange(
                    version_id=v.id,
                    from_stage=current.value,
                    to_stage=target.value,
                    actor=actor,
                    reason=ctx.reason,
                    at=ctx.now,
                    audit_seq=event.seq,
                )
            )
            operations.complete(s, run, audit_seq=event.seq, now=ctx.now)
            s.flush()
            if before_commit is not None:
                before_commit(ctx)
            fault_point("before-commit")
            result = version_view(v) | {"from": current.value, "audit_seq": event.seq}
        return result, payload

    def retire(
        self, actor: str, model: str, version: str, *, reason: str, force: bool = False
    ) -> dict[str, Any]:
        return self.promote(
            actor, model, version, Stage.RETIRE.value, reason=reason, options={"force": force}
        )

    def gate_preview(self, actor: str, model: str, version: str, to: str) -> list[dict[str, str]]:
        """What the gate would say now, without moving (for `promote --check`)."""
        target = parse_stage(to)
        with self.store.read() as s:
            self.authorize(s, actor, Action.READ)
            v = self.version(s, model, version)
            check_move(Stage(v.stage), target)
            ctx = MoveContext(
                session=s,
                version=v,
                current=Stage(v.stage),
                target=target,
                actor=actor,
                policy=self.policy,
                now=self.now(),
                ports=self.ports,
            )
            return [{"check": u.check, "message": u.message} for u in self.gates.unmet(ctx)]

    # --- reading ------------------------------------------------------------------------

    def effective_policy(self, actor: str) -> dict[str, Any]:
        with self.store.read() as s:
            self.authorize(s, actor, Action.READ)
        return self.policy.to_dict() | {
            "source": self.policy.source,
            "digest": self.policy.digest(),
        }

    def confirm_tier(self, actor: str, model: str, version: str, *, reason: str) -> dict[str, Any]:
        result = tier_history.confirm_tier(self, actor, model, version, reason=reason)
        checkpoints.checkpoint_after_commit(self)
        return result

    def set_policy(self, actor: str, document: str, *, source: str) -> dict[str, Any]:
        result = policy_store.set_policy(self, actor, document, source=source)
        checkpoints.checkpoint_after_commit(self)
        return result

    def policy_history(self, actor: str) -> list[dict[str, Any]]:
        with self.store.read() as s:
            self.authorize(s, actor, Action.READ)
            return [r.to_dict() for r in policy_store.history(s)]

    def list_versions(
        self,
        actor: str,
        *,
        stage: str | None = None,
        tier: str | None = None,
        owner: str | None = None,
    ) -> list[dict[str, Any]]:
        stmt = select(ModelVersion).join(Model).order_by(Model.name, ModelVersion.id)
        if stage:
            stmt = stmt.where(ModelVersion.stage == parse_stage(stage).value)
        if tier:
            stmt = stmt.where(ModelVersion.risk_tier == parse_tier(tier).value)
        if owner:
            stmt = stmt.where(ModelVersion.owner == validate_user_name(owner))
        with self.store.read() as s:
            self.authorize(s, actor, Action.READ)
            return [version_view(v) for v in s.scalars(stmt)]

    def show(self, actor: str, model: str, version: str | None = None) -> dict[str, Any]:
        with self.store.read() as s:
            self.authorize(s, actor, Action.READ)
            if version is None:
                m = s.scalar(select(Model).where(Model.name == model))
                if m is None:
                    raise NotFound(f"unknown model '{model}'", hint="see `mlgov models list`")
                versions = s.scalars(
                    select(ModelVersion)
                    .where(ModelVersion.model_id == m.id)
                    .order_by(ModelVersion.id)
                )
                return {"model": m.name, "versions": [version_view(v) for v in versions]}
            v = self.version(s, model, version)
            detail = version_detail(v)
            history = s.scalars(
                select(StageChange).where(StageChange.version_id == v.id).order_by(StageChange.id)
            )
            detail["history"] = [stage_change_view(c) for c in history]
            for name, fn in self.show_sections.items():
                detail[name] = fn(s, v)
            return detail

    # --- audit ----------------------------------------------------------------------------

    def audit_log(
        self,
        actor: str,
        *,
        model: str | None = None,
        since: datetime | None = None,
        action: str | None = None,
    ) -> list[dict[str, Any]]:
        stmt = select(AuditEvent).order_by(AuditEvent.seq)
        if model:
            prefix = f"model:{model}"
            stmt = stmt.where(
                or_(
                    AuditEvent.subject == prefix,
                    AuditEvent.subject.startswith(prefix + "/", autoescape=True),
                )
            )
        if since:
            stmt = stmt.where(AuditEvent.occurred_at >= since)
        if action:
            stmt = stmt.where(AuditEvent.action == action)
        with self.store.read() as s:
            self.authorize(s, actor, Action.READ)
            return [audit.event_dict(e) for e in s.scalars(stmt)]

    def audit_verify(
        self, actor: str, *, head: str | None = None
    ) -> implied_state.AuditVerifyReport:
        """The chain check, then the state tables against the state the chain implies."""
        if head is not None and (len(head) != 64 or any(c not in "0123456789abcdef" for c in head)):
            raise BadInput("--head must be a 64-character lowercase hex SHA-256")
        with self.store.read() as s:
            implied_state.one_snapshot(s)
            self.authorize(s, actor, Action.VERIFY_AUDIT)
            chain = audit.verify_chain(s, expected_head=head)
            found = implied_state.disagreements(s)
        return implied_state.AuditVerifyReport(chain, tuple(found))

    def state_disagreements(self, actor: str) -> list[implied_state.Disagreement]:
        """The state tables against the chain alone (`audit verify --checkpoints` adds it)."""
        with self.store.read() as s:
            implied_state.one_snapshot(s)
            self.authorize(s, actor, Action.VERIFY_AUDIT)
            return implied_state.disagreements(s)

    def check_against_trail(self, s: Session, v: ModelVersion, *, locked: bool = True) -> None:
        """Refuse to act on a version whose stored state the audit trail does not support.

        Every writer of a version's state holds its row lock, so under the lock the events and
        the rows read consistently. Without it (`locked=False`: a read before a sweep or a
        build) PostgreSQL's READ COMMITTED reads each statement at its own snapshot, and a
        move committing between the events query and the rows query would look like a
        disagreement: one found there is checked again under the lock before it counts.
        """
        found = implied_state.version_disagreements(s, v)
        if found and not locked:
            with self.store.transaction() as w:
                found = implied_state.version_disagreements(
                    w, self.version(w, v.model.name, v.version, lock=True)
                )
        if found:
            raise StateTampered(
                f"{v.label}: governance state disagrees with the audit trail: "
                + implied_state.summary(found),
                hint=implied_state.HINT + " to list every disagreeing row",
            )

    def audit_export(self, actor: str, out: Path) -> dict[str, Any]:
        if not out.parent.is_dir():
            raise BadInput(f"cannot write {out}: directory {out.parent} does not exist")
        with self.store.read() as s:
            self.authorize(s, actor, Action.READ)
            count, head = 0, audit.GENESIS
            tmp = out.with_name(out.name + ".partial")
            with tmp.open("w", encoding="utf-8") as fh:
                for e in audit.iter_events(s):
                    fh.write(json.dumps(audit.event_dict(e), sort_keys=True) + "\n")
                    count, head = count + 1, e.hash
            tmp.replace(out)
        return {"file": str(out), "events": count, "head_hash": head}
