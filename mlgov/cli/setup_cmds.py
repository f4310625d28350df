"""Setting up: init, users, whoami, policy."""

from __future__ import annotations

import sys

import click

from mlgov.cli.context import caller, platform, use_cases
from mlgov.cli.output import emit_object, emit_rows, format_option

USER_COLUMNS = ["name", "roles", "active", "created_at", "created_by"]


@click.command()
@click.option(
    "--keys",
    is_flag=True,
    help="Also create the Ed25519 key pair that signs audit checkpoints (never overwrites).",
)
@format_option()
def init(keys: bool, fmt: str) -> None:
    """Create or upgrade the governance store; the first user becomes admin.

    An existing database is migrated to the current schema, never dropped. With --keys, also
    create the audit signing key ($MLGOV_SIGNING_KEY, else MLGOV_HOME/keys/audit-signing.key,
    mode 0600) and its public key (MLGOV_HOME/keys/audit-signing.pub), then write the first
    signed checkpoint.
    """
    api = use_cases("users")

    result = api.init(platform(), caller(), keys=keys)
    if fmt != "table":
        emit_object(result.to_json(), fmt)
        return
    click.echo(f"governance database: {result.database}")
    before, now = result.schema_before, result.schema_now
    click.echo(
        f"schema: {'created' if before is None else 'upgraded from ' + before} -> {now}"
        if before != now
        else f"schema: already current ({now})"
    )
    if result.admin_created:
        click.echo(f"first admin: {result.admin_created}")
    if result.keys is not None:
        k = result.keys
        click.echo(f"audit signing key: {k['private_key']} (mode 0600, key id {k['key_id']})")
        click.echo(
            f"public key: {k['public_key']} (keep a copy where the database's administrators "
            "cannot change it, and verify with MLGOV_VERIFY_KEY or --public-key)"
        )
        click.echo(f"first checkpoint: seq {k['checkpoint']['seq']} -> {', '.join(k['files'])}")


@click.command()
@format_option()
def whoami(fmt: str) -> None:
    """Show the acting user and their roles."""
    api = use_cases("users")

    emit_object(api.whoami(platform(), caller()).to_json(), fmt)


@click.group()
def users() -> None:
    """Manage users and their roles (admin)."""


@users.command("add")
@click.argument("name")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    metavar="ROLE",
    help="data_scientist, risk_officer, ml_engineer, auditor or admin; repeat for several.",
)
@format_option()
def users_add(name: str, roles: tuple[str, ...], fmt: str) -> None:
    """Add user NAME with roles, or grant an existing user more roles."""
    api = use_cases("users")

    emit_object(api.add_user(platform(), caller(), name, roles).to_json(), fmt)


@users.command("remove")
@click.argument("name")
@format_option()
def users_remove(name: str, fmt: str) -> None:
    """Deactivate user NAME (their history is kept)."""
    api = use_cases("users")

    emit_object(api.remove_user(platform(), caller(), name).to_json(), fmt)


@users.command("password")
@click.argument("name")
@click.option(
    "--password-stdin",
    "from_stdin",
    is_flag=True,
    help="Read the one-time password from the first line of stdin instead of generating one.",
)
@format_option()
def users_password(name: str, from_stdin: bool, fmt: str) -> None:
    """Set NAME a one-time console password (admin); NAME must change it at first sign-in.

    A generated password is printed once and stored only as an argon2id hash. Setting a
    password ends NAME's open console sessions.
    """
    from mlgov.api import sessions as api

    given: str | None = None
    if from_stdin:
        given = sys.stdin.readline().rstrip("\r\n")
    done = api.set_password(platform(), caller(), name, password=given)
    if fmt != "table":
        emit_object(done.to_json(), fmt)
        return
    click.echo(f"one-time password set for {done.user} (must be changed at first sign-in)")
    if done.sessions_ended:
        click.echo(f"{done.sessions_ended} open console session(s) ended")
    if done.password is not None:
        click.echo(done.password)
        click.echo("this password is shown once: hand it over now", err=True)


@users.command("list")
@click.option("--all", "include_removed", is_flag=True, help="Include removed users.")
@format_option()
def users_list(include_removed: bool, fmt: str) -> None:
    """List users and their roles."""
    api = use_cases("users")

    rows = api.list_users(platform(), caller(), include_removed=include_removed).to_json()
    emit_rows(rows, USER_COLUMNS + (["removed_at"] if include_removed else []), fmt)


@click.group()
def policy() -> None:
    """The policy in force: kept in the governance store, changed only by an admin."""


@policy.command("show")
@click.option("--tier", help="Show one risk tier only (high, medium, low).")
@format_option()
def policy_show(tier: str | None, fmt: str) -> None:
    """Print the policy in force: built-in defaults with the stored policy applied."""
    api = use_cases("policy")

    emit_object(api.show_policy(platform(), caller(), tier=tier).to_json(), fmt)


@policy.command("set")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@format_option()
def policy_set(file: str, fmt: str) -> None:
    """Put the policy TOML FILE in force (admin); audited with the policy's SHA-256.

    The file is checked first and refused, naming the key and the reason, if anything in
    it is wrong; the policy in force is then unchanged. Approvals already given stay bound
    to the policy they were given under.
    """
    api = use_cases("policy")

    result = api.set_policy(platform(), caller(), file)
    if fmt != "table":
        emit_object(result.to_json(), fmt)
        return
    click.echo(
        f"policy #{result.id} in force (digest {result.digest[:16]}, was "
        f"{result.previous_digest[:16]}); audit seq {result.audit_seq}"
    )


@policy.command("history")
@format_option()
def policy_history(fmt: str) -> None:
    """List every policy put in force, newest last."""
    api = use_cases("policy")

    rows = api.policy_history(platform(), caller()).to_json()
    emit_rows(rows, ["id", "set_at", "set_by", "source", "digest", "audit_seq", "in_force"], fmt)


TOKEN_COLUMNS = ["id", "user", "name", "state", "created_at", "expires_at", "last_used_at"]


@click.group()
def tokens() -> None:
    """Personal access tokens for the governance server (admin, or anyone for themselves)."""


@tokens.command("create")
@click.argument("user")
@click.option("--name", metavar="LABEL", help="What the token is for, e.g. the machine.")
@click.option(
    "--expires",
    "days",
    type=int,
    default=90,
    show_default=True,
    metavar="DAYS",
    help="Days until the token stops working (1-365).",
)
@format_option()
def tokens_create(user: str, name: str | None, days: int, fmt: str) -> None:
    """Create a token for USER and print its secret, once: it is stored only as a hash.

    Send it as `Authorization: Bearer <token>`. Keep it like a password; revoke it with
    `mlgov tokens revoke ID` when it may have been seen.
    """
    api = use_cases("tokens")

    created = api.create_token(platform(), caller(), user, name=name, days=days)
    if fmt != "table":
        emit_object(created.to_json(), fmt)
        return
    click.echo(
        f"token #{created.id} for {created.user} ({created.name}), expires {created.expires_at}"
    )
    click.echo(created.token)
    click.echo("this secret is shown once: store it now", err=True)


@tokens.command("list")
@click.option("--user", "owner", metavar="NAME", help="One user's tokens (admin).")
@format_option()
def tokens_list(owner: str | None, fmt: str) -> None:
    """List tokens (an admin sees everyone's, anyone else their own); never the secrets."""
    api = use_cases("tokens")

    emit_rows(api.list_tokens(platform(), caller(), user=owner).to_json(), TOKEN_COLUMNS, fmt)


@tokens.command("revoke")
@click.argument("token_id", type=int, metavar="ID")
@format_option()
def tokens_revoke(token_id: int, fmt: str) -> None:
    """Revoke token ID: it is refused from its next request on."""
    api = use_cases("tokens")

    emit_object(api.revoke_token(platform(), caller(), token_id).to_json(), fmt)


@click.command()
@click.option("--url", required=True, help="The governance server, e.g. https://mlgov.bank.example")
@click.option(
    "--token-stdin",
    is_flag=True,
    help="Read the token from standard input instead of asking for it.",
)
def login(url: str, token_stdin: bool) -> None:
    """Keep a token for URL (checked with the server first) in a file only you can read;
    later commands then run against that server. MLGOV_URL and MLGOV_TOKEN take precedence."""
    import sys

    from mlgov.client.connection import ServerConnection, ServerSettings, server_settings
    from mlgov.client.login import store_login

    if token_stdin:
        token = sys.stdin.readline().strip()
    else:
        token = click.prompt("token", hide_input=True).strip()
    settings = server_settings({"MLGOV_URL": url, "MLGOV_TOKEN": token or "-"})
    assert settings is not None
    conn = ServerConnection(ServerSettings(settings.url, token, settings.ca_bundle))
    try:
        me = conn.me()  # a token the server refuses is not kept
    finally:
        conn.close()
    path = store_login(settings.url, token)
    click.echo(f"logged in to {settings.url} as {me.name} (token kept in {path})")


@click.command()
def logout() -> None:
    """Forget the token `mlgov login` kept (the token itself stays valid until revoked)."""
    from mlgov.client.login import forget_login, login_file

    if forget_login():
        click.echo(f"logged out: {login_file()} removed")
    else:
        click.echo("not logged in: nothing to forget")


COMMANDS = [init, whoami, users, tokens, policy, login, logout]
