"""The core's own gate checks and effects; adapters' checks are added by mlgov.app."""

from __future__ import annotations

from mlgov.governance import approvals, findings, mirror, tier_history, train_gate
from mlgov.governance.gates import Gates


def core_gates() -> Gates:
    gates = Gates()
    train_gate.register(gates)
    tier_history.register(gates)
    approvals.register(gates)
    findings.register(gates)
    mirror.register(gates)
    return gates
