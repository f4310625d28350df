"""Gates: the named checks that must pass to enter a stage, and the effects of a move.

Other packages register checks and effects (registry evidence, approvals, drift, deployment)
so they add conditions without touching the core's control flow. A refused gate reports every
unmet condition, not only the first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from mlgov.governance.errors import Unmet
from mlgov.governance.lifecycle import Stage
from mlgov.governance.policy import Policy, TierPolicy
from mlgov.governance.tables import ModelVersion


@dataclass
class MoveContext:
    """Everything a check or an effect may look at, for one proposed move."""

    session: Session
    version: ModelVersion
    current: Stage
    target: Stage
    actor: str
    policy: Policy
    now: datetime
    ports: Mapping[str, Any]
    reason: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    audit_payload: dict[str, Any] = field(default_factory=dict)  # effects add what they did
    op_id: str | None = None  # the operation whose outside writes the effects make

    @property
    def tier_policy(self) -> TierPolicy:
        return self.policy.for_tier(self.version.risk_tier)


# A check yields one message per unmet condition; nothing means it passes.
Check = Callable[[MoveContext], Iterable[str]]
# An effect does the move's side effect; raising aborts the whole move.
Effect = Callable[[MoveContext], None]
# A sweep records what is already due (expiry, voiding) in its own transaction before a move:
# called as sweep(governance, actor, model, version).
Sweep = Callable[[Any, str, str, str], None]

ANY_STAGE = "*"


_Fn = TypeVar("_Fn")


@dataclass(frozen=True)
class _Named(Generic[_Fn]):
    name: str
    fn: _Fn


class Gates:
    def __init__(self) -> None:
        self._checks: dict[str, list[_Named[Check]]] = {}
        self._effects: dict[str, list[_Named[Effect]]] = {}
        self._sweeps: dict[str, list[_Named[Sweep]]] = {}

    def add_check(self, stage: Stage, name: str, fn: Check) -> None:
        self._checks.setdefault(stage.value, []).append(_Named(name, fn))

    def add_effect(self, stage: Stage | str, name: str, fn: Effect) -> None:
        key = stage.value if isinstance(stage, Stage) else stage
        self._effects.setdefault(key, []).append(_Named(name, fn))

    def add_sweep(self, stage: Stage, name: str, fn: Sweep) -> None:
        self._sweeps.setdefault(stage.value, []).append(_Named(name, fn))

    def sweeps_for(self, stage: Stage) -> list[Sweep]:
        return [s.fn for s in self._sweeps.get(stage.value, [])]

    def unmet(self, ctx: MoveContext) -> list[Unmet]:
        return self.unmet_for(ctx.target, ctx)

    def unmet_for(self, stage: Stage, ctx: MoveContext) -> list[Unmet]:
        """Run the checks of `stage` (the move's target, or another gate's evidence)."""
        found: list[Unmet] = []
        for check in self._checks.get(stage.value, []):
            found.extend(Unmet(check.name, msg) for msg in check.fn(ctx))
        return found

    def run_effects(self, ctx: MoveContext) -> None:
        for effect in self._effects.get(ctx.target.value, []) + self._effects.get(ANY_STAGE, []):
            effect.fn(ctx)
