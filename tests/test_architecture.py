"""The import contracts in pyproject.toml hold, and they would catch a breach; the installed
package type-checks with the project's mypy configuration (issue 17)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
ADAPTED = ("governance", "registry", "deploy", "monitoring")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _package_tree(dest: Path) -> Path:
    """The mlgov package as installed (each top-level folder mapped to mlgov.NAME), copied."""
    ignore = shutil.ignore_patterns("__pycache__")
    root = dest / "mlgov"
    shutil.copytree(Path(importlib.util.find_spec("mlgov").origin).parent, root, ignore=ignore)
    for name in ADAPTED:
        spec = importlib.util.find_spec(f"mlgov.{name}")
        shutil.rmtree(root / name, ignore_errors=True)
        shutil.copytree(Path(spec.origin).parent, root / name, ignore=ignore)
    return dest


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(PYPROJECT)],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return _package_tree(tmp_path_factory.mktemp("arch"))


def test_the_import_contracts_hold(tree):
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    "module, source, contract",
    [
        ("governance/_probe.py", "import mlflow\n", "governance core imports no ML library"),
        ("governance/_probe.py", "import click\n", "governance core imports no ML library"),
        ("registry/_probe.py", "import mlgov.deploy\n", "adapters do not import each other"),
        ("cli/_probe.py", "from mlgov.governance import errors\n", "CLI reaches the core"),
        ("cli/_probe.py", "import mlgov.app\n", "CLI reaches the core"),
    ],
)
def test_a_breach_of_a_contract_fails_the_lint(tree, tmp_path, module, source, contract):
    breached = tmp_path / "breached"
    shutil.copytree(tree, breached)
    (breached / "mlgov" / module).write_text(source)
    result = _lint(breached)
    assert result.returncode == 1
    assert f"{contract}" in result.stdout and "BROKEN" in result.stdout


def test_test_only_code_is_not_shipped() -> None:
    """Insider tampering and toy-model helpers live under tests/support (issue 17 item 4)."""
    for name in ("mlgov.governance.tampering", "mlgov.registry.testing"):
        assert importlib.util.find_spec(name) is None, f"{name} is installed"


@pytest.mark.slow  # a cold mypy run over the whole package: about 15 s
@pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None, reason="mypy is not installed (the dev extra)"
)
def test_the_installed_package_type_checks(tmp_path: Path) -> None:
    """As `make lint` runs it: outside the source tree (where `mlgov` would be the bare mlgov/
    folder), on the installed package, with the [tool.mypy] configuration (issue 17 item 3)."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(PYPROJECT), "-p", "mlgov"]
        + ["--cache-dir", str(tmp_path / "mypy_cache")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout
