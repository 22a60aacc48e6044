"""``/v1/policies`` and ``/v1/entities`` over real HTTP, and change propagation to a running server."""

from __future__ import annotations

import threading
import time

import httpx

from remit.admin.access import AdminPrincipal, AdminRole
from remit.container import Remit
from remit.policy.model import AuthzRequest, EntityRef
from remit.registry.models import Permission, ResourceKind
from remit.registry.service import AgentDraft, ResourceDraft, RoleDraft, UserDraft
from tests.api.conftest import LiveServer, TokenFactory

READ_ALL = '@id("read-all")\npermit(principal is Agent, action == Action::"read", resource);'
NO_PROD = '@id("no-prod")\nforbid(principal is Agent, action, resource) when { principal.environment == "production" };'


def _estate(remit: Remit) -> None:
    admin = AdminPrincipal(actor="test:setup", role=AdminRole.ADMIN)
    remit.registry.create_user(admin, UserDraft(id="alice", email="alice@example.org"))
    remit.registry.create_agent(admin, AgentDraft(name="bot", owner="alice"))
    remit.registry.create_resource(admin, ResourceDraft(id="helpdesk", kind=ResourceKind.MCP_SERVER))
    remit.registry.create_resource(admin, ResourceDraft(id="helpdesk.get", kind=ResourceKind.TOOL, parent="helpdesk"))
    remit.registry.create_role(admin, RoleDraft(name="reader", permissions=(Permission(("read",), "helpdesk"),)))


def test_versions_activate_diff_rollback(admin_client: httpx.Client, live: LiveServer) -> None:
    _estate(live.remit)
    r = admin_client.post("/v1/policies", json={"policies": READ_ALL, "comment": "first"})
    assert r.status_code == 201, r.text
    v1 = r.json()
    assert (v1["version"], v1["active"], v1["comment"], v1["on_error"]) == (1, True, "first", "deny")
    assert len(v1["digest"]) == 64
    r = admin_client.post("/v1/policies", json={"policies": READ_ALL + "\n" + NO_PROD, "activate": False})
    assert (r.json()["version"], r.json()["active"]) == (2, False)
    assert admin_client.get("/v1/policies/status").json()["active_version"] == 1

    listed = admin_client.get("/v1/policies").json()["items"]
    assert [(v["version"], v["active"]) for v in listed] == [(2, False), (1, True)]
    assert "policies" not in listed[0]
    assert admin_client.get("/v1/policies/2").json()["policies"].endswith(NO_PROD)
    diff = admin_client.get("/v1/policies/diff", params={"from": 1, "to": 2}).json()["diff"]
    assert "+forbid(principal is Agent" in diff
    assert diff.startswith("--- version 1")

    assert admin_client.post("/v1/policies/2/activate", json={"reason": "ship it"}).json()["active_version"] == 2
    assert admin_client.get("/v1/policies/active").json()["version"] == 2
    assert admin_client.post("/v1/policies/rollback", json={"reason": "too strict"}).json()["active_version"] == 1
    assert admin_client.post("/v1/policies/rollback", json={"to": 2}).json()["active_version"] == 2
    actions = [e["action"] for e in admin_client.get("/v1/events", params={"target_type": "policy"}).json()["items"]]
    assert actions == ["policy.activate", "policy.activate", "policy.activate", "policy.apply", "policy.apply"]
    assert admin_client.get("/v1/policies/9").status_code == 404
    assert admin_client.post("/v1/policies/9/activate", json={}).status_code == 404


def test_invalid_policies_are_422_with_position_and_nothing_is_stored(
    admin_client: httpx.Client, live: LiveServer
) -> None:
    _estate(live.remit)
    r = admin_client.post(
        "/v1/policies", json={"policies": READ_ALL + "\n\npermit(principal, action, resource) when { 1 < };"}
    )
    assert r.status_code == 422
    body = r.json()
    assert (body["code"], body["field"], body["line"], body["column"]) == ("policy_syntax_error", "policies", 4, 48)
    assert body["message"] == "line 4, column 48: unexpected token `}`"  # the token itself, not its policy

    # a missing ';' at the end of line 7: at the next token, saying where the ';' goes
    from tests.policy.test_syntax import MISSING_SEMICOLON

    r = admin_client.post("/v1/policies", json={"policies": MISSING_SEMICOLON})
    assert r.status_code == 422
    assert r.json() == {
        "code": "policy_syntax_error",
        "message": "line 8, column 1: unexpected token `@` (is a ';' missing after the policy that ends at line 7, "
        "column 33?)",
        "field": "policies",
        "line": 8,
        "column": 1,
    }

    r = admin_client.post(
        "/v1/policies",
        json={"policies": 'permit(principal is Agent, action, resource) when { principal.colour == "red" };'},
    )
    assert r.status_code == 422
    assert r.json()["code"] == "policy_invalid"
    assert "colour" in r.json()["message"]
    assert r.json()["problems"]

    r = admin_client.post("/v1/policies", json={"policies": '@id("role:sneaky")\npermit(principal, action, resource);'})
    assert r.status_code == 422
    assert "reserved" in r.json()["message"]
    r = admin_client.post("/v1/policies", json={"policies": READ_ALL, "on_error": "ignore"})
    assert (r.status_code, r.json()["field"]) == (422, "on_error")
    r = admin_client.post("/v1/policies/validate", json={"policies": READ_ALL})
    assert r.json() == {"valid": True, "policies": 1}
    assert admin_client.get("/v1/policies").json()["items"] == []
    assert admin_client.get("/v1/policies/status").json()["active_version"] is None


def test_a_schema_fragment_types_tool_arguments(admin_client: httpx.Client, live: LiveServer) -> None:
    _estate(live.remit)
    text = (
        '@id("small-refunds")\npermit(principal is Agent, action == Action::"call_tool", resource)'
        " when { context.arguments.amount < 500 };"
    )
    assert admin_client.post("/v1/policies", json={"policies": text}).status_code == 422
    fragment = {
        "": {
            "entityTypes": {},
            "actions": {
                "call_tool": {
                    "appliesTo": {
                        "principalTypes": ["Agent"],
                        "resourceTypes": ["Tool"],
                        "context": {
                            "type": "Record",
                            "attributes": {
                                "arguments": {
                                    "type": "Record",
                                    "attributes": {"amount": {"type": "Long"}},
                                }
                            },
                        },
                    }
                }
            },
        }
    }
    r = admin_client.post("/v1/policies", json={"policies": text, "schema": fragment})
    assert r.status_code == 201, r.text
    assert r.json()["schema"] == fragment
    live.remit.refresher.refresh()
    decide = live.remit.pdp.evaluate
    agent, tool = EntityRef("Agent", "bot"), EntityRef("Tool", "helpdesk.get")
    assert decide(AuthzRequest(agent, "call_tool", tool, {"arguments": {"amount": 10}})).allowed
    assert not decide(AuthzRequest(agent, "call_tool", tool, {"arguments": {"amount": 900}})).allowed


def test_mode_switch_needs_its_own_permission_and_a_reason(
    admin_client: httpx.Client, live: LiveServer, mint: TokenFactory
) -> None:
    _estate(live.remit)
    assert admin_client.post("/v1/policies", json={"policies": NO_PROD}).status_code == 201
    with live.client(mint(AdminRole.AUDITOR)) as auditor:
        assert auditor.get("/v1/policies/status").status_code == 200
        assert auditor.put("/v1/policies/mode", json={"mode": "log_only", "reason": "x"}).status_code == 403
        assert auditor.post("/v1/policies", json={"policies": READ_ALL}).status_code == 403
    with live.client(mint(AdminRole.PEP)) as pep:
        assert pep.get("/v1/policies/status").status_code == 403
    r = admin_client.put("/v1/policies/mode", json={"mode": "log_only", "reason": ""})
    assert (r.status_code, r.json()["field"]) == (422, "reason")
    r = admin_client.put("/v1/policies/mode", json={"mode": "log_only", "reason": "rolling out"})
    assert r.json()["mode"] == "log_only"
    live.remit.refresher.refresh()
    d = live.remit.pdp.evaluate(AuthzRequest(EntityRef("Agent", "bot"), "read", EntityRef("Tool", "helpdesk.get")))
    assert (d.allowed, d.effect.value, d.reasons) == (True, "deny", ("no-prod",))
    event = admin_client.get("/v1/events", params={"action": "policy.mode"}).json()["items"][0]
    assert (event["reason"], event["before"]["mode"], event["after"]["mode"]) == ("rolling out", "enforce", "log_only")


def test_entities_apply_and_refusals(admin_client: httpx.Client, live: LiveServer) -> None:
    doc = [{"uid": {"type": "Team", "id": "support"}, "attrs": {"size": 4}, "parents": []}]
    r = admin_client.put("/v1/entities", json={"entities": doc, "comment": "teams"})
    assert r.json() == {"version": 1, "count": 1}
    assert admin_client.get("/v1/entities").json() == {"version": 1, "entities": doc}
    for bad, word in (
        ([{"uid": {"type": "Agent", "id": "x"}, "attrs": {}, "parents": []}], "registry"),
        ([{"attrs": {}}], "uid"),
        ([doc[0], doc[0]], "twice"),
        ([{"uid": {"type": "Team", "id": "a"}, "attrs": {}, "parents": [{"type": "Team", "id": "a"}]}], ""),
    ):
        r = admin_client.put("/v1/entities", json={"entities": bad})
        assert r.status_code == 422, (bad, r.text)
        assert word in r.json()["message"]
    assert admin_client.get("/v1/policies/status").json()["entities_version"] == 1


def test_a_change_made_elsewhere_reaches_the_running_server_within_a_second(live: LiveServer) -> None:
    _estate(live.remit)
    request = AuthzRequest(EntityRef("Agent", "bot"), "read", EntityRef("Tool", "helpdesk.get"))
    # another process (the CLI, a second server) on the same store
    other = Remit.from_settings(live.remit.settings, clock=live.remit.clock)
    try:
        other.registry.assign_agent(AdminPrincipal(actor="cli", role=AdminRole.ADMIN), "reader", "bot", member=True)
        other.policies.apply(AdminPrincipal(actor="cli", role=AdminRole.ADMIN), NO_PROD)
    finally:
        other.close()
    started = time.monotonic()
    seen = threading.Event()
    while time.monotonic() - started < 2.0:
        state = live.remit.pdp.state
        if state is not None and state.version == 1:
            seen.set()
            break
        seen.wait(0.02)
    elapsed = time.monotonic() - started
    assert seen.is_set(), "the server did not pick up the new policy version"
    assert elapsed < 1.0
    d = live.remit.pdp.evaluate(request)
    assert (d.allowed, d.reasons) == (False, ("no-prod",))


def test_entity_errors_name_the_entity_and_a_broken_schema_is_refused_alone(
    admin_client: httpx.Client, live: LiveServer
) -> None:
    r = admin_client.put("/v1/entities", json={"entities": [{"uid": {"type": "Agent", "id": "x"}, "attrs": {}}]})
    assert (r.status_code, r.json()["field"]) == (422, "entities[0]")
    broken = {"": {"entityTypes": {"Doc": {"shape": {"type": "Nope"}}}, "actions": {}}}
    r = admin_client.post("/v1/policies", json={"policies": "", "schema": broken})
    assert r.status_code == 422
    assert r.json()["message"].startswith("schema: ")
    assert "Nope" in r.json()["message"]
    assert admin_client.get("/v1/policies").json()["items"] == []
