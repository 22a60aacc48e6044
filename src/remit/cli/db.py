"""``remit init`` and ``remit db``: create a Remit home, its database and first admin token; migrate the schema."""

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from remit.cli import output
from remit.cli.state import state
from remit.errors import ConfigurationError, Conflict

# The database modules (SQLAlchemy, Alembic) are imported inside the commands: `remit --url ...` never needs them.

app = typer.Typer(help="The database schema: `remit db upgrade`, `remit db current`.", no_args_is_help=True)


def init(
    ctx: typer.Context,
    admin_token_file: Annotated[
        Path | None,
        typer.Option(
            "--admin-token-file",
            metavar="PATH",
            help="Write the first admin token to PATH (mode 0600) instead of printing it.",
            dir_okay=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="On a home that is already initialised, mint another admin token (no data lost)."),
    ] = False,
) -> None:
    """Create REMIT_HOME (mode 0700), its database and the first admin token, printed once.

    Always local: whoever can write REMIT_HOME is an admin of this estate.
    """
    from remit.cli.home import bootstrap_token, has_admin_token, open_estate
    from remit.store import migrate

    settings = state(ctx).settings()
    remit = open_estate(settings, create=True)
    try:
        if has_admin_token(remit) and not force:
            raise Conflict(
                f"{settings.home} is already initialised (it has an admin token); "
                "pass --force to mint another admin token, or `remit admin-token create`"
            )
        token, secret = bootstrap_token(remit, file=admin_token_file)
    finally:
        remit.close()
    out = output.console()
    out.print(Text(f"initialised Remit in {settings.home} (schema {migrate.head()})", style="green"))
    if admin_token_file is not None:
        out.print(Text(f"admin token {token.id} written to {admin_token_file} (mode 0600)"))
        return
    out.print(Text(f"admin token {token.id} - shown once, store it now:"))
    out.print(Text(secret), soft_wrap=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Bring the database schema to the latest version (creating the database if needed)."""
    from remit.cli.home import open_estate
    from remit.store import migrate

    settings = state(ctx).settings()
    open_estate(settings, create=True).close()
    output.done(f"database schema at {migrate.head()} (latest)")


@app.command("current")
def current(ctx: typer.Context) -> None:
    """Show the database's schema version and the latest one."""
    from sqlalchemy.engine import make_url

    from remit.cli.home import sqlite_file
    from remit.store import migrate
    from remit.store.bounds import Timeouts
    from remit.store.db import make_engine

    settings = state(ctx).settings()
    db = sqlite_file(settings)
    if db is not None and not db.is_file():
        raise ConfigurationError(f"no Remit database at {db}; run `remit init` first (or set REMIT_HOME)")
    engine = make_engine(settings.resolved_database_url, timeouts=Timeouts.from_settings(settings.store))
    try:
        at = migrate.current(engine)
    finally:
        engine.dispose()
    head = migrate.head()
    where = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    out = output.console()
    out.print(Text(f"database: {where}"))
    out.print(Text(f"schema:   {at or 'none'}"))
    out.print(Text(f"latest:   {head}"))
    if at != head:
        out.print(Text("run `remit db upgrade` to bring it up to date", style="yellow"))
