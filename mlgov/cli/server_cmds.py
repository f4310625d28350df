"""The governance server."""

from __future__ import annotations

import click

from mlgov.cli.context import local_platform


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
def server(host: str, port: int, workers: int) -> None:
    """Run the governance server: the REST API under /api/v1 (OpenAPI at
    /api/v1/openapi.json). Every request proves who it is with `Authorization: Bearer
    <token>`: a personal token (`mlgov tokens create`) or, with MLGOV_OIDC_ISSUER,
    MLGOV_OIDC_AUDIENCE and MLGOV_OIDC_JWKS set, a JWT from the bank's identity provider;
    --user plays no part in it."""
    from mlgov.server import run as surface

    surface.serve(local_platform().settings, host=host, port=port, workers=workers)


COMMANDS = [server]
