"""``/v1/audit`` over real HTTP: filters, pagination, owner scoping, bad input, the live stream (server-sent events),
the chain for offline export and the public key."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text as sql_text

from remit.admin.access import AdminPrincipal, AdminRole
from remit.api.routes import audit as audit_routes
from remit.audit.chain import GENESIS, Checkpoint, StoredRecord, checkpoint_payload, verify
from remit.audit.export import end_payload
from remit.audit.record import timestamp
from remit.audit.signing import PublicKey
from remit.clock import FrozenClock
from remit.container import Remit
from remit.registry.models import AgentAction, ResourceKind
from remit.registry.service import AgentDraft, ResourceDraft, UserDraft
from tests.api.conftest import LiveServer, serve

ADMIN = AdminPrincipal(actor="test:setup", role=AdminRole.ADMIN)
START = datetime(2026, 1, 1, tzinfo=UTC)
POLICIES = """
@id("bots-read")
permit(principal is Agent, action == Action::"read", resource);
"""


def build(remit: Remit, clock: FrozenClock) -> None:
    """Two owners with one agent each, a helpdesk server and its tool, a policy letting agents read; then one
    minute apart: alice-bot reads (allow), alice-bot writes (deny), bob-bot reads the tool (allow), bob-bot deletes
    (deny); finally bob-bot is suspended (a change)."""
    registry = remit.registry
    for uid in ("alice", "bob"):
        registry.create_user(ADMIN, UserDraft(id=uid, email=f"{uid}@example.org"))
        registry.create_agent(ADMIN, AgentDraft(name=f"{uid}-bot", owner=uid))
    registry.create_resource(ADMIN, ResourceDraft(id="helpdesk", kind=ResourceKind.MCP_SERVER))
    registry.create_resource(ADMIN, ResourceDraft(id="helpdesk.get", kind=ResourceKind.TOOL, parent="helpdesk"))
    remit.policies.apply(ADMIN, POLICIES)
    authz = remit.authorizer()
    for agent, action, resource in (
        ("alice-bot", "read", ("mcp_server", "helpdesk")),
        ("alice-bot", "write", ("mcp_server", "helpdesk")),
        ("bob-bot", "read", ("tool", "helpdesk.get")),
        ("bob-bot", "delete", ("tool", "helpdesk.get")),
    ):
        clock.advance(timedelta(minutes=1))
        authz.check(("agent", agent), action, resource, {"source_ip": "192.0.2.7"})
    clock.advance(timedelta(minutes=1))
    registry.change_agent_status(ADMIN, "bob-bot", AgentAction.SUSPEND, "testing")
    remit.audit_log.flush()


#: what ``build`` leaves: 7 changes (2 users, 2 agents, 2 resources, 1 policy), 4 decisions, 1 change; then the
#: server's bootstrap admin token (a change)
TOTAL = 13


@pytest.fixture
def live(remit: Remit, clock: FrozenClock) -> Iterator[LiveServer]:
    build(remit, clock)
    with serve(remit) as server:
        yield server


@pytest.fixture
def api(live: LiveServer) -> Iterator[httpx.Client]:
    with live.client(live.admin_token) as client:
        yield client


def token(live: LiveServer, role: AdminRole, user_id: str | None = None) -> str:
    _, secret = live.remit.admin_tokens.create(ADMIN, name=f"{role.value} for tests", role=role, user_id=user_id)
    return secret


def items(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    resp = client.get("/v1/audit", params=params)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["next_cursor"] is None
    return list(body["items"])


def seqs(client: httpx.Client, **params: Any) -> list[int]:
    return [r["seq"] for r in items(client, limit=200, **params)]


# -- searching ---------------------------------------------------------------------------------------------------


def test_records_come_newest_first_as_stored(api: httpx.Client, live: LiveServer) -> None:
    got = items(api, limit=200)
    assert [r["seq"] for r in got] == list(range(TOTAL, 0, -1))
    stored = {r.seq: json.loads(r.text) for r in live.remit.audit.chain(None, 0, 100).records}
    assert all(r == stored[r["seq"]] for r in got)  # every member, exactly as hashed
    read = next(r for r in got if r["kind"] == "decision")
    assert read["schema"] == "remit.audit/v1"
    assert read["context"] == {"source_ip": "192.0.2.7"}


def test_filters(api: httpx.Client) -> None:
    assert [r["action"] for r in items(api, agent="alice-bot", kind="decision")] == ["write", "read"]
    assert [r["action"] for r in items(api, owner="bob", kind="decision")] == ["delete", "read"]
    assert {r["target"]["id"] for r in items(api, owner="bob", kind="change")} == {"bob-bot"}  # changes to bob's agent
    assert [r["principal"]["id"] for r in items(api, resource="Tool::helpdesk.get")] == ["bob-bot", "bob-bot"]
    assert items(api, resource='Tool::"helpdesk.get"') == items(api, resource="Tool::helpdesk.get")
    assert [r["target"] for r in items(api, resource="agent::bob-bot", kind="change")] == [
        {"type": "agent", "id": "bob-bot"},
        {"type": "agent", "id": "bob-bot"},
    ]
    assert [r["action"] for r in items(api, decision="deny")] == ["delete", "write"]
    assert [r["action"] for r in items(api, decision="allow")] == ["read", "read"]
    assert [r["action"] for r in items(api, action="agent.suspend")] == ["agent.suspend"]
    assert len(items(api, kind="change")) == TOTAL - 4
    assert items(api, kind="grant") == []
    # since is inclusive, until exclusive; offsets and Z name the same instants
    second = (START + timedelta(minutes=2)).isoformat()
    fourth = (START + timedelta(minutes=4)).isoformat().replace("+00:00", "Z")
    assert [r["action"] for r in items(api, since=second, until=fourth)] == ["read", "write"]
    assert [r["action"] for r in items(api, since="2026-01-01T02:02:00+02:00", until=fourth)] == ["read", "write"]
    assert items(api, since=(START + timedelta(minutes=6)).isoformat()) == []


def test_a_forgotten_plus_in_the_query_string_still_reads_as_an_offset(api: httpx.Client) -> None:
    raw = api.get("/v1/audit?since=2026-01-01T00:04:00+00:00&kind=decision")  # "+" arrives as a space
    assert raw.status_code == 200, raw.text
    assert [r["action"] for r in raw.json()["items"]] == ["delete"]


def test_pagination_walks_every_record_once(api: httpx.Client) -> None:
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        body = api.get("/v1/audit", params=params).json()
        seen.extend(r["seq"] for r in body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(TOTAL, 0, -1)) and pages == 3
    bad = api.get("/v1/audit", params={"cursor": "not-ours!"})
    assert bad.status_code == 422 and bad.json()["field"] == "cursor"


#: (query, the parameter named, words of the message)
BAD_FILTERS: list[tuple[dict[str, str], str, str]] = [
    ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since", "earlier than until"),
    ({"since": "2026-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since", "earlier than until"),
    ({"since": "yesterday"}, "since", "RFC 3339"),
    ({"until": "2026-01-01T00:00:00"}, "until", "time zone"),
    ({"until": "2026-01-01"}, "until", "RFC 3339"),
    ({"until": "9999-12-31T23:59:59-23:59"}, "until", "out of range"),
    ({"decision": "maybe"}, "decision", "allow or deny"),
    ({"resource": "helpdesk"}, "resource", "Type::id"),
    ({"resource": "::x"}, "resource", "Type::id"),
    ({"resource": "Tool::"}, "resource", "Type::id"),
    ({"kind": "everything"}, "kind", "decision"),
    ({"agent": "x" * 201}, "agent", "200"),
    ({"action": "a\x01b"}, "action", "control"),
]


def test_bad_filters_are_400_naming_the_parameter(api: httpx.Client) -> None:
    for params, field, says in BAD_FILTERS:
        for path in ("/v1/audit", "/v1/audit/stream"):
            resp = api.get(path, params=params)
            assert resp.status_code == 400, (path, params, resp.text)
            body = resp.json()
            assert (body["code"], body["field"]) == ("bad_request", field), (path, params)
            assert says in body["message"], (path, params, body)


def test_without_a_token_401(live: LiveServer) -> None:
    with live.client() as anonymous:
        for path in (
            "/v1/audit",
            "/v1/audit/stream",
            "/v1/audit/chain",
            "/v1/audit/chain/end?seq=1",
            "/v1/audit/public-key",
        ):
            resp = anonymous.get(path)
            assert resp.status_code == 401, path
            assert resp.json()["code"] == "unauthenticated"
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    with live.client("remit_adm_not-a-real-token") as forged:
        assert forged.get("/v1/audit").status_code == 401


def test_a_pep_may_not_read_the_log(live: LiveServer) -> None:
    with live.client(token(live, AdminRole.PEP)) as pep:
        for path in ("/v1/audit", "/v1/audit/stream", "/v1/audit/chain", "/v1/audit/chain/end?seq=1"):
            resp = pep.get(path)
            assert (resp.status_code, resp.json()["code"]) == (403, "forbidden"), path


def test_owners_see_only_their_own_agents_records(live: LiveServer) -> None:
    with live.client(token(live, AdminRole.OWNER, "alice")) as alice:
        mine = items(alice, limit=200, kind="decision")
        assert [(r["principal"]["id"], r["action"]) for r in mine] == [("alice-bot", "write"), ("alice-bot", "read")]
        assert {r["principal"]["owner"] for r in mine} == {"alice"}
        changes = items(alice, limit=200, kind="change")
        assert changes and {(r["target"]["type"], r["target"]["id"], r["owner"]) for r in changes} == {
            ("agent", "alice-bot", "alice")
        }
        assert items(alice, owner="bob") == []  # asking for someone else's records shows nothing, not one's own
        assert items(alice, agent="bob-bot") == []
        assert items(alice, owner="alice", decision="deny")[0]["action"] == "write"
        chain = alice.get("/v1/audit/chain")
        assert (chain.status_code, chain.json()["code"]) == (403, "forbidden")
        end = alice.get("/v1/audit/chain/end", params={"seq": "1"})
        assert (end.status_code, end.json()["code"]) == (403, "forbidden")
        with alice.stream("GET", "/v1/audit/stream", params={"after": "0", "follow": "false"}) as resp:
            streamed = [json.loads(e["data"]) for e in sse(resp) if "data" in e]
        assert [r["seq"] for r in streamed] == sorted(r["seq"] for r in [*mine, *changes])
    with live.client(token(live, AdminRole.AUDITOR)) as auditor:
        assert len(items(auditor, limit=200)) == live.remit.audit.count(None)


# -- the live stream ---------------------------------------------------------------------------------------------


def sse(resp: httpx.Response, count: int | None = None) -> Iterator[dict[str, str]]:
    """Events of a ``text/event-stream`` response as dicts of their fields (comments dropped), ``count`` of them
    with data at most."""
    event: dict[str, str] = {}
    with_data = 0
    for line in resp.iter_lines():
        if not line:
            if event:
                yield event
                with_data += "data" in event
                if count is not None and with_data >= count:
                    return
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            event[name] = value.removeprefix(" ")


@pytest.fixture
def stream_ended(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set when a stream's body generator has finished, however it finished."""
    ended = threading.Event()
    original = audit_routes._events

    async def tracked(*args: Any) -> AsyncIterator[str]:
        try:
            async for chunk in original(*args):
                yield chunk
        finally:
            ended.set()

    monkeypatch.setattr(audit_routes, "_events", tracked)
    return ended


def test_stream_sends_existing_then_new_records_and_ends_when_the_client_goes(
    live: LiveServer, api: httpx.Client, stream_ended: threading.Event
) -> None:
    with api.stream("GET", "/v1/audit/stream", params={"after": str(TOTAL - 2)}) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = sse(resp)
        first = next(events)
        assert first == {"retry": "1000", "id": str(TOTAL - 2)}  # where the stream starts
        got = [next(e for e in events if "data" in e) for _ in range(2)]
        assert [int(e["id"]) for e in got] == [TOTAL - 1, TOTAL]
        assert [json.loads(e["data"])["seq"] for e in got] == [TOTAL - 1, TOTAL]
        # a decision made while the client listens arrives on the open stream
        live.remit.authorizer().check(("agent", "alice-bot"), "read", ("mcp_server", "helpdesk"))
        live.remit.audit_log.flush()
        fresh = next(e for e in events if "data" in e)
        record = json.loads(fresh["data"])
        assert (int(fresh["id"]), record["seq"], record["action"]) == (TOTAL + 1, TOTAL + 1, "read")
    # the client closed the connection: the server's side of the stream ends too
    assert stream_ended.wait(10), "the stream kept running after the client went away"
    assert api.get("/v1/audit", params={"limit": 1}).json()["items"][0]["seq"] == TOTAL + 1


def test_stream_resumes_after_last_event_id_and_applies_filters(api: httpx.Client) -> None:
    headers = {"Last-Event-ID": "3"}
    params = {"after": "10", "follow": "false"}  # the header wins over ?after=, as EventSource reconnects send both
    with api.stream("GET", "/v1/audit/stream", params=params, headers=headers) as resp:
        records = [json.loads(e["data"]) for e in sse(resp) if "data" in e]
    assert [r["seq"] for r in records] == list(range(4, TOTAL + 1))
    params = {"after": "0", "follow": "false", "agent": "bob-bot", "kind": "decision", "decision": "deny"}
    with api.stream("GET", "/v1/audit/stream", params=params) as resp:
        events = list(sse(resp))
    assert [json.loads(e["data"])["action"] for e in events if "data" in e] == ["delete"]
    assert events[-1] == {"id": str(TOTAL)}  # the last seq looked at, matching or not: where to resume


def test_stream_from_now_on_by_default(live: LiveServer, api: httpx.Client) -> None:
    with api.stream("GET", "/v1/audit/stream") as resp:
        events = sse(resp)
        assert next(events)["id"] == str(TOTAL)
        live.remit.registry.create_user(ADMIN, UserDraft(id="carol", email="carol@example.org"))
        record = json.loads(next(e for e in events if "data" in e)["data"])
    assert (record["seq"], record["action"]) == (TOTAL + 1, "user.create")


@pytest.mark.parametrize(
    ("params", "headers", "field"),
    [({"after": "-1"}, {}, "after"), ({"after": "x"}, {}, "after"), ({}, {"Last-Event-ID": "12a"}, "Last-Event-ID")],
)
def test_stream_bad_position_is_400(
    api: httpx.Client, params: dict[str, str], headers: dict[str, str], field: str
) -> None:
    resp = api.get("/v1/audit/stream", params=params, headers=headers)
    assert resp.status_code == 400 and resp.json()["field"] == field


# -- the chain and the key -----------------------------------------------------------------------------------------


def test_chain_slices_verify_with_the_public_key(live: LiveServer, api: httpx.Client) -> None:
    live.remit.audit.seal(live.remit.clock.now())
    key = api.get("/v1/audit/public-key").json()
    public = PublicKey.from_pem(key["pem"].encode())
    assert key["key_id"] == public.key_id == live.remit.audit.public_key.key_id
    assert key["algorithm"] == "Ed25519"
    records: list[StoredRecord] = []
    checkpoints: list[Checkpoint] = []
    after: int | None = 0
    while after is not None:
        body = api.get("/v1/audit/chain", params={"after": after, "limit": 5}).json()
        assert (body["first_seq"], body["start_hash"]) == (1, "0" * 64)
        records += [StoredRecord(r["seq"], r["text"], r["prev_hash"], r["hash"]) for r in body["records"]]
        checkpoints += [Checkpoint(**c) for c in body["checkpoints"]]
        after = body["next_after"]
    assert [r.seq for r in records] == list(range(1, TOTAL + 1))
    assert checkpoints and checkpoints[-1].seq == TOTAL
    report = verify(records, checkpoints, lambda payload, sig, kid: public.verify(payload, sig, kid))
    assert report.ok, report.problem
    assert (report.records, report.checkpoints) == (TOTAL, len(checkpoints))
    bad = api.get("/v1/audit/chain", params={"after": "x"})
    assert (bad.status_code, bad.json()["field"]) == (400, "after")
    assert api.get("/v1/audit/chain", params={"limit": 0}).status_code == 422


def test_the_end_of_an_export_is_signed(live: LiveServer, api: httpx.Client) -> None:
    public = PublicKey.from_pem(api.get("/v1/audit/public-key").json()["pem"].encode())
    last = live.remit.audit.chain(None, TOTAL - 1, 1).records[0]
    body = api.get("/v1/audit/chain/end", params={"seq": str(TOTAL)}).json()
    assert {k: v for k, v in body.items() if k != "signature"} == {
        "first_seq": 1,
        "start_hash": GENESIS,
        "last_seq": TOTAL,
        "last_hash": last.hash,
        "at": timestamp(live.remit.clock.now()),
        "key_id": public.key_id,
    }
    payload = end_payload(1, GENESIS, TOTAL, last.hash, body["at"], body["key_id"])
    assert public.verify(payload, body["signature"], body["key_id"])
    # a checkpoint's signature is not an end's, nor the other way round: their payloads differ
    assert not public.verify(
        checkpoint_payload(TOTAL, last.hash, body["at"], body["key_id"]), body["signature"], body["key_id"]
    )
    empty = api.get("/v1/audit/chain/end", params={"seq": "0"}).json()
    assert (empty["last_seq"], empty["last_hash"]) == (0, GENESIS)
    for bad in ("x", "-1", str(TOTAL + 1), "1" * 19):
        resp = api.get("/v1/audit/chain/end", params={"seq": bad})
        assert (resp.status_code, resp.json()["field"]) == (400, "seq"), (bad, resp.text)
    assert api.get("/v1/audit/chain/end").status_code == 422


def test_the_end_of_a_broken_chain_is_not_signed(live: LiveServer, api: httpx.Client) -> None:
    """An altered record after the last checkpoint: the server refuses to vouch for the chain's end."""
    with live.remit.engine.begin() as conn:
        conn.execute(sql_text("UPDATE audit_events SET text = replace(text, 'helpdesk', 'mallory') WHERE seq = 5"))
    resp = api.get("/v1/audit/chain/end", params={"seq": str(TOTAL)})
    assert resp.status_code == 409, resp.text
    assert resp.json()["code"] == "conflict"
    assert resp.json()["message"].startswith(
        f"the audit chain does not verify up to record {TOTAL}: record 5 was altered: its content does not match its "
        "hash; its end is not signed"
    )
    # what is checked is the tail since the last checkpoint (older damage is remit audit verify's to find): once a
    # checkpoint signs the chain's end, the end is signed
    live.remit.audit.seal(live.remit.clock.now())
    assert api.get("/v1/audit/chain/end", params={"seq": str(TOTAL)}).status_code == 200


def test_the_stream_is_not_in_the_openapi_document(api: httpx.Client) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/v1/audit", "/v1/audit/chain", "/v1/audit/chain/end", "/v1/audit/public-key"} <= set(paths)
    assert "/v1/audit/stream" not in paths
