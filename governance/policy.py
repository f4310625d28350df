"""Policies per risk tier: a built-in default that a TOML document can override.

The policy in force lives in the governance store (`policy_store`), set by an admin with
`mlgov policy set FILE`; this module only parses and checks documents.

File shape (every key optional; `[default]` applies to all tiers, `[tiers.<tier>]` to one):

    [default]
    approval_valid_days = 30
    [tiers.high]
    approvals_required = 3
    [tiers.high.required_metrics]
    roc_auc = ">= 0.75"
    [notifications]
    webhook_url = "https://hooks.example.org/mlgov"

A document with an error is refused naming the file, the key and the reason.
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from mlgov.governance.errors import BadInput, PolicyError
from mlgov.governance.lifecycle import RiskTier
from mlgov.governance.roles import Action, Role, roles_for
from mlgov.governance.validate import webhook_url

# Maker-checker is not a policy choice: these may never approve, whatever a file says.
NEVER_APPROVE: tuple[str, ...] = ("registrant", "owner", "requester")
HEALTH_ACTIONS = ("notify", "require_review", "suspend")
DRIFT_ENGINES = ("fast", "evidently")
DRIFT_METHODS = ("ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi")
# Most severe first (the order the blocking level is compared in).
FINDING_SEVERITIES = ("critical", "high", "medium", "low")
DEFAULT_FINDING_DUE_DAYS: Mapping[str, int] = {"critical": 7, "high": 30, "medium": 90, "low": 180}

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
_THRESHOLD = re.compile(r"^\s*(>=|<=|==|>|<)\s*(-?\d+(?:\.\d+)?(?:[eE]-?\d+)?)\s*$")


@dataclass(frozen=True)
class MetricThreshold:
    op: str
    value: float

    def met_by(self, observed: float) -> bool:
        return _OPS[self.op](observed, self.value)

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


def parse_threshold(text: str) -> MetricThreshold:
    match = _THRESHOLD.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"expected a comparison such as '>= 0.7', got {text!r}")
    return MetricThreshold(match.group(1), float(match.group(2)))


@dataclass(frozen=True)
class TierPolicy:
    approvals_required: int
    approver_role: str = Role.RISK_OFFICER.value
    approval_valid_days: int = 30
    required_metrics: Mapping[str, MetricThreshold] = field(default_factory=dict)
    required_card_fields: tuple[str, ...] = (
        "intended_use",
        "limitations",
        "training_data",
        "evaluation_data",
        "owner_contact",
    )
    drift_share: float = 0.5
    drift_column_thresholds: Mapping[str, float] = field(default_factory=dict)
    drift_column_methods: Mapping[str, str] = field(default_factory=dict)
    drift_engine: str = "fast"
    ignore_extra_columns: bool = False
    predeploy_drift_required: bool = True
    predeploy_drift_max_age_days: int = 30
    health_warning_share: float = 0.25
    health_breach_share: float = 0.5
    # A monitoring window of fewer rows gets no verdict ("insufficient data"): its rows wait
    # for the next run. Small windows of an unchanged population drift by chance (see
    # benchmarks/README.md, "false alarms").
    health_min_rows: int = 1
    # Health moves to a level only when that many of the last `health_windows_of` windows
    # (this one included) reached it: 1 of 1 acts on every window alone.
    health_windows_needed: int = 1
    health_windows_of: int = 1
    # Performance once outcomes are known: how far a metric may fall below the version's
    # training value (roc_auc, ks, gini) or rise above it (mae, rmse) before health moves,
    # in the metric's own units. A metric without a tolerance is reported, not judged.
    performance_warning_decay: Mapping[str, float] = field(
        default_factory=lambda: {"roc_auc": 0.03, "ks": 0.05, "gini": 0.06}
    )
    performance_breach_decay: Mapping[str, float] = field(
        default_factory=lambda: {"roc_auc": 0.05, "ks": 0.08, "gini": 0.1}
    )
    on_warning: tuple[str, ...] = ("notify",)
    on_breach: tuple[str, ...] = ("notify", "require_review")
    review_interval_days: int = 365
    stale_after_days: int = 90
    # An open finding this severe or worse is an unmet condition of train, approval, deploy.
    finding_blocking_severity: str = "high"
    finding_due_days: Mapping[str, int] = field(
        default_factory=lambda: dict(DEFAULT_FINDING_DUE_DAYS)
    )

    @property
    def never_approve(self) -> tuple[str, ...]:
        return NEVER_APPROVE


@dataclass(frozen=True)
class NotificationPolicy:
    webhook_url: str | None = None
    webhook_timeout_seconds: float = 5.0
    webhook_allowed_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    tiers: Mapping[RiskTier, TierPolicy]
    notifications: NotificationPolicy = NotificationPolicy()
    source: str = "built-in"

    def for_tier(self, tier: RiskTier | str) -> TierPolicy:
        return self.tiers[RiskTier(tier)]

    def to_dict(self) -> dict[str, Any]:
        def tier_dict(tp: TierPolicy) -> dict[str, Any]:
            data = asdict(tp)
            data["required_metrics"] = {k: str(v) for k, v in tp.required_metrics.items()}
            data["never_approve"] = list(NEVER_APPROVE)
            return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

        return {
            "tiers": {t.value: tier_dict(self.tiers[t]) for t in RiskTier},
            "notifications": asdict(self.notifications),
        }

    def digest(self) -> str:
        """SHA-256 of the effective policy (not of its source text): approvals bind to it."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


_HIGH_CARD = TierPolicy(approvals_required=0).required_card_fields + (
    "fairness_assessment",
    "fallback_plan",
)

DEFAULT_POLICY = Policy(
    tiers={
        RiskTier.HIGH: TierPolicy(
            approvals_required=2, review_interval_days=180, required_card_fields=_HIGH_CARD
        ),
        RiskTier.MEDIUM: TierPolicy(approvals_required=1, review_interval_days=365),
        RiskTier.LOW: TierPolicy(
            approvals_required=1, review_interval_days=730, predeploy_drift_required=False
        ),
    }
)


# --- loading -------------------------------------------------------------------------------


def _whole(low: int, high: int) -> Callable[[Any], int]:
    """A whole number in [low, high]: a typo of 99999999999999999 approvals or days would
    otherwise make a gate unsatisfiable (or an expiry meaningless) without saying so."""

    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            raise ValueError(f"expected a whole number from {low} to {high}, got {v!r}")
        return v

    return check


MAX_APPROVALS = 20
MAX_DAYS = 3650  # ten years
MAX_MIN_ROWS = 10_000_000
MAX_WINDOWS = 10
_days = _whole(1, MAX_DAYS)


def _share(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 1:
        raise ValueError(f"expected a number in (0, 1], got {v!r}")
    return float(v)


def _positive_number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 1e6:
        raise ValueError(f"expected a number > 0 and at most 1e6, got {v!r}")
    return float(v)


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"expected true or false, got {v!r}")
    return v


def _approver_role(v: Any) -> str:
    # Only a role the permission matrix lets approve: a policy naming data_scientist would
    # let the makers check themselves, which is the control this product exists for.
    allowed = sorted(r.value for r in roles_for(Action.APPROVE))
    if v not in allowed:
        raise ValueError(f"expected a role that may approve ({', '.join(allowed)}), got {v!r}")
    return str(v)


def _choice(options: tuple[str, ...]) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if v not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {v!r}")
        return str(v)

    return check


def _names(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
        raise ValueError("expected a list of non-empty strings")
    return tuple(v)


def _actions(v: Any) -> tuple[str, ...]:
    items = _names(v) if v != [] else ()
    bad = [a for a in items if a not in HEALTH_ACTIONS]
    if bad:
        raise ValueError(f"unknown action(s) {', '.join(bad)}: use {', '.join(HEALTH_ACTIONS)}")
    return items


def _table(value_check: Callable[[Any], Any]) -> Callable[[Any], dict[str, Any]]:
    def check(v: Any) -> dict[str, Any]:
        if not isinstance(v, dict):
            raise ValueError("expected a table of name = value")
        out = {}
        for k, item in v.items():
            try:
                out[k] = value_check(item)
            except ValueError as exc:
                raise ValueError(f"{k}: {exc}") from None
        return out

    return check


def _due_days(v: Any) -> dict[str, int]:
    """Days to fix a finding, per severity; severities not named keep their default."""
    given = _table(_days)(v)
    unknown = sorted(set(given) - set(FINDING_SEVERITIES))
    if unknown:
        raise ValueError(f"unknown severity {unknown[0]!r}: use {', '.join(FINDING_SEVERITIES)}")
    return {**DEFAULT_FINDING_DUE_DAYS, **given}


def _threshold(v: Any) -> MetricThreshold:
    return parse_threshold(v)


_TIER_KEYS: dict[str, Callable[[Any], Any]] = {
    "approvals_required": _whole(1, MAX_APPROVALS),
    "approver_role": _approver_role,
    "approval_valid_days": _days,
    "required_metrics": _table(_threshold),
    "required_card_fields": _names,
    "drift_share": _share,
    "drift_column_thresholds": _table(_positive_number),
    "drift_column_methods": _table(_choice(DRIFT_METHODS)),
    "drift_engine": _choice(DRIFT_ENGINES),
    "ignore_extra_columns": _bool,
    "predeploy_drift_required": _bool,
    "predeploy_drift_max_age_days": _days,
    "health_warning_share": _share,
    "health_breach_share": _share,
    "health_min_rows": _whole(1, MAX_MIN_ROWS),
    "health_windows_needed": _whole(1, MAX_WINDOWS),
    "health_windows_of": _whole(1, MAX_WINDOWS),
    "performance_warning_decay": _table(_positive_number),
    "performance_breach_decay": _table(_positive_number),
    "on_warning": _actions,
    "on_breach": _actions,
    "review_interval_days": _days,
    "stale_after_days": _days,
    "finding_blocking_severity": _choice(FINDING_SEVERITIES),
    "finding_due_days": _due_days,
}
assert set(_TIER_KEYS) == {f.name for f in fields(TierPolicy)}


def _webhook_timeout(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 60:
        raise ValueError(f"expected seconds in (0, 60], got {v!r}")
    return float(v)


def _url(v: Any) -> str:
    if not isinstance(v, str) or not re.match(r"^https?://[^\s]+$", v):
        raise ValueError("expected an http(s) URL")
    return v


_NOTIFY_KEYS: dict[str, Callable[[Any], Any]] = {
    "webhook_url": _url,
    "webhook_timeout_seconds": _webhook_timeout,
    "webhook_allowed_hosts": _names,
}


def _overrides(
    table: Any, where: str, keys: Mapping[str, Callable[[Any], Any]], file: str
) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise PolicyError(f"policy file {file}: key '{where}': expected a table")
    out: dict[str, Any] = {}
    for key, raw in table.items():
        path = f"{where}.{key}"
        if key == "never_approve":
            raise PolicyError(
                f"policy file {file}: key '{path}': maker-checker is mandatory and cannot be "
                "changed (registrant, owner and requester never approve)"
            )
        if key not in keys:
            raise PolicyError(
                f"policy file {file}: unknown key '{path}': known keys are {', '.join(keys)}"
            )
        try:
            out[key] = keys[key](raw)
        except ValueError as exc:
            raise PolicyError(f"policy file {file}: key '{path}': {exc}") from None
    return out


def _check_tier(tier: TierPolicy, where: str, file: str) -> None:
    if tier.health_warning_share > tier.health_breach_share:
        raise PolicyError(
            f"policy file {file}: key '{where}.health_warning_share': must not exceed "
            f"health_breach_share ({tier.health_breach_share:g})"
        )
    for metric, warning in tier.performance_warning_decay.items():
        breach = tier.performance_breach_decay.get(metric)
        if breach is not None and warning > breach:
            raise PolicyError(
                f"policy file {file}: key '{where}.performance_warning_decay.{metric}': must "
                f"not exceed performance_breach_decay.{metric} ({breach:g})"
            )
    if tier.health_windows_needed > tier.health_windows_of:
        raise PolicyError(
            f"policy file {file}: key '{where}.health_windows_needed': must not exceed "
            f"health_windows_of ({tier.health_windows_of})"
        )


def read_policy_file(path: Path | str) -> str:
    """The text of a policy file, or a PolicyError naming the file."""
    file = str(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"policy file {file}: not found") from None
    except IsADirectoryError:
        raise PolicyError(f"policy file {file}: is a directory, give a TOML file") from None
    except UnicodeDecodeError:
        raise PolicyError(f"policy file {file}: is not UTF-8 text") from None
    except OSError as exc:
        raise PolicyError(f"policy file {file}: cannot be read: {exc.strerror}") from None


def load_policy(path: Path | str | None) -> Policy:
    """Built-in defaults, overridden by the file when given (tests and `policy set`)."""
    if path is None:
        return DEFAULT_POLICY
    return parse_policy(read_policy_file(path), source=str(path))


def parse_policy(document: str, *, source: str) -> Policy:
    """The effective policy of a TOML document; `source` names it in every error."""
    file = source
    try:
        data = tomllib.loads(document)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy file {file}: not valid TOML: {exc}") from None

    unknown = set(data) - {"default", "tiers", "notifications"}
    if unknown:
        raise PolicyError(
            f"policy file {file}: unknown key '{sorted(unknown)[0]}': "
            "top-level keys are default, tiers, notifications"
        )
    common = _overrides(data.get("default", {}), "default", _TIER_KEYS, file)
    tiers_table = data.get("tiers", {})
    if not isinstance(tiers_table, dict):
        raise PolicyError(f"policy file {file}: key 'tiers': expected a table")
    for name in tiers_table:
        if name not in {t.value for t in RiskTier}:
            raise PolicyError(
                f"policy file {file}: unknown tier 'tiers.{name}': use high, medium or low"
            )
    tiers: dict[RiskTier, TierPolicy] = {}
    for tier in RiskTier:
        specific = _overrides(tiers_table.get(tier.value, {}), f"tiers.{tier}", _TIER_KEYS, file)
        merged = replace(DEFAULT_POLICY.tiers[tier], **{**common, **specific})
        _check_tier(merged, f"tiers.{tier}", file)
        tiers[tier] = merged
    notify = _overrides(data.get("notifications", {}), "notifications", _NOTIFY_KEYS, file)
    if notify.get("webhook_url"):
        try:
            webhook_url(
                notify["webhook_url"], allowed_hosts=notify.get("webhook_allowed_hosts", ())
            )
        except BadInput as exc:
            raise PolicyError(
                f"policy file {file}: key 'notifications.webhook_url': {exc}"
            ) from None
    return Policy(tiers=tiers, notifications=replace(NotificationPolicy(), **notify), source=file)
