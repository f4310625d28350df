"""One authenticated connection to a governance server; problem+json answers become the
domain errors the CLI already turns into messages and exit codes."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mlgov.api import errors
from mlgov.api.actor import Actor, Identification

API = "/api/v1"
DEFAULT_TIMEOUT_S = 30.0
# Building a service or checking drift on a large file takes minutes, not seconds.
LONG_TIMEOUT_S = 1800.0
# Reads, and writes sent with an Idempotency-Key (the server does a retried write once).
_RETRIES = 2
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ServerSettings:
    url: str
    token: str
    ca_bundle: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S


def server_settings(environ: Mapping[str, str] | None = None) -> ServerSettings | None:
    """MLGOV_URL (with MLGOV_TOKEN, optional MLGOV_CA_BUNDLE and MLGOV_TIMEOUT_S), else the
    login file written by `mlgov login`, else None: embedded mode."""
    from mlgov.client.login import stored_login

    env = os.environ if environ is None else environ
    url = (env.get("MLGOV_URL") or "").strip()
    token = (env.get("MLGOV_TOKEN") or "").strip()
    if not url:
        stored = stored_login()
        if stored is None:
            if token:
                raise errors.BadInput("MLGOV_TOKEN is set but MLGOV_URL is not: set both")
            return None
        url, token = stored.url, token or stored.token
    if not url.startswith(("https://", "http://")):
        raise errors.BadInput(f"MLGOV_URL {url!r} must start with https:// or http://")
    if not token:
        raise errors.BadInput(
            f"no token for {url}", hint="set MLGOV_TOKEN or run `mlgov login --url URL`"
        )
    timeout = env.get("MLGOV_TIMEOUT_S")
    try:
        timeout_s = float(timeout) if timeout else DEFAULT_TIMEOUT_S
    except ValueError:
        timeout_s = -1.0
    if not 0 < timeout_s <= 3600:
        raise errors.BadInput("MLGOV_TIMEOUT_S must be a number of seconds in (0, 3600]")
    ca = env.get("MLGOV_CA_BUNDLE") or None
    if ca and not Path(ca).is_file():
        raise errors.BadInput(f"MLGOV_CA_BUNDLE {ca}: no such file")
    return ServerSettings(url.rstrip("/"), token, ca, timeout_s)


class ServerConnection:
    """What a remote use case is given instead of a Platform. Identity is the token's: the
    server says who that is (`whoami`); no name the client picks plays a part."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self._http = httpx.Client(
            base_url=settings.url + API,
            headers={"Authorization": f"Bearer {settings.token}"},
            timeout=settings.timeout_s,
            verify=settings.ca_bundle or True,
            follow_redirects=False,
        )
        self._me: Actor | None = None
        self.warnings: list[str] = []

    @property
    def url(self) -> str:
        return self.settings.url

    def me(self) -> Actor:
        if self._me is None:
            name = self.get("/whoami")["name"]
            self._me = Actor(name, Identification.TOKEN)
        return self._me

    def get(self, path: str, **params: Any) -> Any:
        return self._call("GET", path, params=_params(params)).json()

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        long: bool = False,
        idempotent: bool = True,
        **params: Any,
    ) -> Any:
        """`idempotent=False` for the one write whose answer must not be kept by the server
        (a new token's secret): it is then never retried."""
        response = self._write(
            "POST", path, body, long=long, params=_params(params), idempotent=idempotent
        )
        return response.json()

    def put(self, path: str, body: Any) -> Any:
        return self._write("PUT", path, body).json()

    def delete(self, path: str) -> Any:
        return self._write("DELETE", path, None).json()

    def upload(self, method: str, path: str, file: Path, **params: Any) -> Any:
        """Send a CSV or Parquet file as the body, streamed from disk."""
        content_type = _data_type(file)
        if not file.is_file():
            raise errors.NotFound(f"file {file} not found")
        with file.open("rb") as handle:
            response = self._call(
                method,
                path,
                params=_params(params | {"filename": file.name}),
                content=_chunks(handle),
                headers={"Content-Type": content_type},
                timeout=LONG_TIMEOUT_S,
            )
        return response.json()

    def download(self, method: str, path: str, out: Path) -> httpx.Headers:
        """Write the answer's body to `out` as it arrives; return its headers."""
        try:
            with self._http.stream(method, path, timeout=LONG_TIMEOUT_S) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error_of(response)
                with out.open("wb") as handle:
                    for chunk in response.iter_bytes(_CHUNK):
                        handle.write(chunk)
                return response.headers
        except httpx.TransportError as exc:
            raise _unreachable(self.url, exc) from None

    def _write(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        long: bool = False,
        params: dict[str, Any] | None = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        return self._call(
            method,
            path,
            json=body,
            params=params,
            headers=_idempotency() if idempotent else {},
            timeout=LONG_TIMEOUT_S if long else None,
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        keyed = "Idempotency-Key" in (kwargs.get("headers") or {})
        attempts = 1 + (_RETRIES if method == "GET" or keyed else 0)
        for attempt in range(attempts):
            try:
                response = self._http.request(
                    method, path, timeout=timeout or self.settings.timeout_s, **kwargs
                )
            except httpx.TransportError as exc:
                if attempt + 1 < attempts:
                    continue
                raise _unreachable(self.url, exc) from None
            if response.status_code == 503 and method == "GET" and attempt + 1 < attempts:
                continue
            if response.status_code >= 400:
                raise _error_of(response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        self._http.close()


def _params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Query parameters that were given (None left out; booleans as the server parses them)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None or value is False:
            continue
        out[key] = "true" if value is True else value
    return out


def _idempotency() -> dict[str, str]:
    # One key per call, the same for its retries: the server does the write once.
    return {"Idempotency-Key": secrets.token_urlsafe(24)}


def _chunks(handle: Any) -> Iterator[bytes]:
    while chunk := handle.read(_CHUNK):
        yield chunk


def _data_type(file: Path) -> str:
    suffix = file.suffix.lower()
    if suffix == ".csv":
        return "text/csv"
    if suffix in (".parquet", ".pq"):
        return "application/vnd.apache.parquet"
    raise errors.BadInput(f"{file}: send a .csv or .parquet file")


def _unreachable(url: str, exc: httpx.TransportError) -> errors.Unavailable:
    kind = type(exc).__name__
    if isinstance(exc, httpx.ConnectError) and "CERTIFICATE" in str(exc).upper():
        return errors.Unavailable(
            f"the server at {url} presented a certificate that could not be verified",
            hint="set MLGOV_CA_BUNDLE to your bank's CA file",
        )
    return errors.Unavailable(f"the server at {url} could not be reached ({kind})")


def _error_of(response: httpx.Response) -> errors.MlgovError:
    """The problem+json answer as the error of the same kind (and so the same exit code)."""
    try:
        body = response.json()
        detail = str(body.get("detail") or body.get("title") or "")
    except ValueError:
        body, detail = {}, ""
    status = response.status_code
    detail = detail or f"the server answered HTTP {status}"
    if status == 401:
        return errors.NotAuthenticated(
            f"the server did not accept your token: {detail}",
            hint="check MLGOV_TOKEN, or ask an admin for a new token",
        )
    if status == 403:
        return errors.PermissionDenied(detail)
    if status == 404:
        return errors.NotFound(detail)
    if status == 413:
        return errors.TooLarge(detail)
    if status in (400, 422):
        return errors.BadInput(detail)
    if status == 503:
        return errors.Unavailable(detail)
    if status == 502:
        return errors.ExternalError(detail)
    if status == 429:
        retry = response.headers.get("retry-after")
        return errors.Refused(detail + (f" (retry after {retry} s)" if retry else ""))
    if status == 409 and body.get("title") == "conflict":
        return errors.Conflict(detail)
    if status < 500:
        return errors.Refused(detail)
    return errors.ExternalError(f"the server failed (HTTP {status}): {detail}")
