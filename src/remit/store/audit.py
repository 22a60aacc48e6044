"""The audit log's storage: appending to the chain under the head row's lock, checkpoints, queries, reading the
chain back for verification and export, retention.

Appends from every thread, process and server go through ``append_in``, which locks the ``audit_head`` row
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers), so the chain
has one order. The audit writer calls it for a whole batch in one transaction (group commit); admin changes call
it inside their own transaction, so a change and its record commit together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Engine, Table, delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from remit.audit.chain import Checkpoint, StoredRecord, checkpoint_payload, link
from remit.audit.record import INDEX_WIDTHS, canonical, index_columns, index_key, with_seq
from remit.errors import StoreError, ValidationError
from remit.paging import Page, PageRequest
from remit.store.bounds import unbounded
from remit.store.db import READONLY
from remit.store.tables import AuditCheckpointRow, AuditHeadRow, AuditRow

log = logging.getLogger(__name__)

HEAD_ID = 1

#: signs a checkpoint payload: (payload) -> (key_id, signature)
Signer = Callable[[bytes], tuple[str, str]]


@dataclass(frozen=True, slots=True)
class CheckpointPolicy:
    """When the appender writes a checkpoint: every ``every`` records, or when ``seconds`` have passed."""

    signer: Signer
    every: int = 1000


@dataclass(frozen=True, slots=True)
class Head:
    seq: int
    hash: str
    checkpoint_seq: int
    checkpoint_at: str
    first_seq: int
    first_prev_hash: str


@dataclass(frozen=True, slots=True)
class AuditFilter:
    agent: str | None = None
    owner: str | None = None
    resource: str | None = None  #: ``Type::id``
    action: str | None = None
    kind: str | None = None
    allowed: bool | None = None
    since: str | None = None  #: canonical timestamps, inclusive / exclusive
    until: str | None = None


def append_in(
    session: Session, bodies: Sequence[dict[str, Any]], *, checkpoint: CheckpointPolicy | None = None, now: str = ""
) -> list[tuple[int, str]]:
    """Chain and insert ``bodies`` (records without ``seq``) in ``session``'s transaction; return (seq, hash) of
    each. Writes a checkpoint after the last one if the policy says one is due."""
    if not bodies:
        return []
    seq, prev, checkpoint_seq = session.execute(_READ_HEAD).one()
    rows, out = _chained(bodies, seq, prev)
    seq, prev = out[-1]
    _insert(session, rows)
    values: dict[str, Any] = {"seq": seq, "hash": prev}
    if checkpoint is not None and seq - checkpoint_seq >= checkpoint.every:
        at = now or rows[-1][_AT]
        values.update(write_checkpoint(session, seq, prev, at, checkpoint.signer))
    session.connection().execute(_WRITE_HEAD, values)
    return out


def _chained(
    bodies: Sequence[dict[str, Any]], seq: int, prev: str
) -> tuple[list[tuple[Any, ...]], list[tuple[int, str]]]:
    """The rows of ``bodies`` chained after (``seq``, ``prev``), and the (seq, hash) of each."""
    rows: list[tuple[Any, ...]] = []
    out: list[tuple[int, str]] = []
    for body in bodies:
        seq += 1
        full = with_seq(body, seq)
        text = canonical(full)
        digest = link(prev, text)
        rows.append((seq, *_indexed(index_columns(full)), text, prev, digest))
        out.append((seq, digest))
        prev = digest
    return rows, out


def _plain(rows: list[tuple[Any, ...]]) -> bool:
    """Rows the DBAPI takes as they are: an ``allowed`` that is a bool or None (else the column type converts it,
    or refuses it, through SQLAlchemy)."""
    return all(r[_ALLOWED] is None or type(r[_ALLOWED]) is bool for r in rows)


# The head row through Core statements built once: the ORM's entity load and its bulk update (synchronising the
# session) cost more than the rest of a small batch. Nothing else in an appending session holds the head row.
_HEAD = cast(Table, AuditHeadRow.__table__)
_READ_HEAD = select(_HEAD.c.seq, _HEAD.c.hash, _HEAD.c.checkpoint_seq).where(_HEAD.c.id == HEAD_ID).with_for_update()
_WRITE_HEAD = update(_HEAD).where(_HEAD.c.id == HEAD_ID)


#: the indexed columns, named by ``index_columns`` itself (a minimal record gives every key)
_INDEXED = tuple(index_columns({"id": "", "at": "", "kind": "", "action": ""}))
_indexed = itemgetter(*_INDEXED)
#: the columns of one record's row, in the order ``append_in`` builds them
_COLUMNS = ("seq", *_INDEXED, "text", "prev_hash", "hash")
_AT = _COLUMNS.index("at")
_ALLOWED = _COLUMNS.index("allowed")


def _insert(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """One ``executemany`` on the DBAPI cursor of the session's connection (so in its transaction).

    The ORM's bulk insert costs more per row than the hashing and the database together (it builds and binds a
    dict per row); rows that need a column type's conversion (an ``allowed`` that is not a bool or None) still go
    through it, so that they are stored, or refused, exactly as before."""
    conn = session.connection()
    statements = _dbapi_sql(conn.dialect)
    sql = statements.insert if statements is not None else None
    if sql is None or not _plain(rows):
        session.execute(insert(AuditRow), [dict(zip(_COLUMNS, r, strict=True)) for r in rows])
        return
    conn.exec_driver_sql(sql, rows)


@dataclass(frozen=True, slots=True)
class _DbapiSql:
    """The group commit's statements in the DBAPI's own parameter style (``?`` for sqlite3, ``%s`` for psycopg)."""

    begin: str | None  #: SQLite: ``BEGIN IMMEDIATE`` (the write lock at once); psycopg begins on its own
    read_head: str
    write_head: str
    write_head_checkpoint: str
    insert: str
    insert_checkpoint: str

    @classmethod
    def of(cls, dialect: Any) -> _DbapiSql | None:
        if dialect.paramstyle not in ("qmark", "format", "pyformat"):
            return None
        m = "?" if dialect.paramstyle == "qmark" else "%s"
        sqlite = dialect.name == "sqlite"
        quote = dialect.identifier_preparer
        head = quote.format_table(_HEAD)
        events = quote.format_table(AuditRow.__table__)
        checkpoints = quote.format_table(AuditCheckpointRow.__table__)
        names = ", ".join(quote.quote(c) for c in _COLUMNS)
        # no input reaches these strings: table and column names are the model's, values are bound
        return cls(
            begin="BEGIN IMMEDIATE" if sqlite else None,
            read_head=f"SELECT seq, hash, checkpoint_seq FROM {head} WHERE id = {m}"  # noqa: S608
            + ("" if sqlite else " FOR UPDATE"),
            write_head=f"UPDATE {head} SET seq = {m}, hash = {m} WHERE id = {m}",  # noqa: S608
            write_head_checkpoint=(
                f"UPDATE {head} SET seq = {m}, hash = {m}, checkpoint_seq = {m}, checkpoint_at = {m} WHERE id = {m}"  # noqa: S608
            ),
            insert=f"INSERT INTO {events} ({names}) VALUES ({', '.join([m] * len(_COLUMNS))})",  # noqa: S608
            insert_checkpoint=(
                f"INSERT INTO {checkpoints} (seq, at, hash, key_id, signature) VALUES ({m}, {m}, {m}, {m}, {m})"  # noqa: S608
            ),
        )


class _NeedsConversion(Exception):
    """A batch with a value only SQLAlchemy's column types can convert (or refuse): it goes the session's way."""


def _append_dbapi(
    connection: Any, sql: _DbapiSql, bodies: Sequence[dict[str, Any]], checkpoint: CheckpointPolicy | None
) -> list[tuple[int, str]]:
    """``append_in`` on a bare DBAPI connection, in one transaction of its own, committed here: the same rows, the
    same head lock (``BEGIN IMMEDIATE`` on SQLite, ``FOR UPDATE`` on PostgreSQL), the same checkpoints."""
    cursor = connection.cursor()
    try:
        if sql.begin is not None:
            cursor.execute(sql.begin)
        cursor.execute(sql.read_head, (HEAD_ID,))
        seq0, prev0, checkpoint_seq = cursor.fetchone()
        rows, out = _chained(bodies, seq0, prev0)
        if not _plain(rows):
            raise _NeedsConversion
        seq, prev = out[-1]
        cursor.executemany(sql.insert, rows)
        if checkpoint is not None and seq - checkpoint_seq >= checkpoint.every:
            at = rows[-1][_AT]
            key_id, signature = _sign_checkpoint(seq, prev, at, checkpoint.signer)
            cursor.execute(sql.insert_checkpoint, (seq, at, prev, key_id, signature))
            cursor.execute(sql.write_head_checkpoint, (seq, prev, seq, at, HEAD_ID))
        else:
            cursor.execute(sql.write_head, (seq, prev, HEAD_ID))
        connection.commit()
        return out
    finally:
        cursor.close()


#: the statements per (dialect, paramstyle); None: a paramstyle we do not write for (the session's way then)
_DBAPI_SQL: dict[tuple[str, str], _DbapiSql | None] = {}


def _dbapi_sql(dialect: Any) -> _DbapiSql | None:
    key = (dialect.name, dialect.paramstyle)
    if key not in _DBAPI_SQL:
        _DBAPI_SQL[key] = _DbapiSql.of(dialect)
    return _DBAPI_SQL[key]


def _abandon(connection: Any) -> None:
    """Roll back a failed append's transaction; a connection that cannot even do that is not pooled again."""
    try:
        connection.rollback()
    except Exception:
        connection.invalidate()


def _sign_checkpoint(seq: int, hash_: str, at: str, signer: Signer) -> tuple[str, str]:
    """(key id, signature) of a checkpoint at ``seq``: the signer's key id goes into the payload it signs."""
    key_id, _ = signer(b"")
    _, signature = signer(checkpoint_payload(seq, hash_, at, key_id))
    return key_id, signature


def write_checkpoint(session: Session, seq: int, hash_: str, at: str, signer: Signer) -> dict[str, Any]:
    """Insert a checkpoint for ``seq``; return the head's new checkpoint columns."""
    key_id, signature = _sign_checkpoint(seq, hash_, at, signer)
    session.execute(insert(AuditCheckpointRow).values(seq=seq, at=at, hash=hash_, key_id=key_id, signature=signature))
    return {"checkpoint_seq": seq, "checkpoint_at": at}


class AuditStore:
    """The audit tables over one SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._read = sessionmaker(engine.execution_options(**{READONLY: True}), expire_on_commit=False)

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        """A read session; a database that cannot be read (gone, locked, corrupt) is a ``StoreError``."""
        try:
            with self._read() as session:
                yield session
        except SQLAlchemyError as exc:
            log.error("audit log read failed: %s", type(exc).__name__)
            raise StoreError("the audit log could not be read (the database is unavailable or damaged)") from exc

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        try:
            with self._sessions() as session, session.begin():
                yield session
        except SQLAlchemyError as exc:
            log.error("audit log write failed: %s", type(exc).__name__)
            raise StoreError("the audit log could not be written") from exc

    def append(
        self, bodies: Sequence[dict[str, Any]], *, checkpoint: CheckpointPolicy | None = None
    ) -> list[tuple[int, str]]:
        """One transaction, one commit: the group commit.

        On the DBAPI connection itself (``_append_dbapi``): a session, its transaction and its connection events
        cost ~1.5 ms of CPU a commit here, more than the writing of a 20-record batch. Same rows, same locks."""
        if not bodies:
            return []
        sql = _dbapi_sql(self.engine.dialect)
        if sql is not None:
            try:
                return self._append_dbapi(sql, bodies, checkpoint)
            except _NeedsConversion:
                pass
        try:
            with self._sessions() as session, session.begin():
                return append_in(session, bodies, checkpoint=checkpoint)
        except SQLAlchemyError as exc:
            log.error("audit append failed: %s", type(exc).__name__)
            raise StoreError("the audit log could not be written") from exc

    def _append_dbapi(
        self, sql: _DbapiSql, bodies: Sequence[dict[str, Any]], checkpoint: CheckpointPolicy | None
    ) -> list[tuple[int, str]]:
        dbapi_error: type[Exception] = self.engine.dialect.loaded_dbapi.Error
        try:
            connection = self.engine.raw_connection()  # from the pool, with the engine's PRAGMAs / pre-ping
        except SQLAlchemyError as exc:
            log.error("audit append failed: %s", type(exc).__name__)
            raise StoreError("the audit log could not be written") from exc
        try:
            return _append_dbapi(connection, sql, bodies, checkpoint)
        except BaseException as exc:
            _abandon(connection)
            if isinstance(exc, dbapi_error):
                log.error("audit append failed: %s", type(exc).__name__)
                raise StoreError("the audit log could not be written") from exc
            raise
        finally:
            connection.close()  # back to the pool (or gone, if abandoned)

    def checkpoint_now(self, signer: Signer, at: str) -> int | None:
        """Sign the chain's current end if it is not signed yet; return its seq (None if nothing to sign)."""
        with self._writing() as session:
            head = session.execute(
                select(AuditHeadRow).where(AuditHeadRow.id == HEAD_ID).with_for_update()
            ).scalar_one()
            if head.seq == 0 or head.seq == head.checkpoint_seq:
                return None
            values = write_checkpoint(session, head.seq, head.hash, at, signer)
            session.execute(update(AuditHeadRow).where(AuditHeadRow.id == HEAD_ID).values(**values))
            return head.seq

    def head(self) -> Head:
        with self._reading() as session:
            row = session.execute(select(AuditHeadRow).where(AuditHeadRow.id == HEAD_ID)).scalar_one()
            return Head(row.seq, row.hash, row.checkpoint_seq, row.checkpoint_at, row.first_seq, row.first_prev_hash)

    def has_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are already in the log (spool replay is idempotent)."""
        found: set[str] = set()
        with self._reading() as session:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                found.update(session.execute(select(AuditRow.id).where(AuditRow.id.in_(chunk))).scalars())
        return found

    def query(self, where: AuditFilter, page: PageRequest) -> Page[tuple[int, str]]:
        """(seq, text) newest first; the cursor is the last seq seen."""
        q = select(AuditRow.seq, AuditRow.text)
        if where.agent is not None:
            q = q.where(AuditRow.agent == where.agent)
        if where.owner is not None:
            q = q.where(AuditRow.owner == where.owner)
        if where.resource is not None:
            q = q.where(AuditRow.resource == where.resource)
        if where.action is not None:
            q = q.where(AuditRow.action == where.action)
        if where.kind is not None:
            q = q.where(AuditRow.kind == where.kind)
        if where.allowed is not None:
            q = q.where(AuditRow.allowed == where.allowed)
        if where.since is not None:
            q = q.where(AuditRow.at >= where.since)
        if where.until is not None:
            q = q.where(AuditRow.at < where.until)
        if page.after is not None:
            if not page.after.isdigit():
                raise ValidationError("cursor is not one this API returned", field="cursor")
            q = q.where(AuditRow.seq < int(page.after))
        q = q.order_by(AuditRow.seq.desc()).limit(page.limit + 1)
        with self._reading() as session:
            rows = [(int(seq), str(text)) for seq, text in session.execute(q)]
        more = len(rows) > page.limit
        rows = rows[: page.limit]
        return Page(items=tuple(rows), next_after=str(rows[-1][0]) if more and rows else None)

    def after(self, seq: int, limit: int = 500) -> list[tuple[int, str]]:
        """Records with a seq above ``seq``, oldest first: the live tail."""
        q = select(AuditRow.seq, AuditRow.text).where(AuditRow.seq > seq).order_by(AuditRow.seq).limit(limit)
        with self._reading() as session:
            return [(int(s), str(t)) for s, t in session.execute(q)]

    def records(self, start: int = 0, batch: int = 2000) -> Iterator[StoredRecord]:
        """The whole chain from ``start``, oldest first, in batches (constant memory)."""
        last = start - 1
        while True:
            q = select(AuditRow).where(AuditRow.seq > last).order_by(AuditRow.seq).limit(batch)
            with self._reading() as session:
                rows = list(session.execute(q).scalars())
                chunk = [
                    StoredRecord(
                        seq=row.seq,
                        text=row.text,
                        prev_hash=row.prev_hash,
                        hash=row.hash,
                        # as index_columns derives them: a value stored whole before it was keyed (SQLite holds
                        # any length) still agrees with its text
                        columns={
                            "id": row.id,
                            "at": row.at,
                            "kind": row.kind,
                            "action": index_key(row.action, INDEX_WIDTHS["action"]),
                            "source": row.source,
                            "agent": index_key(row.agent, INDEX_WIDTHS["agent"]),
                            "owner": index_key(row.owner, INDEX_WIDTHS["owner"]),
                            "resource": index_key(row.resource, INDEX_WIDTHS["resource"]),
                            "allowed": row.allowed,
                        },
                    )
                    for row in rows
                ]
            if not chunk:
                return
            yield from chunk
            last = chunk[-1].seq

    def checkpoints(self) -> list[Checkpoint]:
        with self._reading() as session:
            rows = session.execute(select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq)).scalars()
            return [Checkpoint(r.seq, r.hash, r.at, r.key_id, r.signature) for r in rows]

    def count(self) -> int:
        with self._reading() as session:
            return int(session.execute(select(func.count()).select_from(AuditRow)).scalar_one())

    def prune_before(self, at: str, signer: Signer) -> int:
        """Retention: delete the records up to the last checkpoint written before ``at`` (the chain then starts right
        after a signed point), and record where it now starts. Returns how many were deleted. Without the store's
        statement bound: deleting a long stretch of the log may take a while (on SQLite, writers wait for it only as
        long as their own bound)."""
        with self._writing() as session, unbounded(session.connection()):
            head = session.execute(
                select(AuditHeadRow).where(AuditHeadRow.id == HEAD_ID).with_for_update()
            ).scalar_one()
            cut = session.execute(
                select(func.max(AuditCheckpointRow.seq)).where(AuditCheckpointRow.at < at)
            ).scalar_one_or_none()
            if not cut:
                return 0
            if cut < head.first_seq:
                return 0
            boundary = session.execute(
                select(AuditCheckpointRow.hash).where(AuditCheckpointRow.seq == cut)
            ).scalar_one()
            deleted = session.execute(
                select(func.count()).select_from(AuditRow).where(AuditRow.seq <= cut)
            ).scalar_one()
            session.execute(delete(AuditRow).where(AuditRow.seq <= cut))
            # the checkpoint at the cut stays: it vouches for the hash the chain now starts from
            session.execute(delete(AuditCheckpointRow).where(AuditCheckpointRow.seq < cut))
            session.execute(
                update(AuditHeadRow)
                .where(AuditHeadRow.id == HEAD_ID)
                .values(first_seq=cut + 1, first_prev_hash=boundary)
            )
            return int(deleted)
