"""Named fault points, for tests that prove a move is all-or-nothing.

Only a test harness arms a point, by calling `arm()` in the process it tests; nothing in a
production install reads an environment variable or a setting that could arm one. An armed
point fails the process there: by raising `InjectedFault`, or with `kill=True` by SIGKILL-ing
itself, as a crash would.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

POINTS = ("after-side-effect", "before-commit", "after-commit", "mid-audit-append")


class InjectedFault(RuntimeError):
    """Raised at an armed fault point (never in production: nothing arms one)."""


@dataclass(frozen=True)
class _Armed:
    point: str
    kill: bool


_armed: _Armed | None = None


def arm(point: str, *, kill: bool = False) -> None:
    """Fail this process at `point` from now on (tests and the crash drill only)."""
    global _armed
    if point not in POINTS:
        raise ValueError(f"unknown fault point {point!r}: one of {', '.join(POINTS)}")
    _armed = _Armed(point, kill)


def disarm() -> None:
    global _armed
    _armed = None


def fault_point(name: str) -> None:
    if _armed is None or _armed.point != name:
        return
    if _armed.kill:
        os.kill(os.getpid(), signal.SIGKILL)
    raise InjectedFault(f"injected fault at {name}")
