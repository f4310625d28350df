"""The governed home the server's security tests share (see support/server_home.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.server_home import Governed, build


@pytest.fixture(scope="session")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Governed]:
    yield from build(tmp_path_factory.mktemp("server-security"))
