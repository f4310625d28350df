"""Start, wait for and stop the governed BentoML server as a child process.

The server runs `python -m bentoml serve` in its own process group, bound to 127.0.0.1
unless told otherwise (BentoML's own default is 0.0.0.0), with telemetry off and the
manifest path in its environment. BentoML starts its workers in sessions of their own, so
stopping signals the group (the arbiter stops its workers) and then ends any worker that
is left, tracked by psutil.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from mlgov.deploy.bento import SERVICE_IMPORT, require_in_store
from mlgov.deploy.manifest import read_manifest
from mlgov.deploy.service_env import MANIFEST_ENV, PROBE_TOKEN_ENV, WORKERS_ENV
from mlgov.governance.errors import BadInput, ExternalError

DEFAULT_HOST = "127.0.0.1"
TELEMETRY_OFF = {
    "DO_NOT_TRACK": "true",
    "BENTOML_DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


class PortInUse(BadInput):
    """The requested port is already taken on that host."""


def check_port_free(host: str, port: int) -> None:
    """Raise PortInUse when (host, port) cannot be bound right now."""
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise BadInput(f"invalid port {port!r}: use a number from 1 to 65535")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # The server sets SO_REUSEADDR too: a port in TIME_WAIT is free for it.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUse(
                f"port {port} on {host} is already in use: choose another with --port "
                "or stop what is listening there"
            ) from exc


def find_free_port(host: str = DEFAULT_HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def server_env(
    manifest_path: Path,
    *,
    workers: int,
    bentoml_home: str | os.PathLike[str] | None,
    base: Mapping[str, str] | None = None,
    probe_token: str | None = None,
) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.pop(PROBE_TOKEN_ENV, None)
    if probe_token is not None:
        env[PROBE_TOKEN_ENV] = probe_token
    env.update(TELEMETRY_OFF)
    # uvicorn believes X-Forwarded-For from 127.0.0.1 by default, and BentoML's access log
    # prints it as the client address: text any local caller chooses. Trust no proxy unless
    # the operator names one (FORWARDED_ALLOW_IPS=<the proxy's address>).
    env.setdefault("FORWARDED_ALLOW_IPS", "")
    env[MANIFEST_ENV] = str(manifest_path)
    env[WORKERS_ENV] = str(workers)
    if bentoml_home is not None:
        env["BENTOML_HOME"] = str(bentoml_home)
    return env


def server_command(
    manifest_path: Path, *, host: str, port: int, serve_bento: bool = True
) -> list[str]:
    """`bentoml serve` for the manifest's Bento when it has one, else the service module."""
    manifest = read_manifest(manifest_path)
    target = manifest.bento_tag if (serve_bento and manifest.bento_tag) else SERVICE_IMPORT
    return [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        target,
        "--host",
        host,
        "--port",
        str(port),
        "--working-dir",
        str(manifest_path.parent),
    ]


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_file: Path | None
    command: list[str] = field(default_factory=list)
    _seen: dict[int, Any] = field(default_factory=dict, repr=False)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def process_tree(self) -> list[int]:
        """The server's pid and its descendants' (BentoML workers run in their own sessions,
        so a process-group signal alone does not reach them)."""
        return [proc.pid for proc in self._tree()]

    def _tree(self) -> list[Any]:
        """Current descendants, also remembered for stop() (psutil.Process objects keep
        their start time, so a remembered one is never confused with a reused pid)."""
        import psutil

        try:
            root = psutil.Process(self.process.pid)
            found = [root, *root.children(recursive=True)]
        except psutil.Error:
            return []
        self._seen.update({proc.pid: proc for proc in found[1:]})
        return found

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM the process group (the arbiter stops its workers), SIGKILL what is left
        after `timeout`, including workers that outlived the arbiter; return the exit code."""
        import psutil

        self._tree()
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout)
        descendants = list(self._seen.values())
        for proc in descendants:
            _quietly(proc.terminate)
        _, alive = psutil.wait_procs(descendants, timeout=5)
        for proc in alive:
            _quietly(proc.kill)
        return self.process.returncode

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _quietly(action: Callable[[], object]) -> None:
    import psutil

    try:
        action()
    except psutil.Error:
        pass


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _prepare(
    manifest_path: str | os.PathLike[str],
    host: str,
    port: int,
    workers: int,
    *,
    bentoml_home: str | os.PathLike[str] | None,
    serve_bento: bool,
) -> Path:
    manifest_path = Path(manifest_path).resolve()
    manifest = read_manifest(manifest_path)  # NotFound / BadInput before anything starts
    if not isinstance(workers, int) or workers < 1:
        raise BadInput(f"invalid workers {workers!r}: use a positive number")
    require_in_store(
        bento_model_tag=manifest.bento_model_tag,
        bento_tag=manifest.bento_tag if serve_bento else None,
        bentoml_home=bentoml_home,
    )
    check_port_free(host, port)
    return manifest_path


def _spawn(
    manifest_path: str | os.PathLike[str],
    *,
    host: str,
    port: int,
    workers: int,
    log_file: str | os.PathLike[str] | None,
    bentoml_home: str | os.PathLike[str] | None,
    serve_bento: bool,
    probe_token: str | None = None,
) -> ServerProcess:
    path = _prepare(
        manifest_path, host, port, workers, bentoml_home=bentoml_home, serve_bento=serve_bento
    )
    command = server_command(path, host=host, port=port, serve_bento=serve_bento)
    output: int | None = None
    log_path = Path(log_file) if log_file is not None else None
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        output = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        process = subprocess.Popen(
            command,
            cwd=path.parent,
            env=server_env(
                path, workers=workers, bentoml_home=bentoml_home, probe_token=probe_token
            ),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT if output is not None else None,
            start_new_session=True,  # its own process group, stopped as one
        )
    except OSError as exc:
        raise ExternalError(f"could not start the BentoML server: {exc.strerror}") from exc
    finally:
        if output is not None:
            os.close(output)
    return ServerProcess(process=process, host=host, port=port, log_file=log_path, command=command)


def start_server(
    manifest_path: str | os.PathLike[str],
    *,
    host: str = DEFAULT_HOST,
    port: int,
    workers: int = 1,
    log_file: str | os.PathLike[str],
    bentoml_home: str | os.PathLike[str] | None = None,
    serve_bento: bool = True,
    probe_token: str | None = None,
) -> ServerProcess:
    """Start the server in the background; its stdout/stderr go to `log_file` (0600).
    Requests carrying `probe_token` are logged as probes (left out of monitoring).

    Refuses before starting anything: a missing manifest, model or Bento (NotFound), a
    port in use (PortInUse). Then call `wait_ready(server.url, server=server)`."""
    return _spawn(
        manifest_path,
        host=host,
        port=port,
        workers=workers,
        log_file=log_file,
        bentoml_home=bentoml_home,
        serve_bento=serve_bento,
        probe_token=probe_token,
    )


def wait_ready(
    url: str,
    timeout: float = 60.0,
    *,
    server: ServerProcess | None = None,
    path: str = "/readyz",
) -> None:
    """Poll `url + path` until it answers 200. Raise ExternalError at once when the server
    exits or reports that its model failed to load, and on timeout with the server's own
    reason for not being ready (e.g. "target is suspended: ...")."""
    import httpx

    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if server is not None and not server.alive():
            where = f"; see {server.log_file}" if server.log_file else ""
            raise ExternalError(
                f"the BentoML server exited with code {server.process.returncode} before it "
                f"was ready (a port in use, a missing Bento or a model that fails to load){where}"
            )
        try:
            response = httpx.get(url + path, timeout=2.0)
            if response.status_code == 200:
                return
            load_error, reason = _not_serving(httpx.get(url + "/metadata", timeout=2.0))
            if load_error:
                raise ExternalError(f"the server at {url} cannot serve: {load_error}")
            last = f"HTTP {response.status_code}" + (f": {reason}" if reason else "")
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.25)
    raise ExternalError(f"the server at {url} was not ready after {timeout:.0f} s ({last})")


def _not_serving(response: Any) -> tuple[str | None, str | None]:
    """(load_error, reason) from a /metadata answer, when it has them."""
    try:
        data = response.json() if response.status_code == 200 else {}
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    return data.get("load_error") or None, data.get("reason") or None


def serve_foreground(
    manifest_path: str | os.PathLike[str],
    *,
    host: str = DEFAULT_HOST,
    port: int,
    workers: int = 1,
    log_file: str | os.PathLike[str] | None = None,
    bentoml_home: str | os.PathLike[str] | None = None,
    serve_bento: bool = True,
) -> int:
    """Run the server until it exits or SIGINT/SIGTERM arrives (forwarded to its group);
    return its exit code. Output goes to `log_file`, or to this process's stdout/stderr."""
    server = _spawn(
        manifest_path,
        host=host,
        port=port,
        workers=workers,
        log_file=log_file,
        bentoml_home=bentoml_home,
        serve_bento=serve_bento,
    )

    def forward(signum: int, _frame: FrameType | None) -> None:
        server.process_tree()
        _signal_group(server.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                code = server.process.wait(timeout=2.0)
                break
            except subprocess.TimeoutExpired:
                server.process_tree()  # remember workers, to clean up after a crash too
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop(timeout=10)
    return code
