"""Every command x role: allowed (exit 0) or refused with exit 1 naming the missing role."""

from __future__ import annotations

import pytest

ALL = {"admin", "data_scientist", "risk_officer", "ml_engineer", "auditor"}
USER_OF = {
    "admin": "u_admin",
    "data_scientist": "u_ds",
    "risk_officer": "u_ro",
    "ml_engineer": "u_eng",
    "auditor": "u_aud",
}

# (command line, roles allowed). Extended by each package that adds commands.
MATRIX = [
    (["whoami"], ALL),
    (["users", "list"], ALL),
    (["users", "add", "newcomer", "--role", "auditor"], {"admin"}),
    (["users", "remove", "u_aud"], {"admin"}),
    (["policy", "show"], ALL),
    (["models", "list"], ALL),
    (["models", "show", "credit"], ALL),
    (["models", "show", "credit", "1"], ALL),
    (["promote", "credit", "1", "--to", "train"], {"data_scientist"}),
    (["promote", "credit", "2", "--to", "deploy"], {"ml_engineer"}),
    (["promote", "credit", "3", "--to", "evaluate"], {"ml_engineer"}),
    (["retire", "credit", "1", "--reason", "obsolete"], {"admin", "risk_officer"}),
    (["audit", "log"], ALL),
    (["audit", "verify"], ALL),
    (["audit", "export", "--out", "{tmp}/audit.jsonl"], ALL),
]


@pytest.mark.parametrize("role", sorted(ALL))
@pytest.mark.parametrize(
    "args,allowed", MATRIX, ids=lambda x: " ".join(x) if isinstance(x, list) else None
)
def test_permission_matrix(mlgov, tmp_path, role, args, allowed):
    if role == "auditor" and args[:2] == ["users", "remove"]:
        args = ["users", "remove", "u_ds"]  # the auditor cannot remove itself anyway
    result = mlgov(*[a.replace("{tmp}", str(tmp_path)) for a in args], user=USER_OF[role])
    if role in allowed:
        # allowed: done, or refused by the gate's evidence checks, never for permission
        assert result.exit_code == 0 or "gate '" in result.output, result.output
        assert "may not" not in result.output
    else:
        assert result.exit_code == 1, result.output
        assert "may not" in result.output and "Traceback" not in result.output


def test_unknown_user_refused_with_hint(mlgov):
    result = mlgov("models", "list", user="stranger")
    assert result.exit_code == 1
    assert "ask an admin" in result.output
