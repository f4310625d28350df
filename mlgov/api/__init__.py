"""The one API every surface calls: the CLI today, the REST server and the console next.

One function per use case, in a module per area (`mlgov.api.users`, `mlgov.api.models`, ...).
Each takes the `Platform` (settings and the governance service, opened once), an explicit
`Actor` and typed inputs, and returns a frozen `Result` whose `to_json()` is the shape the CLI
prints with `--format json`. Errors are the core's `MlgovError` family (`mlgov.api.errors`).
Modules import the core and adapters lazily where they are heavy, so a surface that imports
the API to build its command tree stays fast.
"""

from __future__ import annotations

from mlgov.api.actor import Actor, Identification
from mlgov.api.platform import Platform
from mlgov.api.results import Record, Records, Result

__all__ = ["Actor", "Identification", "Platform", "Record", "Records", "Result"]
