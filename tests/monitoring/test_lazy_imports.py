"""The CLI imports these modules: they must not pull in heavy libraries at import time."""

from __future__ import annotations

import subprocess
import sys


def test_monitoring_modules_import_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "import mlgov.monitoring.datasets, mlgov.monitoring.schema\n"
        "import mlgov.monitoring.quality, mlgov.monitoring.evidently_engine\n"
        "heavy = ('evidently', 'pandas', 'numpy', 'pyarrow', 'scipy', 'sklearn')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
