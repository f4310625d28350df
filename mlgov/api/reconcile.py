"""Use case of reconciling: settle operations a crash left pending, then compare MLflow with
governance state (and, with `fix`, restore mlgov's state into MLflow, never the reverse)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mlgov.api.actor import Actor
from mlgov.api.platform import Platform
from mlgov.api.results import Record, Result


@dataclass(frozen=True)
class Finding(Result):
    """A difference between the MLflow registry and governance state."""

    kind: str
    model: str
    version: str | None
    detail: str
    fixable: bool
    fixed: bool


@dataclass(frozen=True)
class Reconciliation(Result):
    """Pending operations settled (each with its outcome), findings, and what remains:
    findings not fixed plus operations whose process still runs."""

    operations: tuple[Record, ...]
    findings: tuple[Finding, ...]
    fixed: int
    remaining: int


def reconcile(
    platform: Platform,
    actor: Actor,
    *,
    fix: bool = False,
    check_artifacts: bool = True,
    progress: Callable[[str], None] | None = None,
) -> Reconciliation:
    """Every outcome is audited; `progress` is told of each operation being settled."""
    from mlgov.governance.reconcile import reconcile as run

    result = run(
        platform.governance(),
        actor.name,
        fix=fix,
        check_artifacts=check_artifacts,
        progress=progress,
    )
    return Reconciliation.from_mapping(
        result
        | {
            "operations": tuple(Record(op) for op in result["operations"]),
            "findings": tuple(Finding.from_mapping(f) for f in result["findings"]),
        }
    )
