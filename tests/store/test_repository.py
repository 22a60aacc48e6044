"""The SQL adapter itself, on SQLite and PostgreSQL: transactions, error mapping, and faithful round trips."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from remit.audit.events import ChangeEvent
from remit.clock import FrozenClock
from remit.container import Remit
from remit.errors import Conflict, NotFound, StoreError
from remit.paging import PageRequest
from remit.registry import Agent, AgentStatus, RiskTier, User, UserStatus
from remit.registry.models import Attributes
from remit.registry.ports import EventFilter, UserFilter
from remit.store.db import make_engine
from remit.store.repository import SqlStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def user(uid: str, email: str | None = None, when: datetime = T0) -> User:
    return User(
        id=uid,
        email=email or f"{uid}@example.org",
        display_name=uid.title(),
        status=UserStatus.ACTIVE,
        created_at=when,
        updated_at=when,
    )


def agent(name: str, owner: str) -> Agent:
    return Agent(
        name=name,
        spiffe_id=f"spiffe://remit.local/agent/{name}",
        owner=owner,
        purpose="",
        status=AgentStatus.ACTIVE,
        status_reason="registered",
        team="",
        environment="production",
        risk_tier=RiskTier.LOW,
        clearance=0,
        created_at=T0,
        updated_at=T0,
        review_due_at=T0 + timedelta(days=90),
    )


def stored_users(store: SqlStore) -> list[str]:
    with store.transaction() as tx:
        return [u.id for u in tx.list_users(UserFilter(), PageRequest(limit=100)).items]


def test_transaction_commits(remit: Remit) -> None:
    with remit.store.transaction() as tx:
        tx.insert_user(user("alice"))
        assert tx.get_user("alice") is not None  # visible inside the transaction
    assert stored_users(remit.store) == ["alice"]


def test_transaction_rolls_back_on_any_exception(remit: Remit) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), remit.store.transaction() as tx:
        tx.insert_user(user("alice"))
        raise Boom
    with pytest.raises(NotFound), remit.store.transaction() as tx:
        tx.insert_user(user("bob"))
        raise NotFound("raised half-way")
    assert stored_users(remit.store) == []


@pytest.mark.parametrize("what", ["primary-key", "unique-email", "foreign-key"])
def test_constraint_violations_are_conflicts(remit: Remit, what: str) -> None:
    with remit.store.transaction() as tx:
        tx.insert_user(user("alice"))
    with pytest.raises(Conflict) as info, remit.store.transaction() as tx:
        tx.insert_user(user("carol"))  # rolled back with the rest
        if what == "primary-key":
            tx.insert_user(user("alice", email="other@example.org"))
        elif what == "unique-email":
            tx.insert_user(user("alice2", email="alice@example.org"))
        else:
            tx.insert_agent(agent("bot", owner="ghost"))
    assert info.value.code == "conflict"
    assert info.value.message == "the change conflicts with data stored meanwhile; reload and try again"
    assert isinstance(info.value.__cause__, IntegrityError)
    assert stored_users(remit.store) == ["alice"]


def test_database_failures_are_store_errors(database_url: str, tmp_path: Path) -> None:
    if database_url.startswith("sqlite"):
        (tmp_path / "a-directory.db").mkdir()
        broken = f"sqlite:///{tmp_path}/a-directory.db"
    else:
        broken = make_url(database_url).set(database="remit_test_does_not_exist").render_as_string(False)
    store = SqlStore(make_engine(broken))
    try:
        with pytest.raises(StoreError) as info, store.transaction() as tx:
            tx.get_user("alice")
        assert info.value.code == "store_unavailable"
        assert info.value.message == "the store is unavailable; try again"
        assert "does_not_exist" not in str(info.value) and "a-directory" not in str(info.value)
        assert isinstance(info.value.__cause__, SQLAlchemyError)
    finally:
        store.engine.dispose()


def test_naive_datetimes_never_reach_the_database(remit: Remit) -> None:
    naive = user("alice", when=datetime(2026, 1, 1))  # naive: the point of the test
    with pytest.raises(StoreError), remit.store.transaction() as tx:
        tx.insert_user(naive)
    assert stored_users(remit.store) == []


def test_datetimes_come_back_aware_in_utc(remit: Remit) -> None:
    plus_two = datetime(2026, 3, 1, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    with remit.store.transaction() as tx:
        tx.insert_user(user("alice", when=plus_two))
    with remit.store.transaction() as tx:
        got = tx.get_user("alice")
    assert got is not None
    assert got.created_at == plus_two  # the same instant, microseconds kept
    assert got.created_at.tzinfo is UTC
    assert got.created_at.hour == 12


def test_attributes_round_trip(remit: Remit) -> None:
    attrs: Attributes = {
        "flag": True,
        "zero": 0,
        "big": 2**63 - 1,
        "small": -(2**63),
        "text": "héllo\tworld",
        "tags": ("a", "b"),
        "empty": (),
    }
    with remit.store.transaction() as tx:
        tx.insert_user(replace(user("alice"), attributes=attrs))
    with remit.store.transaction() as tx:
        got = tx.get_user("alice")
    assert got is not None
    assert got.attributes == attrs
    assert got.attributes["flag"] is True  # a bool stays a bool, not 1
    assert type(got.attributes["zero"]) is int


def test_event_round_trip_and_order(remit: Remit, clock: FrozenClock) -> None:
    first = ChangeEvent(
        id="evt_1",
        at=clock.now(),
        actor="test:admin",
        action="user.create",
        target_type="user",
        target_id="alice",
        before=None,
        after={"id": "alice", "nested": {"list": [1, "two", None, True]}},
        reason="why not",
        extra={"k": "v"},
    )
    second = ChangeEvent(
        id="evt_2",
        at=clock.now() - timedelta(days=1),  # an older timestamp, written later: order is by write
        actor="test:admin",
        action="user.update",
        target_type="user",
        target_id="alice",
        before={"id": "alice"},
        after={"id": "alice"},
    )
    with remit.store.transaction() as tx:
        tx.add_event(first)
    with remit.store.transaction() as tx:
        tx.add_event(second)
    with remit.store.transaction() as tx:
        page = tx.list_events(EventFilter(), PageRequest(limit=10))
    assert page.items == (second, first)
    with pytest.raises(Conflict), remit.store.transaction() as tx:
        tx.add_event(first)  # event ids are unique
