"""The governance server: mlgov.api over HTTP under /api/v1, identity from credentials only."""
