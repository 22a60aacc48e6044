"""A stalled database never hangs a request: a real server (uvicorn, its audit writer process, the production
default) on PostgreSQL behind a proxy the test freezes, as ``SIGSTOP`` would freeze the server. Frozen, every kind of
request (a decision, ``/oauth/token``, introspection, an admin read, ``/readyz``) is refused within its bound, with a
reason that says the store is unavailable; nothing is released as an allow that the audit log has not confirmed.
Thawed, the same server answers them all again by itself. Real time only for the bounds (small ones, set here)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from remit.admin.access import AdminRole
from remit.clock import FrozenClock
from remit.container import Remit
from remit.paging import PageRequest
from remit.registry import AgentDraft, ResourceDraft, ResourceKind, UserDraft
from remit.settings import load_settings
from remit.store.audit import AuditFilter
from remit.tokens import jose
from tests.api.conftest import LiveServer, serve
from tests.api.test_oauth_token import ADMIN, POLICY, form
from tests.stall import HANG_SECONDS, FreezableProxy

pytestmark = pytest.mark.postgres

STATEMENT = 0.3  #: store.statement_timeout_seconds: a server that does not answer is given 0.8 s on the client
CONNECT = 2  #: store.connect_timeout_seconds (whole seconds, at least 2)
ACK = 0.3  #: audit.ack_timeout_seconds
#: the longest a request may take while the store is frozen: a statement's bound, or a connect's when it is the
#: request that tries the store again (the others are refused at once meanwhile)
BOUND = max(STATEMENT + 0.5, CONNECT)
MARGIN = 1.0

DECISION = {
    "subject": {"type": "agent", "id": "helpdesk"},
    "action": {"name": "call_tool"},
    "resource": {"type": "tool", "id": "helpdesk.get_ticket"},
}


@dataclass
class Estate:
    live: LiveServer
    proxy: FreezableProxy
    key: jose.SigningKey
    pep: str  #: an admin token of role pep, already authenticated (cached) by the server
    token: str  #: an access token issued to the agent before the freeze

    def client(self, bearer: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        return httpx.Client(base_url=self.live.url, headers=headers, timeout=HANG_SECONDS)  # a hang fails the test


@pytest.fixture
def estate(request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock) -> Iterator[Estate]:
    database = request.getfixturevalue("_postgres_database")
    database.reset()
    with FreezableProxy.before(database.url) as proxy:
        settings = load_settings(
            home=tmp_path,
            database_url=proxy.url(database.url),
            store={"connect_timeout_seconds": CONNECT, "statement_timeout_seconds": STATEMENT},
            audit={"writer": "process", "ack_timeout_seconds": ACK},
            # admin tokens stay cached while the change counter is known (2 intervals): the pep token's decisions
            # then reach the audit log, not the token lookup, while the store is frozen
            policy_refresh_seconds=30,
        )
        remit = Remit.from_settings(settings, clock=clock)
        try:
            remit.registry.create_user(ADMIN, UserDraft(id="alice", email="alice@example.org"))
            remit.registry.create_agent(ADMIN, AgentDraft(name="helpdesk", owner="alice"))
            remit.registry.create_resource(ADMIN, ResourceDraft(id="helpdesk", kind=ResourceKind.MCP_SERVER))
            remit.registry.create_resource(
                ADMIN, ResourceDraft(id="helpdesk.get_ticket", kind=ResourceKind.TOOL, parent="helpdesk")
            )
            remit.policies.apply(ADMIN, POLICY)
            key = jose.SigningKey.generate("EdDSA")
            remit.agent_keys.add(ADMIN, "helpdesk", key.public_key.to_jwk())
            _, pep = remit.admin_tokens.create(ADMIN, name="pep", role=AdminRole.PEP)
            with serve(remit) as live:
                estate = Estate(live, proxy, key, pep, token="")
                with estate.client() as c:
                    r = c.post("/oauth/token", data=form(live, key))
                    assert r.status_code == 200, r.text
                    estate.token = r.json()["access_token"]
                yield estate
        finally:
            proxy.thaw()  # whatever the test did: let the server's threads and writer finish
            remit.close()


def _decide(e: Estate, pep: str | None = None) -> httpx.Response:
    with e.client(pep or e.pep) as c:
        return c.post("/access/v1/evaluation", json=DECISION)


def _token(e: Estate) -> httpx.Response:
    with e.client() as c:
        return c.post("/oauth/token", data=form(e.live, e.key))


def _introspect(e: Estate) -> httpx.Response:
    with e.client(e.pep) as c:
        return c.post("/oauth/introspect", data={"token": e.token})


def _admin_read(e: Estate) -> httpx.Response:
    with e.client(e.live.admin_token) as c:
        return c.get("/v1/agents")


def _ready(e: Estate) -> httpx.Response:
    with e.client() as c:
        return c.get("/readyz")


def _timed(call: Callable[[Estate], httpx.Response], e: Estate) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call(e)
    return response, time.monotonic() - started


def _all_answer(e: Estate) -> None:
    decision = _decide(e)
    assert decision.status_code == 200 and decision.json()["decision"] is True, decision.text
    assert _token(e).status_code == 200
    introspected = _introspect(e)
    assert introspected.status_code == 200 and introspected.json()["active"] is True
    assert _admin_read(e).status_code == 200
    assert _ready(e).json() == {"status": "ready"}


def test_a_frozen_store_refuses_every_request_within_its_bound_and_the_server_recovers_by_itself(
    estate: Estate,
) -> None:
    e = estate
    fresh_pep = e.live.remit.admin_tokens.create(ADMIN, name="pep two", role=AdminRole.PEP)[1]  # (a write: first)
    _all_answer(e)  # the pep token is authenticated now, and cached
    released = [_decide(e).json()["context"]["decision_id"]]

    e.proxy.freeze()

    # a decision is released only once its record is committed: not confirmed within audit.ack_timeout_seconds, it is
    # refused, never answered (so never an allow that is not in the log)
    decision, seconds = _timed(_decide, e)
    assert decision.status_code == 503, decision.text
    assert decision.json()["code"] == "audit_unavailable"
    assert f"within {ACK:g} s" in decision.json()["message"]
    assert "decision" not in decision.json()
    assert seconds < ACK + MARGIN

    ready, seconds = _timed(_ready, e)
    assert ready.status_code == 503
    assert ready.json()["code"] == "store_unavailable"
    assert seconds < STATEMENT + MARGIN

    # a caller whose token must be looked up in the store
    unknown, seconds = _timed(lambda x: _decide(x, fresh_pep), e)
    assert unknown.status_code == 503
    assert unknown.json() == {
        "code": "store_unavailable",
        "message": "the store is unavailable; try again",
        "field": None,
    }
    assert seconds < BOUND + MARGIN

    for call in (_token, _introspect):  # the OAuth endpoints answer in the OAuth shape
        refused, seconds = _timed(call, e)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"] == "temporarily_unavailable"
        assert "unavailable" in refused.json()["error_description"]
        assert refused.headers["cache-control"] == "no-store"
        assert seconds < BOUND + MARGIN

    read, seconds = _timed(_admin_read, e)
    assert read.status_code == 503
    assert read.json()["code"] == "store_unavailable"
    assert seconds < BOUND + MARGIN

    e.proxy.thaw()

    deadline = time.monotonic() + BOUND + 0.5 + MARGIN  # the next try of the store is due within half a second
    while _ready(e).status_code != 200:
        assert time.monotonic() < deadline, "the server did not recover by itself"
        time.sleep(0.05)  # a probe's pause, not a timing
    _all_answer(e)
    released.append(_decide(e).json()["context"]["decision_id"])

    remit = e.live.remit
    remit.audit_log.flush()
    recorded = {r["id"] for r in remit.audit.query(ADMIN, AuditFilter(kind="decision"), PageRequest(limit=200)).items}
    assert set(released) <= recorded  # every decision answered is in the log
    assert remit.audit.verify(None).ok
