"""Starting the server: check the store first, then hand the app to uvicorn."""

from __future__ import annotations

import os

from mlgov.api import Platform
from mlgov.config import Settings


def serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Serve until stopped. The OIDC settings are checked and the store is opened once
    first, so a bad configuration or a missing or outdated store is reported before the port
    is bound, with the CLI's message and exit code."""
    import uvicorn

    from mlgov.config import load_oidc_settings, load_settings
    from mlgov.server import oidc
    from mlgov.server.app import create_app

    if not 1 <= workers <= 64:
        from mlgov.api.errors import BadInput

        raise BadInput("--workers must be from 1 to 64")
    # Half an OIDC configuration or an unusable JWKS file stops the server here (exit 2).
    configured = load_oidc_settings()
    verifier = oidc.verifier(configured) if configured else None
    # The client's address (the failure throttle's key, recorded in audit events) comes from
    # X-Forwarded-For/Forwarded only when the operator names the proxies that may set it
    # (uvicorn's FORWARDED_ALLOW_IPS). uvicorn's own default trusts 127.0.0.1, where any
    # local client could then pick a new address per attempt.
    proxied = bool(os.environ.get("FORWARDED_ALLOW_IPS"))
    check = Platform(settings)
    check.governance().store.engine.dispose()
    home = str(settings.home)
    if workers == 1:
        app = create_app(lambda: load_settings(home=home), verifier=verifier)
        uvicorn.run(
            app, host=host, port=port, log_level="info", server_header=False, proxy_headers=proxied
        )
        return
    # Several worker processes import the app themselves; they find the home in the environment.
    os.environ["MLGOV_HOME"] = home
    uvicorn.run(
        "mlgov.server.app:create_app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        server_header=False,
        proxy_headers=proxied,
    )
