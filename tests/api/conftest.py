"""API fixtures: a platform on a fresh embedded home, called as a surface would call it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgov.api import Actor, Platform
from mlgov.config import load_settings


@pytest.fixture
def open_platform(tmp_path: Path):
    """Platforms on one home, one per call, as separate CLI processes or server requests."""
    home = tmp_path / "home"
    opened: list[Platform] = []

    def make(user: str = "admin") -> Platform:
        platform = Platform(load_settings(user=user, home=str(home)))
        opened.append(platform)
        return platform

    yield make
    for platform in opened:
        if platform.opened:
            platform.governance().store.engine.dispose()


@pytest.fixture
def admin() -> Actor:
    return Actor.asserted("admin")


class _OnService(Platform):
    """A platform on an already open governance service (the core's fake adapters)."""

    def __init__(self, gov, settings=None) -> None:
        super().__init__(settings=settings)  # type: ignore[arg-type]
        self._gov = gov


@pytest.fixture
def on_service():
    """Wrap an open service (e.g. tests/conftest.py's `operated`) as a platform; `settings`
    only where a use case reads them (key files)."""
    return _OnService
