"""Error bodies over real HTTP: hostile bodies get ``{code, message, field}`` in the API's own words."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from remit.explain import UNKNOWN_FORMAT, pattern_words
from tests.api.conftest import LiveServer

#: pydantic's own English, and regex syntax: neither may reach a caller
FOREIGN = re.compile(r"Input should|Field required|Extra inputs|String should|List should|Value error|\^\[|\]\{|\(\?:")

NAME_WORDS = (
    "lowercase letters, digits, '.', '_' and '-', 1 to 64 characters, starting and ending with a letter or digit"
)


def _body(r: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = r.json()
    assert set(body) == {"code", "message", "field"}, body
    assert not FOREIGN.search(body["message"]), body["message"]
    return body


@pytest.mark.parametrize(
    ("method", "path", "payload", "field", "message"),
    [
        ("POST", "/v1/agents", {"name": "Bad Name!", "owner": "alice"}, "name", f"name must be {NAME_WORDS}"),
        ("POST", "/v1/agents", {"name": "bot", "ownr": "alice"}, "owner",
         "owner is required; unknown field 'ownr'; did you mean 'owner'?"),
        ("POST", "/v1/agents", {"name": "bot", "owner": "alice", "purpse": "x"}, "purpse",
         "unknown field 'purpse'; did you mean 'purpose'?"),
        ("POST", "/v1/agents/bot/suspend", {}, "reason", "reason is required"),
        ("POST", "/v1/agents", {"name": "bot", "owner": "alice", "risk_tier": "extreme"}, "risk_tier",
         "risk_tier must be one of: low, medium, high, critical"),
        ("POST", "/v1/agents", {"name": "bot", "owner": "alice", "clearance": "high"}, "clearance",
         "clearance must be a whole number"),
        ("POST", "/v1/agents", {"name": "bot", "owner": "alice", "attributes": {"x": 1.5}}, "attributes.x",
         "attributes.x must be true or false, a whole number, a string or a list of strings"),
        ("POST", "/v1/agents", [1], "body", "the request body must be a JSON object"),
        ("POST", "/v1/roles", {"name": "r", "permissions": [{"actions": ["read"], "resourc": "x"}]},
         "permissions[0].resource",
         "permissions[0].resource is required; unknown field 'resourc' in permissions[0]; did you mean 'resource'?"),
        ("PATCH", "/v1/users/alice", {"status": "gone"}, "status", "status must be one of: active, disabled"),
        ("PATCH", "/v1/agents/bot", {"review_due_at": "2026-01-01T00:00:00"}, "review_due_at",
         "review_due_at must include a time zone, such as 2026-01-31T09:00:00Z or 2026-01-31T10:00:00+01:00"),
        ("POST", "/v1/users", {"id": "zed", "email": "nope"}, "email",
         "email must be an email address such as name@example.org"),
        ("GET", "/v1/agents/BAD!", None, "name", f"name must be {NAME_WORDS}"),
        ("GET", "/v1/agents?limit=abc", None, "limit", "limit must be a whole number"),
        ("GET", "/v1/agents?status=sleeping", None, "status",
         "status must be one of: active, suspended, quarantined, retired"),
    ],
)  # fmt: skip
def test_validation_errors_are_in_the_apis_own_words(
    admin_client: httpx.Client,
    users: list[str],
    method: str,
    path: str,
    payload: Any,
    field: str,
    message: str,
) -> None:
    admin_client.post("/v1/agents", json={"name": "bot", "owner": "alice"}).raise_for_status()
    r = admin_client.request(method, path, json=payload)
    assert r.status_code == 422, r.text
    assert _body(r) == {"code": "invalid_request", "message": message, "field": field}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"name": "bot",\n "owner" "alice"}', "a ':' was expected at line 2, column 10"),
        (b'{"name": "bot",}', "a field name in double quotes was expected at line 1, column 16"),
        (b'{"name": "bot', "a string is not closed at line 1, column 10"),
        (b'{"name": "\xff"}', "it is not UTF-8 text"),
    ],
)
def test_malformed_json_says_where(admin_client: httpx.Client, content: bytes, message: str) -> None:
    r = admin_client.post("/v1/agents", content=content, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert _body(r) == {
        "code": "malformed_json",
        "message": "the request body is not valid JSON: " + message,
        "field": "body",
    }


@pytest.fixture
def openapi(admin_client: httpx.Client) -> Iterator[dict[str, Any]]:
    yield admin_client.get("/openapi.json").json()


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield node["pattern"]
        for value in node.values():
            yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def test_every_pattern_in_the_schema_has_words(openapi: dict[str, Any]) -> None:
    """A new constrained string without words would answer "in the expected format": register them with ``rule``."""
    patterns = set(_patterns(openapi))
    assert len(patterns) > 10
    assert sorted(p for p in patterns if pattern_words(p) is None) == []
    assert all(UNKNOWN_FORMAT not in (pattern_words(p) or "") for p in patterns)


def test_the_schema_describes_names_in_the_same_words(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    assert NAME_WORDS in schemas["RoleCreateRequest"]["properties"]["name"]["description"].lower()
    assert NAME_WORDS in schemas["UserCreateRequest"]["properties"]["id"]["description"].lower()
    assert NAME_WORDS in schemas["AgentCreateRequest"]["properties"]["name"]["description"].lower()


def test_a_domain_rule_reads_the_same_as_the_schema_rule(admin_client: httpx.Client, live: LiveServer) -> None:
    """The registry checks names itself too (for the CLI and any other caller): the same words."""
    from remit.admin.access import AdminPrincipal, AdminRole
    from remit.errors import ValidationError
    from remit.registry.service import UserDraft

    with pytest.raises(ValidationError) as caught:
        live.remit.registry.create_user(
            AdminPrincipal(actor="test", role=AdminRole.ADMIN), UserDraft(id="Bad Id", email="a@b.c")
        )
    assert (caught.value.field, caught.value.message) == ("id", f"id must be {NAME_WORDS}")
