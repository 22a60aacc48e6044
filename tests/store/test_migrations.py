"""Alembic migrations and engine construction, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateIndex, CreateTable

from remit.admin.access import AdminPrincipal
from remit.container import Remit
from remit.errors import ConfigurationError
from remit.paging import PageRequest
from remit.registry import UserDraft
from remit.registry.ports import UserFilter
from remit.store import migrate
from remit.store.db import make_engine
from remit.store.tables import Base

TABLES = {t.name for t in Base.metadata.sorted_tables}


def test_upgrade_is_idempotent(remit: Remit, admin: AdminPrincipal) -> None:
    assert migrate.current(remit.engine) == migrate.head()
    remit.registry.create_user(admin, UserDraft(id="alice", email="alice@example.org"))
    migrate.upgrade(remit.engine)
    migrate.upgrade(remit.engine)
    assert migrate.current(remit.engine) == migrate.head()
    # nothing was dropped or recreated
    assert [u.id for u in remit.registry.list_users(admin, UserFilter(), PageRequest(limit=10)).items] == ["alice"]


def test_schema_has_exactly_the_model_tables(remit: Remit) -> None:
    names = set(inspect(remit.engine).get_table_names())
    assert names == TABLES | {"alembic_version"}


def test_migrated_schema_matches_the_models(remit: Remit) -> None:
    """Autogenerate finds nothing to do: the migrations and ``remit.store.tables`` describe the same schema.

    Types are compared too (``compare_type``), and server defaults. The two variant types,
    ``JSON().with_variant(JSONB(), "postgresql")`` and ``BigInteger().with_variant(Integer(), "sqlite")``,
    compare clean on both databases with the Alembic in use, so no difference is filtered out here; should
    an Alembic upgrade start reporting such variant-only noise, filter exactly that kind of diff and say so.
    """
    with remit.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in Base.metadata.sorted_tables
        }


def test_each_test_starts_from_a_freshly_migrated_store(remit: Remit, tmp_path: Path) -> None:
    """What the fixtures hand out holds exactly what migrations put in (seed rows included), on both databases."""
    fresh = make_engine(f"sqlite:///{tmp_path}/reference.db")
    try:
        migrate.upgrade(fresh)
        expected = row_counts(fresh)
    finally:
        fresh.dispose()
    assert row_counts(remit.engine) == expected


def test_fresh_sqlite_database_starts_empty(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/deep/er/remit.db")  # parent directories are created
    try:
        assert migrate.current(engine) is None
        assert inspect(engine).get_table_names() == []
        migrate.upgrade(engine)
        assert migrate.current(engine) == migrate.head()
        assert (tmp_path / "deep" / "er" / "remit.db").is_file()
    finally:
        engine.dispose()


def test_downgrade_then_upgrade(remit: Remit) -> None:
    """The downgrade of every revision runs, and the schema comes back whole."""
    config = migrate._config(remit.engine)
    try:
        command.downgrade(config, "base")
        assert migrate.current(remit.engine) is None
        assert set(inspect(remit.engine).get_table_names()) <= {"alembic_version"}
    finally:
        migrate.upgrade(remit.engine)  # the PostgreSQL database is shared by the session: always restore it
    assert migrate.current(remit.engine) == migrate.head()
    assert set(inspect(remit.engine).get_table_names()) == TABLES | {"alembic_version"}


def test_current_reads_what_alembic_reads(remit: Remit) -> None:
    """``current`` (which does not import Alembic) agrees with Alembic's own reading at the head, at an older
    revision and on a database without a schema."""

    def alembic_current() -> str | None:
        with remit.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    config = migrate._config(remit.engine)
    try:
        assert migrate.current(remit.engine) == alembic_current() == migrate.head()
        command.downgrade(config, "0005")
        assert migrate.current(remit.engine) == alembic_current() == "0005"
        command.downgrade(config, "base")
        assert migrate.current(remit.engine) == alembic_current()
        assert migrate.current(remit.engine) is None
    finally:
        migrate.upgrade(remit.engine)
    assert migrate.current(remit.engine) == migrate.head()


def test_revisions_form_one_line() -> None:
    script = ScriptDirectory.from_config(migrate._config_for_scripts())
    assert script.get_heads() == [migrate.head()]
    revisions = list(script.walk_revisions())  # head first
    assert revisions[0].revision == migrate.head()
    assert revisions[-1].down_revision is None
    for newer, older in itertools.pairwise(revisions):
        assert newer.down_revision == older.revision


# -- engines --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://user@localhost/remit", "unsupported database 'mysql'"),
        ("mysql+pymysql://user@localhost/remit", "unsupported database 'mysql'"),
        ("mssql+pyodbc://user@dsn", "unsupported database 'mssql'"),
        ("oracle://user@host/db", "unsupported database 'oracle'"),
        ("garbage", "not a valid SQLAlchemy URL"),
        ("", "not a valid SQLAlchemy URL"),
        ("://nothing", "not a valid SQLAlchemy URL"),
        ("postgres://user@localhost/remit", "unsupported database 'postgres'"),
        ("postgresql+psycopg2://user@localhost/remit", "use the psycopg driver"),
        ("postgresql+asyncpg://user@localhost/remit", "use the psycopg driver"),
    ],
    ids=[
        "mysql",
        "mysql-driver",
        "mssql",
        "oracle",
        "garbage",
        "empty",
        "no-scheme",
        "postgres",
        "psycopg2",
        "asyncpg",
    ],
)
def test_make_engine_refuses_unsupported_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        make_engine(url)
    assert info.value.code == "configuration_error"
    assert message in info.value.message
    assert "user@localhost" not in info.value.message  # the URL (and any password in it) is not echoed


def test_plain_postgresql_url_means_psycopg() -> None:
    engine = make_engine("postgresql://user@localhost/remit")  # SQLAlchemy 2.1's default driver; no connection yet
    try:
        assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg")
    finally:
        engine.dispose()


def test_sqlite_engine_settings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/remit.db")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 2000  # store.statement_timeout_seconds
    finally:
        engine.dispose()


def test_sqlite_enforces_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/remit.db")
    try:
        migrate.upgrade(engine)
        with pytest.raises(IntegrityError, match="FOREIGN KEY"), engine.begin() as conn:
            conn.execute(text("INSERT INTO role_agents (role, agent) VALUES ('nope', 'nope')"))
    finally:
        engine.dispose()


def test_engine_follows_the_url(remit: Remit, database_url: str) -> None:
    dialect = remit.engine.dialect
    if database_url.startswith("sqlite"):
        assert (dialect.name, remit.engine.url.database) == ("sqlite", str(remit.settings.home / "remit.db"))
    else:
        assert (dialect.name, dialect.driver) == ("postgresql", "psycopg")
        with remit.engine.connect() as conn:
            assert conn.execute(text("SELECT current_setting('server_encoding')")).scalar() == "UTF8"


def test_the_tables_compile_to_each_databases_types_and_partial_index(tmp_path: Path) -> None:
    """JSON columns are JSONB on PostgreSQL and the active signing key's unique index is partial on both databases,
    though neither declaration loads the PostgreSQL dialect (``for_postgresql``, run by ``make_engine``)."""
    engines = {
        "postgresql": make_engine("postgresql+psycopg://remit@127.0.0.1:9/nothing"),  # built, never connected
        "sqlite": make_engine(f"sqlite:///{tmp_path}/ddl.db"),
    }
    table = Base.metadata.tables["signing_keys"]
    (index,) = table.indexes
    for name, engine in engines.items():
        try:
            ddl = str(CreateTable(table).compile(dialect=engine.dialect))
            assert f"public_jwk {'JSONB' if name == 'postgresql' else 'JSON'} NOT NULL" in ddl
            indexed = str(CreateIndex(index).compile(dialect=engine.dialect))
            assert (
                indexed == "CREATE UNIQUE INDEX uq_signing_keys_active ON signing_keys (status) WHERE status = 'active'"
            )
        finally:
            engine.dispose()
