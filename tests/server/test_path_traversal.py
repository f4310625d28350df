"""Path parameters and file names that try to leave the store (issue 18, item 5): encoded and
double-encoded dot segments, backslashes, NUL, absolute paths, very long names, in every
path parameter of every route and in the upload `filename` query. Each is answered 4xx
(never 5xx, never done), and nothing outside MLGOV_HOME is read or written: a canary file
beside the home keeps its bytes and its access time, and no new file appears outside.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from support.server_home import MODEL, Governed, operations

pytestmark = pytest.mark.slow

PARAM = re.compile(r"\{(\w+)\}")
OPS = [op for op in operations() if "{" in op[1]]


def _payloads(g: Governed, canary: Path) -> list[str]:
    """Values of a path parameter, as they go on the wire (already percent-encoded)."""
    up = "..%2f" * 8
    relative = os.path.relpath(canary, g.home / "uploads").replace("/", "%2f")
    # A bare ".." is not sent: every HTTP client (httpx here) resolves dot segments before
    # sending, so the server sees another path, not a parameter.
    return [
        "%2e%2e",
        f"{up}etc%2fpasswd",
        f"..%2F..%2F{canary.name}",
        relative,
        "%252e%252e%252f%252e%252e%252fetc%252fpasswd",
        "..%5c..%5c..%5cwindows%5cwin.ini",
        "..\\..\\etc\\passwd".replace("\\", "%5c"),
        "%2fetc%2fpasswd",
        str(canary).replace("/", "%2f"),
        "%00",
        f"{MODEL}%00.txt",
        "....%2f%2f....%2f%2fetc",
        "%c0%ae%c0%ae%2f",  # overlong UTF-8 dots
        "x" * 5000,
    ]


# A role the route's work is open to, so a traversal gets past authorization (the matrix
# checks who may call what; here the point is what the call does with the name).
def _role(method: str, template: str) -> str:
    if method == "GET":
        return "auditor"
    last = template.rstrip("/").rsplit("/", 1)[-1]
    by_step = {
        "rollback": "ml_engineer",
        "undeploy": "ml_engineer",
        "card": "data_scientist",
        "reference": "data_scientist",
        "versions": "data_scientist",
        "moves": "data_scientist",
        "approval-requests": "data_scientist",
        "drift-checks": "data_scientist",
        "decisions": "risk_officer",
        "tier-confirmation": "risk_officer",
        "review-acknowledgements": "risk_officer",
        "retirement": "risk_officer",
        "evidence-packs": "auditor",
    }
    return by_step.get(last, "admin")


def _body(template: str) -> dict[str, Any] | None:
    last = template.rstrip("/").rsplit("/", 1)[-1]
    return {
        "card": {"fields": {"intended_use": "x"}},
        "versions": {"risk_tier": "low", "purpose": "x", "run_id": "0" * 32},
        "moves": {"to": "train"},
        "approval-requests": {},
        "decisions": {"decision": "approve"},
        "tier-confirmation": {"reason": "x"},
        "review-acknowledgements": {"comment": "x"},
        "retirement": {"reason": "x"},
        "undeploy": {},
    }.get(last)


def _outside(g: Governed) -> set[str]:
    """Every file under the test's root but outside the home, and the top of /, /etc and
    the working directory (where a relative path would land). Not /tmp: other processes
    (and MLflow in this one) make temporary folders there all the time."""
    root = g.home.parent
    seen = {str(p) for p in root.rglob("*") if g.home not in p.parents and p != g.home}
    for top in ("/", "/etc", os.getcwd()):
        seen |= {os.path.join(top, n) for n in os.listdir(top)}
    return seen


CANARY = "secret,column\n1,2\n"
LONG_AGO = 1_000_000_000


def _untouched(canary: Path) -> None:
    """Not read (its access time, where the file system keeps one) and not written."""
    stat = canary.stat()
    assert (stat.st_atime, stat.st_mtime) == (LONG_AGO, LONG_AGO), "the canary was touched"
    assert canary.read_text() == CANARY
    os.utime(canary, (LONG_AGO, LONG_AGO))  # this test's own read does not count


@pytest.fixture(scope="module")
def canary(governed: Governed) -> Path:
    path = governed.home.parent / "canary.csv"
    path.write_text(CANARY)
    os.utime(path, (LONG_AGO, LONG_AGO))
    return path


@pytest.mark.parametrize("op", OPS, ids=[f"{m} {p}" for m, p in OPS])
def test_traversal_in_path_parameters(
    governed: Governed, canary: Path, op: tuple[str, str]
) -> None:
    method, template = op
    before = _outside(governed)
    real = {"model": MODEL, "version": governed.version, "target": MODEL, "name": "nobody"}
    real |= {"token_id": "999999", "result_id": "999999"}
    wrong = []
    with governed.app() as client:
        headers = governed.bearer(_role(method, template))
        for param in PARAM.findall(template):
            for value in _payloads(governed, canary):
                path = template
                for other in PARAM.findall(template):
                    path = path.replace(f"{{{other}}}", value if other == param else real[other])
                kwargs: dict[str, Any] = {"headers": dict(headers)}
                if template.endswith(("/reference", "/drift-checks")) and method != "GET":
                    kwargs["content"] = b"a,b\n1,2\n"
                    kwargs["headers"]["Content-Type"] = "text/csv"
                    kwargs["params"] = {"filename": f"../../{canary.name}"}
                elif (body := _body(template)) is not None:
                    kwargs["json"] = body
                r = client.request(method, path, **kwargs)
                if not 400 <= r.status_code < 500:
                    wrong.append(f"{param}={value[:60]}: {r.status_code} {r.text[:200]}")
    assert not wrong, wrong
    _untouched(canary)
    assert _outside(governed) == before


FILENAMES = [
    "../../canary.csv",
    "..\\..\\canary.csv",
    "..%2f..%2fcanary.csv",
    "%252e%252e%252fcanary.csv",
    "/etc/passwd",
    "C:\\Windows\\win.ini",
    "\\\\server\\share\\x.csv",
    "x\x00.csv",
    "~/.ssh/authorized_keys",
    "." * 300,
    "a" * 5000 + ".csv",
    "CON",
    "",
]


@pytest.mark.parametrize("step", ["reference", "drift-checks"])
def test_traversal_in_upload_file_names(governed: Governed, canary: Path, step: str) -> None:
    """The client's file name is recorded, reduced to a safe base name under the home's
    uploads; it never chooses where the bytes go."""
    before = _outside(governed)
    method = "PUT" if step == "reference" else "POST"
    path = f"/api/v1/models/{MODEL}/versions/{governed.version}/{step}"
    with governed.app() as client:
        for name in FILENAMES + [str(canary), os.path.relpath(canary, governed.home / "uploads")]:
            r = client.request(
                method,
                path,
                params={"filename": name},
                content=b"a,b\n1,2\n",
                headers=governed.bearer("data_scientist") | {"Content-Type": "text/csv"},
            )
            assert r.status_code < 500, (name[:60], r.status_code, r.text[:300])
    _untouched(canary)
    assert _outside(governed) == before
    uploads = governed.home / "uploads"
    assert not uploads.exists() or not any(uploads.rglob("*.csv")), "an upload was left behind"
