"""Named fault points, for tests that prove a move is all-or-nothing.

`MLGOV_FAULT=<point>` makes the process fail at that point: by raising (default), or with
`MLGOV_FAULT_MODE=kill` by SIGKILL-ing itself, as a crash would.
"""

from __future__ import annotations

import os
import signal

POINTS = ("after-side-effect", "before-commit", "after-commit", "mid-audit-append")


class InjectedFault(RuntimeError):
    """Raised at a named fault point (never in production: the variable is unset)."""


def fault_point(name: str) -> None:
    if os.environ.get("MLGOV_FAULT") != name:
        return
    if os.environ.get("MLGOV_FAULT_MODE") == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise InjectedFault(f"injected fault at {name}")
