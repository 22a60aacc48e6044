"""Booleans are strict: a JSON body takes only ``true`` and ``false``, a query string only the text ``true`` and
``false``. ``"yes"``, ``"true"``, ``0`` and ``1`` are a 422 naming the field, never coerced."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.routing import APIRoute
from pydantic import BaseModel

from remit.api.app import create_app
from remit.api.methods import _flat
from remit.container import Remit

NOT_BOOLEANS: list[object] = ["yes", "true", "false", 0, 1, "1", None, [], {}]


def _bool_field_refused(r: httpx.Response, field: str) -> None:
    assert r.status_code == 422, r.text
    body = r.json()
    assert (body["code"], body["field"]) == ("invalid_request", field)


def test_key_rotation_revoke_previous(admin_client: httpx.Client) -> None:
    before = admin_client.get("/v1/keys").json()
    for value in NOT_BOOLEANS:
        r = admin_client.post("/v1/keys/rotate", json={"revoke_previous": value})
        _bool_field_refused(r, "revoke_previous")
    assert admin_client.get("/v1/keys").json() == before  # nothing rotated


def test_policy_apply_activate(admin_client: httpx.Client) -> None:
    for value in NOT_BOOLEANS:
        body = {"policies": "permit(principal, action, resource);", "activate": value}
        _bool_field_refused(admin_client.post("/v1/policies", json=body), "activate")
    assert admin_client.get("/v1/policies").json()["items"] == []


def test_registration_token_any_owner(admin_client: httpx.Client) -> None:
    for value in NOT_BOOLEANS:
        r = admin_client.post("/v1/registration-tokens", json={"any_owner": value})
        _bool_field_refused(r, "any_owner")
    assert admin_client.get("/v1/registration-tokens").json()["items"] == []


def test_agent_client_dpop_bound(admin_client: httpx.Client, users: list[str]) -> None:
    assert admin_client.post("/v1/agents", json={"name": "bot", "owner": "alice"}).status_code == 201
    for value in NOT_BOOLEANS:
        r = admin_client.put("/v1/agents/bot/client", json={"dpop_bound_access_tokens": value})
        _bool_field_refused(r, "dpop_bound_access_tokens")
    assert admin_client.get("/v1/agents/bot/client").json()["dpop_bound_access_tokens"] is False


def test_attribute_values_are_never_coerced(admin_client: httpx.Client) -> None:
    # an attribute is a boolean, an integer, a string or a list of strings: "yes" stays a string, 1 an integer
    for i, value in enumerate(["yes", "true", 0, 1, True, []]):
        r = admin_client.post(
            "/v1/users", json={"id": f"u{i}", "email": f"u{i}@example.org", "attributes": {"on": value}}
        )
        assert r.status_code == 201, r.text
        got = r.json()["attributes"]["on"]
        assert (type(got), got) == (type(value), value)
    for value in [None, {}, 1.5]:
        r = admin_client.post("/v1/users", json={"id": "x", "email": "x@example.org", "attributes": {"on": value}})
        assert r.status_code == 422, value


def test_query_booleans_are_the_text_true_or_false(admin_client: httpx.Client) -> None:
    for value in ["yes", "1", "0", "on", "True", "FALSE", "t", ""]:
        r = admin_client.get("/v1/audit/stream", params={"after": "0", "follow": value})
        _bool_field_refused(r, "follow")
    with admin_client.stream("GET", "/v1/audit/stream", params={"after": "0", "follow": "false"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert "".join(r.iter_text()).startswith("retry:")  # it ended by itself: follow=false was understood


def _query_params(dependant: Any) -> list[Any]:
    """The query parameters of a route's dependency tree."""
    found = list(dependant.query_params)
    for sub in dependant.dependencies:
        found += _query_params(sub)
    return found


def _bool_schemas(node: Any) -> list[dict[str, Any]]:
    """Every ``bool`` schema inside a pydantic core schema."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "bool":
            found.append(node)
        for value in node.values():
            found += _bool_schemas(value)
    elif isinstance(node, list | tuple):
        for value in node:
            found += _bool_schemas(value)
    return found


def test_every_boolean_of_every_request_is_strict(remit: Remit) -> None:
    """Over every route of the app: a body's booleans are strict, a query's booleans are ``QueryBool``."""
    app = create_app(remit.settings, remit=remit)
    bodies: set[type[BaseModel]] = set()
    query_bools: list[str] = []
    for route in _flat(app.routes):
        original = getattr(route, "original_route", route)
        if not isinstance(original, APIRoute):
            continue
        if original.body_field is not None:
            annotation = original.body_field.field_info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                bodies.add(annotation)
        for param in _query_params(original.dependant):
            if param.field_info.annotation is bool:
                query_bools.append(param.name)
                validators = [getattr(m, "func", None) for m in param.field_info.metadata]
                assert any(getattr(f, "__name__", "") == "_query_bool" for f in validators), (original.path, param)
    assert query_bools == ["follow"]
    assert len(bodies) > 20
    strict = 0
    for model in bodies:
        for schema in _bool_schemas(model.__pydantic_core_schema__):
            assert schema.get("strict") is True, (model.__name__, schema)
            strict += 1
    assert strict >= 5
