"""The web console at `/`: server-rendered pages over the same mlgov.api calls as the REST API
and the CLI. Every page works without JavaScript (plain forms, POST-redirect-GET)."""

from mlgov.server.console.routes import router

__all__ = ["router"]
