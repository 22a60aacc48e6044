"""Booleans are strict: a JSON body takes only ``true`` and ``false``, a query string only the text ``true`` and
``false``. ``"yes"``, ``"true"``, ``0`` and ``1`` are a 422 naming the field, never coerced. So are integers (never
``"5"`` or ``5.0``) and date-times (RFC 3339 text, never a number of seconds)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.routing import APIRoute
from pydantic import BaseModel

from remit.api.app import create_app
from remit.api.methods import _flat
from remit.container import Remit

NOT_BOOLEANS: list[object] = ["yes", "true", "false", 0, 1, "1", None, [], {}]


def _refused(r: httpx.Response, field: str) -> None:
    assert r.status_code == 422, r.text
    body = r.json()
    assert (body["code"], body["field"]) == ("invalid_request", field)


def test_key_rotation_revoke_previous(admin_client: httpx.Client) -> None:
    before = admin_client.get("/v1/keys").json()
    for value in NOT_BOOLEANS:
        r = admin_client.post("/v1/keys/rotate", json={"revoke_previous": value})
        _refused(r, "revoke_previous")
    assert admin_client.get("/v1/keys").json() == before  # nothing rotated


def test_policy_apply_activate(admin_client: httpx.Client) -> None:
    for value in NOT_BOOLEANS:
        body = {"policies": "permit(principal, action, resource);", "activate": value}
        _refused(admin_client.post("/v1/policies", json=body), "activate")
    assert admin_client.get("/v1/policies").json()["items"] == []


def test_registration_token_any_owner(admin_client: httpx.Client) -> None:
    for value in NOT_BOOLEANS:
        r = admin_client.post("/v1/registration-tokens", json={"any_owner": value})
        _refused(r, "any_owner")
    assert admin_client.get("/v1/registration-tokens").json()["items"] == []


def test_agent_client_dpop_bound(admin_client: httpx.Client, users: list[str]) -> None:
    assert admin_client.post("/v1/agents", json={"name": "bot", "owner": "alice"}).status_code == 201
    for value in NOT_BOOLEANS:
        r = admin_client.put("/v1/agents/bot/client", json={"dpop_bound_access_tokens": value})
        _refused(r, "dpop_bound_access_tokens")
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
        _refused(r, "follow")
    with admin_client.stream("GET", "/v1/audit/stream", params={"after": "0", "follow": "false"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert "".join(r.iter_text()).startswith("retry:")  # it ended by itself: follow=false was understood


def test_integers_are_never_coerced(admin_client: httpx.Client, users: list[str]) -> None:
    for value in ["5", 5.0, True, "five"]:
        r = admin_client.post("/v1/agents", json={"name": "bot", "owner": "alice", "clearance": value})
        _refused(r, "clearance")
        r = admin_client.post("/v1/registration-tokens", json={"owner": "alice", "max_uses": value})
        _refused(r, "max_uses")
    assert admin_client.get("/v1/agents").json()["items"] == []
    assert admin_client.get("/v1/registration-tokens").json()["items"] == []


def test_date_times_are_rfc3339_text_never_seconds(admin_client: httpx.Client, users: list[str]) -> None:
    # GET /v1/events?until=0.5 answered 200: pydantic read 0.5 as seconds since 1970
    for text in ["0.5", "1700000000", "-1", "1e9"]:
        for name in ("since", "until"):
            _refused(admin_client.get("/v1/events", params={name: text}), name)
    assert admin_client.get("/v1/events", params={"until": "2030-01-01T00:00:00Z"}).status_code == 200
    values: list[object] = [1700000000, 0.5, "1700000000", True]
    for value in values:
        r = admin_client.post("/v1/registration-tokens", json={"owner": "alice", "expires_at": value})
        _refused(r, "expires_at")
        r = admin_client.post("/v1/admin-tokens", json={"name": "x", "role": "auditor", "expires_at": value})
        _refused(r, "expires_at")
    assert admin_client.get("/v1/registration-tokens").json()["items"] == []


def _query_params(dependant: Any) -> list[Any]:
    """The query parameters of a route's dependency tree."""
    found = list(dependant.query_params)
    for sub in dependant.dependencies:
        found += _query_params(sub)
    return found


def _schemas(node: Any, kind: str, parent: Any = None) -> list[tuple[dict[str, Any], Any]]:
    """Every ``kind`` schema (``bool``, ``int``, ``datetime``) inside a pydantic core schema, with its parent."""
    found: list[tuple[dict[str, Any], Any]] = []
    if isinstance(node, dict):
        if node.get("type") == kind:
            found.append((node, parent))
        for value in node.values():
            found += _schemas(value, kind, node)
    elif isinstance(node, list | tuple):
        for value in node:
            found += _schemas(value, kind, parent)
    return found


def _validator_name(schema: Any) -> str:
    """The name of a ``function-before`` schema's function."""
    function = schema.get("function", {}) if isinstance(schema, dict) else {}
    return str(getattr(function.get("function"), "__name__", ""))


def test_every_boolean_integer_and_date_time_of_every_request_is_strict(remit: Remit) -> None:
    """Over every route of the app: a body's booleans and integers are strict, its date-times ``DateTime``; a query's
    booleans are ``QueryBool``, its date-times ``DateTime``."""
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
            validators = [getattr(getattr(m, "func", None), "__name__", "") for m in param.field_info.metadata]
            if param.field_info.annotation is bool:
                query_bools.append(param.name)
                assert "_query_bool" in validators, (original.path, param.name)
            if "datetime" in str(param.field_info.annotation):
                assert "_date_time" in validators, (original.path, param.name)
    assert query_bools == ["follow"]
    assert len(bodies) > 20
    checked = 0
    for model in bodies:
        core = model.__pydantic_core_schema__
        for kind in ("bool", "int"):
            for schema, _ in _schemas(core, kind):
                assert schema.get("strict") is True, (model.__name__, schema)
                checked += 1
        for _, parent in _schemas(core, "datetime"):
            assert parent.get("type") == "function-before" and _validator_name(parent) == "_date_time", model.__name__
            checked += 1
    assert checked >= 15
