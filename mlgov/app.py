"""Wiring: builds the governance service with its adapters, gate checks and notifiers.

Adapters are constructed here but import their heavy libraries only when used, so read-only
commands never load MLflow, BentoML or Evidently.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from mlgov.adapters import (
    BentoDeployerPort,
    MonitoringDatasets,
    PredictionLogSource,
    PredictionOutcomes,
    drift_checker,
)
from mlgov.config import Settings, apply_environment
from mlgov.governance import approvals, deployments, drift_checks, findings
from mlgov.governance.cards import card_section
from mlgov.governance.checkpoints import Checkpointer
from mlgov.governance.clock import Clock
from mlgov.governance.defaults import core_gates
from mlgov.governance.gates import Gates
from mlgov.governance.notify import CompositeNotifier, FileNotifier, WebhookNotifier
from mlgov.governance.policy import Policy
from mlgov.governance.references import current_reference, reference_view
from mlgov.governance.service import Governance
from mlgov.governance.store import Store


def build_gates() -> Gates:
    """Every named gate check and move effect, registered in one place."""
    gates = core_gates()
    drift_checks.register(gates)
    deployments.register(gates)
    return gates


def build_registry(settings: Settings) -> Any:
    from mlgov.registry.mlflow_registry import MlflowRegistry

    return MlflowRegistry(settings.tracking_uri, artifact_location=str(settings.artifact_root))


def build_ports(settings: Settings) -> dict[str, Any]:
    return {
        "datasets": MonitoringDatasets(),
        "drift": drift_checker,
        "predictions": PredictionLogSource(settings.targets_dir),
        "outcomes": PredictionOutcomes(settings.targets_dir),
        "deployer": BentoDeployerPort(settings.targets_dir, settings.tracking_uri),
    }


def build_notifier(settings: Settings, policy: Policy, clock: Clock | None) -> CompositeNotifier:
    notifiers: list[Any] = [FileNotifier(settings.notifications_file, clock)]
    if policy.notifications.webhook_url:
        notifiers.append(
            WebhookNotifier(
                policy.notifications.webhook_url,
                outbox=settings.home / "webhook-outbox.jsonl",
                timeout=policy.notifications.webhook_timeout_seconds,
                clock=clock,
            )
        )
    return CompositeNotifier(notifiers)


class PolicyNotifier:
    """The notifiers the policy in force asks for, built on the first notification: the
    policy lives in the store, which a command that never notifies should not have to read."""

    def __init__(
        self, settings: Settings, policy: Callable[[], Policy], clock: Clock | None
    ) -> None:
        self._settings, self._policy, self._clock = settings, policy, clock
        self._built: CompositeNotifier | None = None

    def notify(self, event: str, payload: Mapping[str, Any]) -> None:
        if self._built is None:
            self._built = build_notifier(self._settings, self._policy(), self._clock)
        self._built.notify(event, payload)


def build_checkpointer(settings: Settings) -> Checkpointer:
    return Checkpointer(
        key_path=settings.signing_key_file,
        file=settings.checkpoint_file,
        sinks=settings.checkpoint_sinks,
        required=settings.signing_key_explicit,
    )


def _add_show_sections(gov: Governance) -> None:
    def card(s, v):
        return card_section(s, v, gov.policy.for_tier(v.risk_tier).required_card_fields)

    def approval(s, v):
        request = approvals.latest_request(s, v)
        return approvals.request_view(request, v, gov.now()) if request else None

    gov.show_sections.update(
        {
            "card": card,
            "reference": lambda s, v: reference_view(current_reference(s, v)),
            "approval": approval,
            "drift_check": drift_checks.drift_section,
            "deployments": deployments.deployment_section,
            "findings": lambda s, v: findings.findings_section(s, v, gov.policy, gov.now()),
        }
    )
    # An approval freezes the latest pre-deployment drift result too (for the record).
    gov.snapshot_sections["drift"] = drift_checks.drift_section


_SHARED_STORES: dict[str, Store] = {}
_SHARED_LOCK = threading.Lock()


def _shared_store(url: str) -> Store:
    """One store (engine, pool, compiled-statement cache) per database for a long-running
    process: opening an engine per request compiles every statement again. Its schema is
    checked when first opened (restart the server after `mlgov init` upgrades it)."""
    with _SHARED_LOCK:
        store = _SHARED_STORES.get(url)
        if store is None:
            store = Store(url)
            store.check_current()
            _SHARED_STORES[url] = store
        return store


def open_governance(
    settings: Settings,
    *,
    initializing: bool = False,
    clock: Clock | None = None,
    shared_store: bool = False,
) -> Governance:
    """`shared_store`: a server's requests share one store per database (see _shared_store)."""
    settings.ensure_home(create=initializing)
    apply_environment(settings)
    if shared_store and not initializing:
        store = _shared_store(settings.db_url)
    else:
        store = Store(settings.db_url)
        if not initializing:
            store.check_current()
    gov = Governance(
        store,
        clock=clock,
        gates=build_gates(),
        registry=build_registry(settings),
        ports=build_ports(settings),
        home=settings.home,
        checkpointer=build_checkpointer(settings),
    )
    gov.notifier = PolicyNotifier(settings, lambda: gov.policy, clock)
    _add_show_sections(gov)
    return gov
