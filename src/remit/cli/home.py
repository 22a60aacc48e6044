"""The local estate: ``REMIT_HOME`` on disk, opening its database, and the local admin principal.

Whoever can write ``REMIT_HOME`` can read the database and its keys, so local commands act as an admin,
recorded in the audit trail as ``local:<os user>``.
"""

from __future__ import annotations

import getpass
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from remit.admin.access import AdminPrincipal, AdminRole
from remit.errors import ConfigurationError
from remit.paging import PageRequest
from remit.store import migrate

if TYPE_CHECKING:  # the whole of Remit (the token service, the policy engine, the audit log): only when used
    from remit.admin.tokens import AdminToken
    from remit.container import Remit
    from remit.settings import Settings
    from remit.wiring import Foundation

HOME_MODE = 0o700
SECRET_MODE = 0o600


def local_principal() -> AdminPrincipal:
    """The admin acting through ``REMIT_HOME``: ``local:<os user>``."""
    try:
        who = getpass.getuser()
    except (OSError, KeyError):
        who = f"uid-{os.getuid()}"
    return AdminPrincipal(actor=f"local:{who}", role=AdminRole.ADMIN)


def sqlite_file(settings: Settings) -> Path | None:
    """The SQLite database file, or None for PostgreSQL or an in-memory database."""
    if not settings.is_sqlite:
        return None
    database = make_url(settings.resolved_database_url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


def ensure_home(settings: Settings) -> Path:
    """Create ``REMIT_HOME`` (mode 0700) when it is missing; return it."""
    home = settings.home
    if not home.exists():
        home.mkdir(mode=HOME_MODE, parents=True)
        home.chmod(HOME_MODE)  # mkdir's mode is filtered by the umask
    elif not home.is_dir():
        raise ConfigurationError(f"REMIT_HOME {home} exists and is not a directory", field="home")
    return home


def open_estate(settings: Settings, *, create: bool, foundation: Foundation | None = None) -> Remit:
    """Open the database; with ``create``, create home and schema, else refuse an uninitialised home.
    ``foundation``: the database, store and registry of ``open_registry``, already open and checked, to build on."""
    from remit.container import Remit

    if foundation is not None:
        return Remit.from_settings(settings, foundation=foundation)

    if create:
        ensure_home(settings)
        remit = Remit.from_settings(settings, migrate_schema=True)
        db = sqlite_file(settings)
        if db is not None and db.is_file() and db.stat().st_mode & 0o077:
            db.chmod(SECRET_MODE)  # holds token digests and the whole inventory
        return remit
    _require_database(settings)
    remit = Remit.from_settings(settings, migrate_schema=False)
    try:
        _require_schema(remit.engine)
    except BaseException:
        remit.close()
        raise
    return remit


def open_registry(settings: Settings) -> Foundation:
    """The database, store and registry service of an initialised home whose schema is up to date, for a command
    that needs no more (``open_estate`` wires the whole of Remit)."""
    from remit.clock import SystemClock
    from remit.wiring import Foundation

    _require_database(settings)
    base = Foundation.from_settings(settings, SystemClock(), migrate_schema=False)
    try:
        _require_schema(base.engine)
    except BaseException:
        base.engine.dispose()
        raise
    return base


def _require_database(settings: Settings) -> None:
    db = sqlite_file(settings)
    if db is not None and not db.is_file():
        raise ConfigurationError(f"no Remit database at {db}; run `remit init` first (or set REMIT_HOME)")


def _require_schema(engine: Engine) -> None:
    at = migrate.current(engine)
    if at is None:
        raise ConfigurationError("the database has no Remit schema; run `remit init` first")
    if at != migrate.head():
        raise ConfigurationError(f"the database schema is at {at}, not {migrate.head()}; run `remit db upgrade`")


def has_admin_token(remit: Remit) -> bool:
    """Whether the estate was initialised: it holds at least one admin token."""
    page = remit.admin_tokens.list(local_principal(), PageRequest(limit=1))
    return bool(page.items)


def open_secret_file(path: Path) -> int:
    """Open ``path`` for writing a secret: created or truncated, mode 0600, never through a symlink."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, SECRET_MODE)
    try:
        os.fchmod(fd, SECRET_MODE)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigurationError(f"{path} is not a regular file", field="admin_token_file")
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_secret(fd: int, secret: str) -> None:
    """Write ``secret`` and a newline to a descriptor from ``open_secret_file``, and close it."""
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secret + "\n")


def bootstrap_token(remit: Remit, *, name: str = "bootstrap", file: Path | None = None) -> tuple[AdminToken, str]:
    """Mint an admin token as the local admin; with ``file``, also write its value there (mode 0600)."""
    fd = open_secret_file(file) if file is not None else None
    try:
        token, secret = remit.admin_tokens.bootstrap(local_principal().actor, name=name)
    except BaseException:
        if fd is not None:
            os.close(fd)
        raise
    if fd is not None:
        write_secret(fd, secret)
    return token, secret
