"""`mlgov audit log | head` ends quietly when the reader goes away (issue 17, item 6)."""

from __future__ import annotations

import os
import subprocess
import sys

from mlgov.cli.main import EXIT_CLOSED_PIPE


def test_audit_log_into_a_closed_pipe_ends_quietly(home):
    env = dict(os.environ, MLGOV_HOME=str(home), MLGOV_USER="u_aud")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlgov.cli.main", "audit", "log"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd="/",
    )
    proc.stdout.close()  # the reader is gone before mlgov writes its first line
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == EXIT_CLOSED_PIPE
    assert stderr == ""


def test_audit_log_piped_to_head_prints_only_what_head_shows(home):
    env = dict(os.environ, MLGOV_HOME=str(home), MLGOV_USER="u_aud")
    result = subprocess.run(
        ["bash", "-c", f"{sys.executable} -m mlgov.cli.main audit log | head -2"],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        check=True,
    )
    assert len(result.stdout.splitlines()) == 2
    assert "Error" not in result.stderr and "internal error" not in result.stderr
