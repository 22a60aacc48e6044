"""The options every command shares (``--url``, ``--token-file``, ``--home``) and choosing the backend from them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from remit.errors import ConfigurationError

if TYPE_CHECKING:
    from remit.cli.backend import Backend
    from remit.settings import Settings

#: the global options, by parameter name: the root's, and accepted after any subcommand too (``tree.py``)
GLOBAL_OPTIONS = ("url", "token_file", "home")


@dataclass(frozen=True, slots=True)
class CliState:
    url: str | None = None  #: the server to talk to; None: work on REMIT_HOME directly
    token_file: Path | None = None  #: a file holding the admin token (else REMIT_TOKEN)
    home: Path | None = None  #: REMIT_HOME given on the command line
    given: frozenset[str] = frozenset()  #: which of the above were given on the command line (not the environment)

    def settings(self, **overrides: Any) -> Settings:
        """Settings from the environment and ``remit.toml``, with ``overrides`` (e.g. ``remit serve --port``) over
        them, so that what is derived from them (the token issuer's URL) follows."""
        from remit.settings import load_settings  # pydantic-settings: only for commands that read settings

        return load_settings(home=self.home, **overrides) if self.home is not None else load_settings(**overrides)

    def token(self) -> str:
        if self.token_file is not None:
            value = self.token_file.read_text(encoding="utf-8").strip()
            where = str(self.token_file)
        else:
            value = os.environ.get("REMIT_TOKEN", "").strip()
            where = "REMIT_TOKEN"
        if not value:
            raise ConfigurationError(
                f"talking to a server needs an admin token: {where} is empty (set REMIT_TOKEN or pass --token-file)"
            )
        return value

    def open(self) -> Backend:
        """The remote backend when a URL is given, else the local one."""
        if self.url:
            from remit.cli.remote import RemoteBackend  # httpx only when needed

            return RemoteBackend(self.url, self.token())
        from remit.cli.local import LocalBackend  # the store (SQLAlchemy) only when needed

        return LocalBackend(self.settings())


def state(ctx: typer.Context) -> CliState:
    found = ctx.find_object(CliState)
    return found if found is not None else CliState()


def backend(ctx: typer.Context) -> Backend:
    """The backend for this invocation; closed when the command ends."""
    opened = state(ctx).open()
    ctx.call_on_close(opened.close)
    return opened
