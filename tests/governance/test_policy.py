from __future__ import annotations

import pytest

from mlgov.governance.errors import PolicyError
from mlgov.governance.lifecycle import RiskTier
from mlgov.governance.policy import DEFAULT_POLICY, load_policy, parse_threshold


def test_defaults_per_tier():
    high, medium, low = (DEFAULT_POLICY.for_tier(t) for t in RiskTier)
    assert (high.approvals_required, medium.approvals_required, low.approvals_required) == (2, 1, 1)
    assert (high.review_interval_days, medium.review_interval_days, low.review_interval_days) == (
        180,
        365,
        730,
    )
    for tier in (high, medium, low):
        assert tier.approver_role == "risk_officer"
        assert tier.approval_valid_days == 30
        assert tier.drift_share == 0.5
        assert tier.stale_after_days == 90
        assert dict(tier.required_metrics) == {}
        assert set(tier.never_approve) == {"registrant", "owner", "requester"}
    assert "fairness_assessment" in high.required_card_fields
    assert "fairness_assessment" not in low.required_card_fields
    assert high.predeploy_drift_required and not low.predeploy_drift_required


def test_file_overrides_default_then_tier(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text(
        "[default]\napproval_valid_days = 10\n"
        "[tiers.high]\napprovals_required = 3\n"
        '[tiers.high.required_metrics]\nroc_auc = ">= 0.7"\n'
        '[notifications]\nwebhook_url = "http://127.0.0.1:9/hook"\n'
        'webhook_allowed_hosts = ["127.0.0.1"]\n'
    )
    p = load_policy(f)
    assert p.for_tier("high").approvals_required == 3
    assert p.for_tier("low").approval_valid_days == 10
    assert p.for_tier("high").required_metrics["roc_auc"].met_by(0.71)
    assert not p.for_tier("high").required_metrics["roc_auc"].met_by(0.69)
    assert p.notifications.webhook_url == "http://127.0.0.1:9/hook"
    assert p.digest() != DEFAULT_POLICY.digest()
    assert p.source == str(f)


@pytest.mark.parametrize(
    "body,key",
    [
        ("[tiers.high]\napprovals_required = 0\n", "tiers.high.approvals_required"),
        ("[tiers.high]\napprovals_required = 'two'\n", "tiers.high.approvals_required"),
        ("[tiers.extreme]\napprovals_required = 1\n", "tiers.extreme"),
        ("[default]\napprovls_required = 1\n", "default.approvls_required"),
        ("[tiers.low.required_metrics]\nauc = 'at least 0.7'\n", "tiers.low.required_metrics"),
        ("[default]\ndrift_share = 1.5\n", "default.drift_share"),
        ("[default]\non_breach = ['explode']\n", "default.on_breach"),
        ("[tiers.high]\nnever_approve = []\n", "tiers.high.never_approve"),
        ("[default]\nhealth_warning_share = 0.9\n", "health_warning_share"),
        ("[default]\nhealth_min_rows = 0\n", "default.health_min_rows"),
        ("[default]\nhealth_min_rows = 100000000000\n", "default.health_min_rows"),
        ("[default]\nhealth_windows_of = 11\n", "default.health_windows_of"),
        ("[default]\nhealth_windows_needed = 3\n", "health_windows_needed"),
        ("[notifications]\nwebhook_url = 'ftp://x'\n", "notifications.webhook_url"),
        ("[notifications]\nwebhook_url = 'http://169.254.169.254/'\n", "internal"),
        ("[notifications]\nwebhook_url = 'http://2130706433/'\n", "internal"),
        ("bogus = 1\n", "bogus"),
        ("[tiers\n", "not valid TOML"),
    ],
)
def test_broken_policy_names_file_key_and_reason(tmp_path, body, key):
    f = tmp_path / "bad.toml"
    f.write_text(body)
    with pytest.raises(PolicyError) as err:
        load_policy(f)
    assert str(f) in str(err.value) and key in str(err.value)
    assert err.value.exit_code == 2


def test_missing_policy_file(tmp_path):
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "none.toml")


def test_threshold_parsing():
    assert parse_threshold(">= 0.7").met_by(0.7)
    assert parse_threshold("<0.1").met_by(0.05)
    with pytest.raises(ValueError):
        parse_threshold("0.7")
