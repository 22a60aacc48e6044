"""The AuthZEN endpoints over real HTTP on Remit's own model: reasons, the guard, properties, batches, paging,
bad input, authentication and roles."""

from __future__ import annotations

import json
from typing import Any

import httpx

from remit.admin.access import AdminPrincipal, AdminRole
from remit.container import Remit
from remit.policy.model import Mode
from remit.registry.models import AgentAction, Permission, ResourceKind, Sensitivity
from remit.registry.service import AgentDraft, ResourceDraft, RoleDraft, UserDraft
from tests.api.conftest import LiveServer, TokenFactory

ADMIN = AdminPrincipal(actor="test:setup", role=AdminRole.ADMIN)
EVALUATION = "/access/v1/evaluation"
EVALUATIONS = "/access/v1/evaluations"

POLICIES = """
@id("no-risky")
forbid(principal is Agent, action, resource) when { context has risk && context.risk > 80 };
@id("public-docs")
permit(principal, action == Action::"read", resource is doc) when { resource has public && resource.public };
@id("public-tools")
permit(principal is User, action == Action::"read", resource is Tool) when { resource.sensitivity == "public" };
"""
#: ``doc`` is a type of ours; ``read`` is redefined to reach it too (a fragment's action replaces the registry's)
SCHEMA = {
    "": {
        "entityTypes": {"doc": {"shape": {"type": "Record", "attributes": {}}}},
        "actions": {
            "read": {
                "appliesTo": {
                    "principalTypes": ["Agent", "User"],
                    "resourceTypes": ["App", "Endpoint", "McpServer", "Tool", "Dataset", "doc"],
                    "context": {"type": "Record", "attributes": {"risk": {"type": "Long", "required": False}}},
                }
            }
        },
    }
}


def _estate(remit: Remit, *, users: int = 1) -> None:
    """alice (and ``users - 1`` more users); agents bot (role reader on the helpdesk server) and sleepy
    (suspended); a helpdesk MCP server with one tool; the policies above."""
    registry = remit.registry
    for i in range(users):
        uid = "alice" if i == 0 else f"user{i:02d}"
        registry.create_user(ADMIN, UserDraft(id=uid, email=f"{uid}@example.org", attributes={"team": "support"}))
    registry.create_agent(ADMIN, AgentDraft(name="bot", owner="alice"))
    registry.create_agent(ADMIN, AgentDraft(name="sleepy", owner="alice"))
    registry.change_agent_status(ADMIN, "sleepy", AgentAction.SUSPEND, "testing")
    registry.create_resource(ADMIN, ResourceDraft(id="helpdesk", kind=ResourceKind.MCP_SERVER))
    registry.create_resource(
        ADMIN,
        ResourceDraft(id="helpdesk.get", kind=ResourceKind.TOOL, parent="helpdesk", sensitivity=Sensitivity.INTERNAL),
    )
    registry.create_role(ADMIN, RoleDraft(name="reader", permissions=(Permission(("read", "summarise"), "helpdesk"),)))
    registry.assign_agent(ADMIN, "reader", "bot", member=True)
    remit.policies.apply(ADMIN, POLICIES, schema_fragment=SCHEMA)
    remit.refresher.refresh()


def _ask(subject: Any, action: str, resource: Any, **extra: Any) -> dict[str, Any]:
    def entity(x: Any) -> Any:
        return {"type": x[0], "id": x[1]} if isinstance(x, tuple) else x

    return {"subject": entity(subject), "action": {"name": action}, "resource": entity(resource), **extra}


def _ok(client: httpx.Client, path: str, body: Any) -> Any:
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_decisions_carry_an_id_and_on_deny_a_reason_an_agent_can_act_on(
    admin_client: httpx.Client, live: LiveServer
) -> None:
    _estate(live.remit)
    allow = _ok(admin_client, EVALUATION, _ask(("agent", "bot"), "read", ("tool", "helpdesk.get")))
    assert allow["decision"] is True
    assert allow["context"]["decision_id"].startswith("dec_") and "reason" not in allow["context"]

    no_permit = _ok(admin_client, EVALUATION, _ask(("agent", "bot"), "write", ("tool", "helpdesk.get")))
    assert no_permit["decision"] is False
    reason = no_permit["context"]["reason"]
    assert (reason["code"], reason["policies"], reason["access_request_possible"]) == ("no_permit", [], True)
    assert "access request" in reason["message"]

    risky = _ask(("agent", "bot"), "read", ("tool", "helpdesk.get"), context={"risk": 95})
    reason = _ok(admin_client, EVALUATION, risky)["context"]["reason"]
    assert (reason["code"], reason["policies"], reason["access_request_possible"]) == ("forbidden", ["no-risky"], False)
    assert "no-risky" in reason["message"]

    ids = {_ok(admin_client, EVALUATION, risky)["context"]["decision_id"] for _ in range(3)}
    assert len(ids) == 3


def test_a_deny_on_an_unregistered_resource_or_principal_says_so_next_to_the_reason(
    admin_client: httpx.Client, live: LiveServer
) -> None:
    _estate(live.remit)
    # "public-tools" reads the tool's sensitivity, which a tool the registry does not know lacks: fail closed
    failed = _ok(admin_client, EVALUATION, _ask(("user", "alice"), "read", ("tool", "helpdesk.nope")))
    assert failed["decision"] is False
    assert failed["context"]["reason"] == {
        "code": "evaluation_error",
        "message": "a policy failed to evaluate, so the request is denied (fail closed); resource "
        'Tool::"helpdesk.nope" is not registered, so it has none of the attributes policies read: check the type '
        "and id, or register it",
        "policies": [],
        "access_request_possible": False,
        "errored_policies": ["public-tools"],
    }
    no_permit = _ok(admin_client, EVALUATION, _ask(("agent", "bot"), "read", ("tool", "nope")))["context"]["reason"]
    assert (no_permit["code"], no_permit["access_request_possible"]) == ("no_permit", False)
    assert no_permit["message"] == (
        'no policy permits this; resource Tool::"nope" is not registered: check the type and id, or register it'
    )
    stranger = _ok(admin_client, EVALUATION, _ask(("user", "mallory"), "read", ("tool", "helpdesk.get")))
    assert stranger["context"]["reason"]["message"] == (
        'no policy permits this; principal User::"mallory" is not registered: check the type and id, or register it'
    )
    # registered on both sides: as before
    known = _ok(admin_client, EVALUATION, _ask(("agent", "bot"), "write", ("tool", "helpdesk.get")))["context"]
    assert known["reason"]["message"] == "no policy permits this; an access request could grant it"
    # an entity described by the request, allowed: still marked in the audit record
    described = _ask(("user", "alice"), "read", {"type": "doc", "id": "d1", "properties": {"public": True}})
    assert _ok(admin_client, EVALUATION, described)["decision"] is True

    records = admin_client.get("/v1/audit", params={"kind": "decision", "limit": 10}).json()["items"]
    by_resource = {(r["resource"]["type"], r["resource"]["id"]): r for r in records}
    assert by_resource[("Tool", "helpdesk.nope")]["resource"] == {
        "type": "Tool",
        "id": "helpdesk.nope",
        "registered": False,
    }
    assert by_resource[("Tool", "helpdesk.nope")]["decision"]["deny_code"] == "evaluation_error"
    assert by_resource[("doc", "d1")]["resource"]["registered"] is False
    assert by_resource[("doc", "d1")]["decision"]["allowed"] is True
    assert by_resource[("Tool", "helpdesk.get")]["resource"] == {"type": "Tool", "id": "helpdesk.get"}
    [mallory] = [r for r in records if r["principal"]["id"] == "mallory"]
    assert mallory["principal"] == {"type": "User", "id": "mallory", "registered": False}
    assert "registered" not in by_resource[("Tool", "nope")]["principal"]


def test_the_guard_denies_unregistered_and_inactive_agents_before_any_policy(
    admin_client: httpx.Client, live: LiveServer
) -> None:
    _estate(live.remit)
    remit = live.remit
    # A policy that would allow every agent everything: the guard still decides first.
    remit.policies.apply(
        ADMIN, POLICIES + '@id("all")\npermit(principal is Agent, action, resource);', schema_fragment=SCHEMA
    )
    remit.refresher.refresh()
    for agent, code in (("ghost", "unregistered_agent"), ("sleepy", "agent_inactive")):
        body = _ok(admin_client, EVALUATION, _ask(("agent", agent), "read", ("tool", "helpdesk.get")))
        reason = body["context"]["reason"]
        assert (body["decision"], reason["code"], reason["access_request_possible"]) == (False, code, False)
        assert agent in reason["message"]
    # Properties cannot register an agent.
    ghost = _ask({"type": "agent", "id": "ghost", "properties": {"status": "active"}}, "read", ("tool", "helpdesk.get"))
    assert _ok(admin_client, EVALUATION, ghost)["context"]["reason"]["code"] == "unregistered_agent"
    # An agent may be named by its SPIFFE id; a SPIFFE id of another trust domain is not the same agent.
    spiffe = _ask(("agent", "spiffe://remit.local/agent/bot"), "read", ("tool", "helpdesk.get"))
    assert _ok(admin_client, EVALUATION, spiffe)["decision"] is True
    other = _ask(("agent", "spiffe://elsewhere/agent/bot"), "read", ("tool", "helpdesk.get"))
    assert _ok(admin_client, EVALUATION, other)["context"]["reason"]["code"] == "unregistered_agent"


def test_properties_merge_over_stored_attributes_and_unstored_entities_are_taken_as_described(
    admin_client: httpx.Client, live: LiveServer
) -> None:
    _estate(live.remit)
    stored = _ask(("user", "alice"), "read", ("tool", "helpdesk.get"))
    assert _ok(admin_client, EVALUATION, stored)["decision"] is False  # stored sensitivity: internal
    public = _ask(
        ("user", "alice"), "read", {"type": "tool", "id": "helpdesk.get", "properties": {"sensitivity": "public"}}
    )
    assert _ok(admin_client, EVALUATION, public)["decision"] is True
    # A doc nobody stored: what the request says about it is all there is.
    for properties, decision in (({"public": True}, True), ({"public": False}, False), (None, False)):
        doc = {"type": "doc", "id": "handbook", **({"properties": properties} if properties else {})}
        assert _ok(admin_client, EVALUATION, _ask(("user", "alice"), "read", doc))["decision"] is decision
    # Floats, nulls and nested values are converted, never a 500.
    odd = {"type": "doc", "id": "x", "properties": {"public": True, "score": 0.5, "gone": None, "n": {"a": [1, None]}}}
    assert _ok(admin_client, EVALUATION, _ask(("user", "alice"), "read", odd))["decision"] is True
    # A type Cedar cannot name is a deny with a reason, not an error: no policy can match it, and where one
    # might (the forbid on agents has no resource constraint), Cedar refuses the request.
    weird = _ask(("user", "alice"), "read", ("not a type!", "x"))
    assert _ok(admin_client, EVALUATION, weird)["context"]["reason"]["code"] == "no_permit"
    weird = _ask(("agent", "bot"), "read", ("not a type!", "x"))
    reason = _ok(admin_client, EVALUATION, weird)["context"]["reason"]
    assert (reason["code"], reason["access_request_possible"]) == ("invalid_request", False)


def test_log_only_mode_tells_allow_and_says_the_deny_was_not_enforced(
    admin_client: httpx.Client, live: LiveServer
) -> None:
    _estate(live.remit)
    live.remit.policies.set_mode(ADMIN, Mode.LOG_ONLY, reason="trial")
    live.remit.refresher.refresh()
    body = _ok(admin_client, EVALUATION, _ask(("agent", "bot"), "write", ("tool", "helpdesk.get")))
    assert body["decision"] is True
    assert (body["context"]["reason"]["code"], body["context"]["reason"]["enforced"]) == ("no_permit", False)
    ghost = _ok(admin_client, EVALUATION, _ask(("agent", "ghost"), "read", ("tool", "helpdesk.get")))
    assert ghost["decision"] is False  # the guard is never log-only


def test_batches_keep_order_take_defaults_and_stop_as_asked(admin_client: httpx.Client, live: LiveServer) -> None:
    _estate(live.remit)
    items = [
        {"resource": {"type": "tool", "id": "helpdesk.get"}},  # allow
        {"action": {"name": "write"}},  # deny (action replaced, resource from the defaults)
        {"resource": {"type": "mcp_server", "id": "helpdesk"}},  # allow
        {"subject": {"type": "agent", "id": "ghost"}},  # deny by the guard
    ]
    defaults = {"subject": {"type": "agent", "id": "bot"}, "action": {"name": "read"}}
    defaults["resource"] = {"type": "tool", "id": "helpdesk.get"}

    def run(semantic: str | None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {**defaults, "evaluations": items}
        if semantic:
            body["options"] = {"evaluations_semantic": semantic, "unknown_option": 1}
        result: list[dict[str, Any]] = _ok(admin_client, EVALUATIONS, body)["evaluations"]
        return result

    everything = run(None)
    assert [e["decision"] for e in everything] == [True, False, True, False]
    assert everything[3]["context"]["reason"]["code"] == "unregistered_agent"
    assert [e["decision"] for e in run("execute_all")] == [True, False, True, False]
    assert [e["decision"] for e in run("deny_on_first_deny")] == [True, False]
    assert [e["decision"] for e in run("permit_on_first_permit")] == [True]
    items.insert(0, {"action": {"name": "delete"}})
    assert [e["decision"] for e in run("permit_on_first_permit")] == [False, True]

    # A member missing after the defaults is that item's deny, with the field; the others are still evaluated.
    body = {"action": {"name": "read"}, "evaluations": [_ask(("agent", "bot"), "read", ("tool", "helpdesk.get")), {}]}
    first, second = _ok(admin_client, EVALUATIONS, body)["evaluations"]
    assert first["decision"] is True
    assert second["decision"] is False
    assert second["context"]["reason"] | {"message": ""} == {
        "code": "invalid_request",
        "message": "",
        "field": "evaluations[1].subject",
        "policies": [],
        "access_request_possible": False,
    }
    # ... and under deny_on_first_deny it stops there.
    body["evaluations"] = [{}, *body["evaluations"]]
    body["options"] = {"evaluations_semantic": "deny_on_first_deny"}
    assert len(_ok(admin_client, EVALUATIONS, body)["evaluations"]) == 1
    # No evaluations, or an empty array: the single evaluation.
    single = _ask(("agent", "bot"), "read", ("tool", "helpdesk.get"))
    assert _ok(admin_client, EVALUATIONS, single)["decision"] is True
    assert _ok(admin_client, EVALUATIONS, {**single, "evaluations": []})["decision"] is True


def test_searches_page_through_every_result_and_refuse_foreign_tokens(
    admin_client: httpx.Client, live: LiveServer
) -> None:
    _estate(live.remit, users=7)
    public_doc = {"type": "doc", "id": "d", "properties": {"public": True}}
    query: dict[str, Any] = {"subject": {"type": "user"}, "action": {"name": "read"}, "resource": public_doc}
    everyone = _ok(admin_client, "/access/v1/search/subject", query)
    assert "page" not in everyone  # not asked for, and complete
    expected = ["alice", *(f"user{i:02d}" for i in range(1, 7))]
    assert [r["id"] for r in everyone["results"]] == expected
    assert all(r["type"] == "user" for r in everyone["results"])

    seen: list[str] = []
    body = _ok(admin_client, "/access/v1/search/subject", {**query, "page": {"limit": 3}})
    tokens = []
    while True:
        assert len(body["results"]) <= 3
        seen += [r["id"] for r in body["results"]]
        token = body["page"]["next_token"]
        if not token:
            break
        tokens.append(token)
        body = _ok(admin_client, "/access/v1/search/subject", {**query, "page": {"limit": 3, "token": token}})
    assert seen == expected and len(tokens) == 2

    def refused(page: Any, q: dict[str, Any] = query) -> dict[str, Any]:
        response = admin_client.post("/access/v1/search/subject", json={**q, "page": page})
        assert response.status_code == 400, response.text
        error: dict[str, Any] = response.json()
        return error

    other = {**query, "action": {"name": "write"}}
    assert refused({"token": tokens[0]}, other)["field"] == "page.token"  # a token of another query
    assert refused({"token": "not-a-token"})["field"] == "page.token"
    assert refused({"token": 5})["field"] == "page.token"
    assert refused({"limit": 0})["field"] == "page.limit"
    assert refused({"limit": "3"})["field"] == "page.limit"
    assert refused([])["field"] == "page"


def test_searches_answer_empty_for_what_they_know_nothing_about(admin_client: httpx.Client, live: LiveServer) -> None:
    _estate(live.remit)
    search = "/access/v1/search/"
    tool = {"type": "tool", "id": "helpdesk.get"}
    # Resource search: the bot reads the tool (its role); a ghost agent and an unknown type find nothing.
    found = _ok(
        admin_client,
        search + "resource",
        {"subject": {"type": "agent", "id": "bot"}, "action": {"name": "read"}, "resource": {"type": "tool"}},
    )
    assert found == {"results": [tool]}
    for subject, resource_type in ((("agent", "ghost"), "tool"), (("agent", "bot"), "spaceship")):
        body = {
            "subject": {"type": subject[0], "id": subject[1]},
            "action": {"name": "read"},
            "resource": {"type": resource_type},
        }
        assert _ok(admin_client, search + "resource", body) == {"results": []}
    # Action search: the role's actions, including one only a role names.
    actions = _ok(admin_client, search + "action", {"subject": {"type": "agent", "id": "bot"}, "resource": tool})
    assert {a["name"] for a in actions["results"]} == {"read", "summarise"}
    # A subject nobody stored is searched for only when it carries properties.
    nobody: dict[str, Any] = {
        "subject": {"type": "user", "id": "zed"},
        "resource": {"type": "doc", "id": "d", "properties": {"public": True}},
    }
    assert _ok(admin_client, search + "action", nobody) == {"results": []}
    nobody["subject"]["properties"] = {"team": "none"}
    assert _ok(admin_client, search + "action", nobody)["results"] == [{"name": "read"}]
    # Subject search over agents leaves out the suspended one.
    agents = {"subject": {"type": "agent"}, "action": {"name": "read"}, "resource": tool}
    assert _ok(admin_client, search + "subject", agents) == {"results": [{"type": "agent", "id": "bot"}]}


BAD: list[tuple[str, str, bytes | None, dict[str, str], str]] = [
    # (name, path, raw body or None for the JSON of the next element, headers, field)
    ("not json", EVALUATION, b'{"subject": ', {}, "body"),
    ("empty", EVALUATION, b"", {}, "body"),
    (
        "text/plain",
        EVALUATION,
        json.dumps(_ask(("user", "a"), "read", ("doc", "d"))).encode(),
        {"Content-Type": "text/plain"},
        "Content-Type",
    ),
    ("form", EVALUATION, b"subject=a", {"Content-Type": "application/x-www-form-urlencoded"}, "Content-Type"),
    ("NaN", EVALUATION, b'{"subject": {"type": "user", "id": "a", "properties": {"x": NaN}}}', {}, "body"),
    ("deep", EVALUATION, b"[" * 100_000 + b"]" * 100_000, {}, "body"),
    ("array", EVALUATION, b"[]", {}, "body"),
    ("bad utf-8", EVALUATION, b'{"subject": "\xff"}', {}, "body"),
]
BAD_JSON: list[tuple[str, str, Any, str]] = [
    ("no subject", EVALUATION, {"action": {"name": "read"}, "resource": {"type": "doc", "id": "d"}}, "subject"),
    ("no subject.id", EVALUATION, _ask({"type": "user"}, "read", ("doc", "d")), "subject.id"),
    ("no subject.type", EVALUATION, _ask({"id": "a"}, "read", ("doc", "d")), "subject.type"),
    ("empty subject.type", EVALUATION, _ask({"type": "", "id": "a"}, "read", ("doc", "d")), "subject.type"),
    ("no resource.id", EVALUATION, _ask(("user", "a"), "read", {"type": "doc"}), "resource.id"),
    ("no action.name", EVALUATION, {**_ask(("user", "a"), "read", ("doc", "d")), "action": {}}, "action.name"),
    ("subject string", EVALUATION, {**_ask(("user", "a"), "read", ("doc", "d")), "subject": "a"}, "subject"),
    ("name number", EVALUATION, {**_ask(("user", "a"), "read", ("doc", "d")), "action": {"name": 1}}, "action.name"),
    ("id number", EVALUATION, _ask({"type": "user", "id": 7}, "read", ("doc", "d")), "subject.id"),
    ("id too long", EVALUATION, _ask(("user", "a" * 1025), "read", ("doc", "d")), "subject.id"),
    (
        "properties list",
        EVALUATION,
        _ask({"type": "user", "id": "a", "properties": []}, "read", ("doc", "d")),
        "subject.properties",
    ),
    ("context string", EVALUATION, _ask(("user", "a"), "read", ("doc", "d"), context="x"), "context"),
    (
        "action.properties",
        EVALUATION,
        {**_ask(("user", "a"), "read", ("doc", "d")), "action": {"name": "r", "properties": 1}},
        "action.properties",
    ),
    ("evaluations object", EVALUATIONS, {"evaluations": {}}, "evaluations"),
    ("evaluations item", EVALUATIONS, {"evaluations": [1]}, "evaluations[0]"),
    ("item type", EVALUATIONS, {"evaluations": [{"subject": {"type": 1}}]}, "evaluations[0].subject.type"),
    ("default type", EVALUATIONS, {"subject": "a", "evaluations": [{}]}, "subject"),
    ("too many", EVALUATIONS, {"evaluations": [{}] * 1001}, "evaluations"),
    (
        "semantic",
        EVALUATIONS,
        {"options": {"evaluations_semantic": "any"}, "evaluations": [{}]},
        "options.evaluations_semantic",
    ),
    ("options", EVALUATIONS, {"options": "fast", "evaluations": [{}]}, "options"),
    ("single missing", EVALUATIONS, {"subject": {"type": "user", "id": "a"}}, "action"),
    (
        "search no action",
        "/access/v1/search/subject",
        {"subject": {"type": "u"}, "resource": {"type": "d", "id": "1"}},
        "action",
    ),
    (
        "search no resource.id",
        "/access/v1/search/subject",
        {"subject": {"type": "u"}, "action": {"name": "r"}, "resource": {"type": "d"}},
        "resource.id",
    ),
    (
        "search no subject.id",
        "/access/v1/search/resource",
        {"subject": {"type": "u"}, "action": {"name": "r"}, "resource": {"type": "d"}},
        "subject.id",
    ),
    ("action search no resource", "/access/v1/search/action", {"subject": {"type": "u", "id": "1"}}, "resource"),
]


def test_bad_input_is_400_naming_the_field_and_the_request_id_is_echoed(
    admin_client: httpx.Client, live: LiveServer
) -> None:
    _estate(live.remit)
    checks = [(n, p, raw, h, f) for n, p, raw, h, f in BAD]
    checks += [(n, p, json.dumps(b).encode(), {}, f) for n, p, b, f in BAD_JSON]
    oversized = b'{"context": {"pad": "' + b"x" * live.remit.settings.api.max_body_bytes + b'"}}'
    checks.append(("oversized", EVALUATION, oversized, {}, "body"))
    for name, path, raw, headers, field in checks:
        sent = {"Content-Type": "application/json", "X-Request-ID": f"req-{name}", **headers}
        response = admin_client.post(path, content=raw, headers=sent)
        assert response.status_code == 400, (name, response.text)
        body = response.json()
        assert body["field"] == field, (name, body)
        assert body["code"] == "invalid_authzen_request" and body["message"], (name, body)
        assert response.headers["X-Request-ID"] == f"req-{name}", name
    ok = admin_client.post(
        EVALUATION, json=_ask(("user", "alice"), "read", ("doc", "d")), headers={"X-Request-ID": "abc"}
    )
    assert (ok.status_code, ok.headers["X-Request-ID"]) == (200, "abc")
    assert "X-Request-ID" not in admin_client.post(EVALUATION, json=_ask(("user", "a"), "read", ("doc", "d"))).headers
    # Unknown members anywhere are ignored.
    extra = {
        **_ask(("user", "alice"), "read", {"type": "doc", "id": "d", "properties": {"public": True}, "x": 1}),
        "y": [1],
    }
    assert _ok(admin_client, EVALUATION, extra)["decision"] is True


def test_peps_authenticate_with_a_bearer_token_and_need_a_role_that_may_evaluate(
    live: LiveServer, mint: TokenFactory
) -> None:
    _estate(live.remit)
    body = _ask(("agent", "bot"), "read", ("tool", "helpdesk.get"))
    paths = [
        EVALUATION,
        EVALUATIONS,
        "/access/v1/search/subject",
        "/access/v1/search/resource",
        "/access/v1/search/action",
    ]
    with live.client() as anonymous, live.client("remit_adm_not-a-token") as forged:
        for client in (anonymous, forged):
            for path in paths:
                response = client.post(path, json=body, headers={"X-Request-ID": "r1"})
                assert response.status_code == 401, (path, response.text)
                assert response.json()["code"] == "unauthenticated"
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
                assert response.headers["X-Request-ID"] == "r1"
    with live.client(mint(AdminRole.OWNER, user_id="alice")) as owner:
        response = owner.post(EVALUATION, json=body)
        assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    for role in (AdminRole.PEP, AdminRole.AUDITOR, AdminRole.ADMIN):
        with live.client(mint(role)) as client:
            assert _ok(client, EVALUATION, body)["decision"] is True
    with live.client(mint(AdminRole.PEP)) as pep:  # a PEP asks for decisions, nothing else
        assert pep.post("/v1/users", json={"id": "mallory", "email": "m@example.org"}).status_code == 403
        refused = pep.get("/v1/agents")
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    with live.client() as anonymous:  # the metadata is public
        meta = anonymous.get("/.well-known/authzen-configuration")
        assert meta.status_code == 200 and meta.json()["policy_decision_point"] == live.url
        well_known = "/.well-known/authzen-configuration"
        assert anonymous.get(well_known + "/").json()["policy_decision_point"] == live.url
        tenant = anonymous.get(well_known + "/acme/eu").json()
        assert tenant["policy_decision_point"] == live.url + "/acme/eu"
        assert tenant["access_evaluation_endpoint"] == live.url + EVALUATION
        assert anonymous.get(well_known + "/.hidden").status_code == 422
