"""Roles and the permission matrix, enforced in the service (never only in the CLI)."""

from __future__ import annotations

import re
from enum import StrEnum

from mlgov.governance.errors import BadInput


class Role(StrEnum):
    DATA_SCIENTIST = "data_scientist"
    RISK_OFFICER = "risk_officer"
    ML_ENGINEER = "ml_engineer"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Action(StrEnum):
    READ = "read"
    MANAGE_USERS = "manage_users"
    MANAGE_POLICY = "manage_policy"
    REGISTER = "register"
    EDIT_EVIDENCE = "edit_evidence"  # model card, reference dataset
    PROMOTE_TRAIN = "promote_train"
    REQUEST_APPROVAL = "request_approval"
    APPROVE = "approve"
    DEPLOY = "deploy"
    OPERATE = "operate"  # serve, rollback, undeploy, verify into evaluate
    MONITOR = "monitor"
    ACK_REVIEW = "ack_review"
    RETIRE = "retire"
    RECONCILE = "reconcile"
    VERIFY_AUDIT = "verify_audit"
    RAISE_FINDING = "raise_finding"  # open, comment on, assign findings
    ACCEPT_RISK = "accept_risk"  # vote to accept a finding's risk until a date


_ALL_ROLES = frozenset(Role)

# Segregation of duties: admin manages people and fixes state, it does not approve or deploy.
PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.READ: _ALL_ROLES,
    Action.VERIFY_AUDIT: _ALL_ROLES,
    Action.MANAGE_USERS: frozenset({Role.ADMIN}),
    Action.MANAGE_POLICY: frozenset({Role.ADMIN}),
    Action.REGISTER: frozenset({Role.DATA_SCIENTIST}),
    Action.EDIT_EVIDENCE: frozenset({Role.DATA_SCIENTIST}),
    Action.PROMOTE_TRAIN: frozenset({Role.DATA_SCIENTIST}),
    Action.REQUEST_APPROVAL: frozenset({Role.DATA_SCIENTIST}),
    Action.APPROVE: frozenset({Role.RISK_OFFICER}),
    Action.DEPLOY: frozenset({Role.ML_ENGINEER}),
    Action.OPERATE: frozenset({Role.ML_ENGINEER}),
    Action.MONITOR: frozenset({Role.ML_ENGINEER, Role.RISK_OFFICER, Role.DATA_SCIENTIST}),
    Action.ACK_REVIEW: frozenset({Role.RISK_OFFICER}),
    Action.RETIRE: frozenset({Role.ADMIN, Role.RISK_OFFICER}),
    Action.RECONCILE: frozenset({Role.ADMIN, Role.ML_ENGINEER}),
    # Whoever builds, runs or validates a model may record a problem with it; auditors only
    # read and admins do not take part in model decisions.
    Action.RAISE_FINDING: frozenset({Role.DATA_SCIENTIST, Role.ML_ENGINEER, Role.RISK_OFFICER}),
    Action.ACCEPT_RISK: frozenset({Role.RISK_OFFICER}),
}

_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def validate_user_name(name: str) -> str:
    if not _USER_NAME.fullmatch(name or ""):
        raise BadInput(
            f"malformed user name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    return name


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise BadInput(f"unknown role '{value}': use one of {allowed}") from None


def roles_for(action: Action) -> frozenset[Role]:
    return PERMISSIONS[action]
