"""The `mlgov` command. Errors are turned into messages and exit codes here, once."""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import click

from mlgov.api.errors import MlgovError
from mlgov.cli.context import CliState

EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE, what git and the shell report for a closed pipe


class MlgovGroup(click.Group):
    """The root group: the one catch site for usage, domain and unexpected errors."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            rv = super().main(*args, **kwargs)
        except click.UsageError as exc:  # one line, like every other error
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            click.echo(f"mlgov: error: {exc.format_message()}{where}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("mlgov: aborted", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except BrokenPipeError:
            _end_on_closed_pipe()  # the reader stopped (`| head`): not an error of ours
        except MlgovError as exc:
            if str(exc):  # ProblemsFound has printed its findings already
                click.echo(f"mlgov: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except Exception as exc:  # noqa: BLE001 - the one place that catches everything
            st = ctx.find_object(CliState)
            if st is not None and st.debug:
                traceback.print_exc()
            click.echo(
                f"mlgov: internal error: {type(exc).__name__}: {exc} "
                "(rerun with --debug for details, and report it if it persists)",
                err=True,
            )
            ctx.exit(1)
        finally:
            _show_warnings(ctx)


def _end_on_closed_pipe() -> None:
    """End quietly, as git does, when the reader of stdout went away (`mlgov audit log | head`).

    stdout is pointed at /dev/null first so the interpreter's final flush cannot raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # no real file descriptor (e.g. a test runner's buffer): nothing left to flush
    sys.exit(EXIT_CLOSED_PIPE)


def _show_warnings(ctx: click.Context) -> None:
    """What the service noted without failing the call (e.g. a checkpoint not written)."""
    st = ctx.find_object(CliState)
    for message in st.warnings if st is not None else ():
        click.echo(f"mlgov: warning: {message}", err=True)


def _no_policy_override(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    # Round one's --policy let any user pick the rules (and so the approver) per command.
    if value is not None:
        raise click.UsageError(
            "--policy is no longer accepted: the policy in force lives in the governance "
            "store; an admin puts a file in force with `mlgov policy set FILE`",
            ctx,
        )


@click.group(cls=MlgovGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--user",
    metavar="NAME",
    help="Act as this user (default: $MLGOV_USER, else the OS user).",
)
@click.option(
    "--policy",
    hidden=True,
    help="Refused: the policy in force lives in the store (`mlgov policy set FILE`).",
    expose_value=False,
    is_eager=True,
    callback=_no_policy_override,
)
@click.option(
    "--home",
    metavar="DIR",
    help="Where mlgov keeps its data in embedded mode (default: $MLGOV_HOME, else ./.mlgov).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.version_option(package_name="mlgov", prog_name="mlgov", help="Show the version and exit.")
@click.pass_context
def cli(ctx: click.Context, user: str | None, home: str | None, debug: bool):
    """mlgov: governance of the whole life of AI models.

    Versions move develop -> train -> deploy -> evaluate -> retire; every move passes a gate and
    is recorded in a hash-chained audit trail. Exit codes: 0 done, 1 refused (gate, policy,
    permission), 2 bad usage or input.
    """
    ctx.obj = CliState(user=user, home=home, debug=debug)


def _register_commands() -> None:
    from mlgov.cli import (
        approval_cmds,
        audit_cmds,
        deploy_cmds,
        finding_cmds,
        model_cmds,
        monitor_cmds,
        report_cmds,
        server_cmds,
        setup_cmds,
    )

    for module in (
        setup_cmds,
        model_cmds,
        approval_cmds,
        finding_cmds,
        deploy_cmds,
        monitor_cmds,
        report_cmds,
        audit_cmds,
        server_cmds,
    ):
        for command in module.COMMANDS:
            cli.add_command(command)


_register_commands()


def main() -> None:
    cli.main(prog_name="mlgov")


if __name__ == "__main__":  # pragma: no cover
    main()
