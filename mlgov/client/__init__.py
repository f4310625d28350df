"""The CLI's remote twin of `mlgov.api`: the same use cases, with the same signatures and the
same typed results, carried out by a governance server over HTTP (MLGOV_URL + MLGOV_TOKEN).

Each module here mirrors the `mlgov.api` module of its name; the CLI picks one or the other
(`mlgov.cli.context.use_cases`), so a command parses, calls and renders the same either way.
"""
