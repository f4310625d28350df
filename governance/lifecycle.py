"""The lifecycle as data: stages, health values, risk tiers and the allowed moves."""

from __future__ import annotations

from enum import StrEnum

from mlgov.governance.errors import BadInput, IllegalTransition


class Stage(StrEnum):
    DEVELOP = "develop"
    TRAIN = "train"
    DEPLOY = "deploy"
    EVALUATE = "evaluate"
    RETIRE = "retire"


class Health(StrEnum):
    OK = "ok"
    WARNING = "warning"
    BREACH = "breach"


class RiskTier(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


# The chain in order, plus any non-terminal stage -> retire. Nothing leaves retire.
ALLOWED_MOVES: dict[Stage, frozenset[Stage]] = {
    Stage.DEVELOP: frozenset({Stage.TRAIN, Stage.RETIRE}),
    Stage.TRAIN: frozenset({Stage.DEPLOY, Stage.RETIRE}),
    Stage.DEPLOY: frozenset({Stage.EVALUATE, Stage.RETIRE}),
    Stage.EVALUATE: frozenset({Stage.RETIRE}),
    Stage.RETIRE: frozenset(),
}

TERMINAL: frozenset[Stage] = frozenset(s for s, nxt in ALLOWED_MOVES.items() if not nxt)
SERVING_STAGES: frozenset[Stage] = frozenset({Stage.DEPLOY, Stage.EVALUATE})


def _parse(enum: type[StrEnum], value: str, what: str) -> StrEnum:
    try:
        return enum(value.strip().lower())
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise BadInput(f"unknown {what} '{value}': use one of {allowed}") from None


def parse_stage(value: str) -> Stage:
    return _parse(Stage, value, "stage")  # type: ignore[return-value]


def parse_tier(value: str) -> RiskTier:
    return _parse(RiskTier, value, "risk tier")  # type: ignore[return-value]


def is_allowed(current: Stage, target: Stage) -> bool:
    return target in ALLOWED_MOVES[current]


def check_move(current: Stage, target: Stage) -> None:
    """Raise IllegalTransition (exit 1) when the lifecycle forbids current -> target."""
    if is_allowed(current, target):
        return
    if current in TERMINAL:
        raise IllegalTransition(f"stage '{current}' is final: nothing moves out of it")
    allowed = ", ".join(sorted(ALLOWED_MOVES[current])) or "none"
    raise IllegalTransition(
        f"cannot move from '{current}' to '{target}': allowed from '{current}': {allowed}"
    )
