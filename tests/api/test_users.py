"""``/v1/users`` over real HTTP."""

from __future__ import annotations

import httpx


def test_create_update_disable(admin_client: httpx.Client) -> None:
    r = admin_client.post(
        "/v1/users", json={"id": "carol", "email": "Carol@Example.org", "display_name": "Carol", "attributes": {}}
    )
    assert r.status_code == 201, r.text
    assert r.json()["email"] == "carol@example.org"
    assert r.json()["status"] == "active"
    r = admin_client.patch("/v1/users/carol", json={"display_name": "Carol D.", "attributes": {"department": "ops"}})
    assert (r.json()["display_name"], r.json()["attributes"]) == ("Carol D.", {"department": "ops"})
    assert admin_client.patch("/v1/users/carol", json={"status": "disabled"}).json()["status"] == "disabled"
    listed = admin_client.get("/v1/users", params={"status": "disabled"}).json()["items"]
    assert [u["id"] for u in listed] == ["carol"]
    assert admin_client.get("/v1/users", params={"status": "active"}).json()["items"] == []


def test_duplicates_and_bad_input(admin_client: httpx.Client, users: list[str]) -> None:
    r = admin_client.post("/v1/users", json={"id": "alice", "email": "other@example.org"})
    assert (r.status_code, r.json()["field"]) == (409, "id")
    r = admin_client.post("/v1/users", json={"id": "alice2", "email": "ALICE@example.org"})
    assert (r.status_code, r.json()["field"]) == (409, "email")
    r = admin_client.post("/v1/users", json={"id": "dave", "email": "not-an-email"})
    assert (r.status_code, r.json()["field"]) == (422, "email")
    r = admin_client.patch("/v1/users/bob", json={"email": "alice@example.org"})
    assert (r.status_code, r.json()["field"]) == (409, "email")
    assert admin_client.get("/v1/users/bob").json()["email"] == "bob@example.org"
    r = admin_client.patch("/v1/users/bob", json={"status": "gone"})
    assert (r.status_code, r.json()["field"]) == (422, "status")
    assert admin_client.get("/v1/users/nobody").status_code == 404
