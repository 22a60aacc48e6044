"""The ``remit`` Typer app: global options, the command groups, and the ``main()`` console-script entry point."""

import gc
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from remit.cli import (
    access_tokens,
    agents,
    audit,
    ca,
    db,
    demo,
    entities,
    events,
    keys,
    output,
    policies,
    registration,
    resources,
    roles,
    serve,
    tokens,
    users,
)
from remit.cli.errors import guarded
from remit.cli.options import AsJson
from remit.cli.state import backend
from remit.cli.tree import RootGroup, root_state

HELP = (
    "Remit: access management for AI agents.\n\n"
    "Admin commands work on the local estate in REMIT_HOME (default ./.remit) directly: whoever can write "
    "REMIT_HOME is an admin, and changes are recorded as local:<your OS user>. "
    "With --url (or REMIT_URL) they go to a running server instead, authenticated by the admin token in "
    "REMIT_TOKEN (or --token-file). A server sees changes made either way at its next request. "
    "The global options (--url, --token-file, --home) may come before the command or after it.\n\n"
    "Exit codes: 0 done, 1 refused or failed, 2 bad command line."
)

app = typer.Typer(
    cls=RootGroup,
    help=HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            "--url", envvar="REMIT_URL", metavar="URL", help="A Remit server to talk to, e.g. http://127.0.0.1:8400."
        ),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file", metavar="PATH", help="Read the admin token for --url from PATH (else REMIT_TOKEN)."
        ),
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home", envvar="REMIT_HOME", metavar="DIR", help="The local estate's directory (default ./.remit)."
        ),
    ] = None,
) -> None:
    ctx.obj = root_state(ctx, url=url or None, token_file=token_file, home=home)


app.add_typer(agents.app, name="agent")
app.add_typer(users.app, name="user")
app.add_typer(roles.app, name="role")
app.add_typer(resources.app, name="resource")
app.add_typer(tokens.app, name="admin-token")
app.add_typer(access_tokens.app, name="token")
app.add_typer(registration.app, name="registration-token")
app.add_typer(policies.app, name="policy")
app.add_typer(entities.app, name="entities")
app.add_typer(db.app, name="db")
app.add_typer(audit.app, name="audit")
app.add_typer(keys.app, name="keys")
app.add_typer(ca.app, name="ca")
app.command("init")(db.init)
app.command("serve")(serve.serve)
app.command("demo")(demo.demo)
app.command("events")(events.events)


@app.command("whoami")
def whoami(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Who the commands act as, and where."""
    b = backend(ctx)
    me = b.whoami()
    if as_json:
        output.emit_json({**me, "location": b.location})
        return
    user = f" for user {me['user_id']}" if me.get("user_id") else ""
    output.console().print(Text(f"{me['actor']} ({me['role']}{user}) on {b.location}"))


#: the cyclic collector's thresholds while a command runs (CPython's default: 700, 10, 10). A command's start
#: builds many objects that live as long as the process (the modules it imports, the command tree, the store's
#: mappings) and next to no garbage cycles: at 700 the collector walked them again and again, ~200 young and ~20
#: middle collections and a full one on a local read (~40 ms of it). The server's thresholds
#: (``remit.policy.refresh.SERVER_GC_THRESHOLDS``): garbage that only the collector frees waits for 50,000
#: allocations more than frees, a few megabytes at most, in a long command (``audit tail --follow``) too.
CLI_GC_THRESHOLDS = (50_000, 20, 20)


def main() -> None:
    """The ``remit`` console script: failures end as one red line and exit code 1, never a traceback."""
    thresholds = gc.get_threshold()
    gc.set_threshold(*CLI_GC_THRESHOLDS)
    try:
        guarded(lambda: app(prog_name="remit"))
    except typer.Exit as done:  # from ``guarded`` when the failure came before Typer's own handling
        sys.exit(done.exit_code)
    finally:
        gc.set_threshold(*thresholds)  # as it was, for a caller that goes on (a test calling ``main``)
        # The process ends now. What it built (modules, the command tree, the store's mappings) is freed with it:
        # the collection at interpreter exit would walk all of it and find nothing to free (~0.1 s of a local read).
        gc.freeze()
