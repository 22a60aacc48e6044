"""``/v1/roles`` and ``/v1/resources`` over real HTTP: the tree, permission bundles, membership."""

from __future__ import annotations

import httpx


def _tree(client: httpx.Client) -> None:
    for body in (
        {"id": "helpdesk", "kind": "mcp_server", "display_name": "Helpdesk MCP", "sensitivity": "confidential"},
        {"id": "helpdesk.list_tickets", "kind": "tool", "parent": "helpdesk", "data_classes": ["pii"]},
        {"id": "helpdesk.close_ticket", "kind": "tool", "parent": "helpdesk"},
        {"id": "crm", "kind": "app"},
    ):
        r = client.post("/v1/resources", json=body)
        assert r.status_code == 201, r.text


def test_resource_tree_and_parent_rules(admin_client: httpx.Client) -> None:
    _tree(admin_client)
    tools = admin_client.get("/v1/resources", params={"parent": "helpdesk"}).json()["items"]
    assert [t["id"] for t in tools] == ["helpdesk.close_ticket", "helpdesk.list_tickets"]
    assert tools[1]["data_classes"] == ["pii"]
    servers = admin_client.get("/v1/resources", params={"kind": "mcp_server"}).json()["items"]
    assert [(s["id"], s["sensitivity"]) for s in servers] == [("helpdesk", "confidential")]

    r = admin_client.post("/v1/resources", json={"id": "x", "kind": "tool", "parent": "missing"})
    assert (r.status_code, r.json()["field"]) == (422, "parent")
    r = admin_client.post("/v1/resources", json={"id": "x", "kind": "mcp_server", "parent": "crm"})
    assert (r.status_code, r.json()["field"]) == (422, "parent")
    r = admin_client.post("/v1/resources", json={"id": "x", "kind": "endpoint", "parent": "helpdesk"})
    assert (r.status_code, r.json()["field"]) == (422, "parent")
    r = admin_client.post("/v1/resources", json={"id": "crm", "kind": "app"})
    assert (r.status_code, r.json()["field"]) == (409, "id")

    r = admin_client.delete("/v1/resources/helpdesk")
    assert r.status_code == 409
    assert "child" in r.json()["message"]
    assert admin_client.delete("/v1/resources/crm").status_code == 204
    assert admin_client.get("/v1/resources/crm").status_code == 404


def test_role_bundles_and_membership(admin_client: httpx.Client, users: list[str]) -> None:
    _tree(admin_client)
    assert admin_client.post("/v1/agents", json={"name": "summariser", "owner": "alice"}).status_code == 201
    r = admin_client.post(
        "/v1/roles",
        json={
            "name": "ticket-queue-reader",
            "description": "Read the ticket queue",
            "permissions": [{"actions": ["call_tool", "read", "read"], "resource": "helpdesk.list_tickets"}],
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["permissions"] == [{"actions": ["call_tool", "read"], "resource": "helpdesk.list_tickets"}]

    r = admin_client.post(
        "/v1/roles", json={"name": "broken", "permissions": [{"actions": ["read"], "resource": "nope"}]}
    )
    assert (r.status_code, r.json()["field"]) == (422, "permissions[0].resource")
    r = admin_client.post("/v1/roles", json={"name": "empty", "permissions": [{"actions": [], "resource": "*"}]})
    assert (r.status_code, r.json()["field"]) == (422, "permissions[0].actions")
    assert admin_client.get("/v1/roles/broken").status_code == 404

    r = admin_client.put("/v1/roles/ticket-queue-reader/agents/summariser")
    assert r.json()["agents"] == ["summariser"]
    assert admin_client.put("/v1/roles/ticket-queue-reader/agents/summariser").json()["agents"] == ["summariser"]
    assert admin_client.put("/v1/roles/ticket-queue-reader/users/bob").json()["users"] == ["bob"]
    assert admin_client.get("/v1/agents/summariser").json()["roles"] == ["ticket-queue-reader"]
    in_role = admin_client.get("/v1/agents", params={"role": "ticket-queue-reader"}).json()["items"]
    assert [a["name"] for a in in_role] == ["summariser"]
    assert [r["name"] for r in admin_client.get("/v1/roles", params={"agent": "summariser"}).json()["items"]] == [
        "ticket-queue-reader"
    ]
    assert admin_client.put("/v1/roles/ticket-queue-reader/agents/ghost").status_code == 404

    r = admin_client.delete("/v1/resources/helpdesk.list_tickets")
    assert r.status_code == 409
    assert "ticket-queue-reader" in r.json()["message"]

    r = admin_client.delete("/v1/roles/ticket-queue-reader/agents/summariser")
    assert r.json()["agents"] == []
    assert admin_client.get("/v1/agents/summariser").json()["roles"] == []
    assert admin_client.delete("/v1/roles/ticket-queue-reader").status_code == 204
    assert admin_client.delete("/v1/resources/helpdesk.list_tickets").status_code == 204

    actions = [e["action"] for e in admin_client.get("/v1/events", params={"target_type": "role"}).json()["items"]]
    assert actions == ["role.delete", "role.unassign", "role.assign", "role.assign", "role.create"]
