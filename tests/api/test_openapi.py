"""What ``/openapi.json`` declares: the OAuth endpoints' bodies (forms, and registration's JSON), their error bodies,
and one page-size limit."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

import pytest

from remit.api.routes.audit import MAX_CHAIN_SLICE
from remit.api.schemas.oauth import AssertionType, TokenType
from remit.clock import FrozenClock
from remit.container import Remit
from remit.errors import ValidationError
from remit.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, check_limit
from remit.settings import ApiSettings
from remit.tokens.endpoint import ASSERTION_TYPE
from remit.tokens.endpoint import GRANT_TYPE as CLIENT_CREDENTIALS
from remit.tokens.exchange import ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE
from remit.tokens.exchange import GRANT_TYPE as TOKEN_EXCHANGE
from tests.api.conftest import LiveServer, serve

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def openapi(live: LiveServer) -> dict[str, Any]:
    with live.client() as client:
        document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def _body(openapi: dict[str, Any], path: str) -> tuple[str, dict[str, Any]]:
    body = openapi["paths"][path]["post"]["requestBody"]
    assert body["required"] is True
    ((media_type, content),) = body["content"].items()
    return media_type, content["schema"]


@pytest.mark.parametrize(
    ("path", "required", "members"),
    [
        (
            "/oauth/token",
            ["grant_type"],
            {
                "grant_type",
                "client_assertion_type",
                "client_assertion",
                "client_id",
                "client_secret",
                "resource",
                "audience",
                "scope",
                "subject_token",
                "subject_token_type",
                "actor_token",
                "actor_token_type",
                "requested_token_type",
            },
        ),
        (
            "/oauth/revoke",
            ["token"],
            {"token", "token_type_hint", "client_assertion_type", "client_assertion", "client_id"},
        ),
        ("/oauth/introspect", ["token"], {"token", "token_type_hint"}),
    ],
)
def test_oauth_endpoints_declare_their_forms(
    openapi: dict[str, Any], path: str, required: list[str], members: set[str]
) -> None:
    media_type, schema = _body(openapi, path)
    assert media_type == FORM
    assert schema["type"] == "object"
    assert schema["required"] == required
    assert set(schema["properties"]) == members
    # a form's values are text
    assert all(p.get("type") == "string" for p in schema["properties"].values())


def test_the_token_form_names_what_the_endpoint_takes(openapi: dict[str, Any]) -> None:
    _, schema = _body(openapi, "/oauth/token")
    members = schema["properties"]
    assert members["grant_type"]["enum"] == [CLIENT_CREDENTIALS, TOKEN_EXCHANGE]
    assert members["client_assertion_type"]["const"] == ASSERTION_TYPE
    assert set(members["subject_token_type"]["enum"]) == {ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE}
    # the literal types the document shows are the endpoint's own constants
    assert get_args(AssertionType) == (ASSERTION_TYPE,)
    assert set(get_args(TokenType)) == {ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE}


def test_registration_declares_its_json_client_metadata(openapi: dict[str, Any]) -> None:
    media_type, schema = _body(openapi, "/oauth/register")
    assert media_type == "application/json"
    assert schema["required"] == ["client_name", "owner"]
    assert {"jwks", "jwks_uri", "token_endpoint_auth_method", "dpop_bound_access_tokens"} <= set(schema["properties"])
    assert schema["properties"]["dpop_bound_access_tokens"]["type"] == "boolean"


def test_introspection_says_it_takes_an_admin_bearer_token(openapi: dict[str, Any]) -> None:
    assert openapi["paths"]["/oauth/introspect"]["post"]["security"] == [{"HTTPBearer": []}]
    assert "HTTPBearer" in openapi["components"]["securitySchemes"]


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke", "/oauth/register"])
def test_oauth_errors_are_declared_with_their_rfc_body(openapi: dict[str, Any], path: str) -> None:
    responses = openapi["paths"][path]["post"]["responses"]
    for status in ("400", "401"):
        ref = responses[status]["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/OAuthErrorBody"
    body = openapi["components"]["schemas"]["OAuthErrorBody"]
    assert body["required"] == ["error"]


def test_the_declared_form_is_what_the_endpoint_parses(live: LiveServer) -> None:
    # the declaration changes nothing on the wire: a form is read as before, anything else is an OAuth error
    with live.client() as client:
        r = client.post("/oauth/token", data={"grant_type": "client_credentials"})
        assert (r.status_code, r.json()["error"]) == (401, "invalid_client")
        r = client.post("/oauth/token", json={"grant_type": "client_credentials"})
        assert r.status_code == 400
        assert r.json() == {
            "error": "invalid_request",
            "error_description": "the request body must be application/x-www-form-urlencoded",
        }
        r = client.post(
            "/oauth/token", content=b"grant_type=client_credentials&grant_type=x", headers={"content-type": FORM}
        )
        assert (r.status_code, r.json()["error"]) == (400, "invalid_request")


def test_introspection_without_a_token_is_still_an_admin_401(live: LiveServer) -> None:
    with live.client() as anonymous:
        r = anonymous.post("/oauth/introspect", data={"token": "x"})
    assert r.status_code == 401
    assert r.json()["code"] == "unauthenticated"


# -- one page-size limit ----------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def _listings(openapi: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each listing (a GET with a page `limit`), and its `limit` parameter's schema."""
    found: dict[str, dict[str, Any]] = {}
    for path, operations in openapi["paths"].items():
        for parameter in operations.get("get", {}).get("parameters", []):
            if (parameter["in"], parameter["name"]) == ("query", "limit") and path != "/v1/audit/chain":
                found[path] = parameter["schema"]
    return found


def _maximum(schema: dict[str, Any]) -> int:
    (integer,) = [branch for branch in schema.get("anyOf", [schema]) if branch.get("type") == "integer"]
    assert "x-remit-page-size" not in schema  # the marker never reaches a reader
    maximum: int = integer["maximum"]
    assert integer["minimum"] == 1
    return maximum


def _limits_agree(live: LiveServer, maximum: int) -> None:
    with live.client(live.admin_token) as client:
        listings = _listings(client.get("/openapi.json").json())
        assert len(listings) >= 10
        for path, schema in listings.items():
            assert _maximum(schema) == maximum, path
        for path in ("/v1/agents", "/v1/users", "/v1/events", "/v1/audit", "/v1/admin-tokens"):
            assert client.get(path, params={"limit": maximum}).status_code == 200, path
            for limit in (maximum + 1, 10**30):
                r = client.get(path, params={"limit": limit})
                assert r.status_code == 422, (path, r.text)
                assert r.json() == {
                    "code": "invalid_request",
                    "message": f"limit must be from 1 to {maximum}",
                    "field": "limit",
                }
            r = client.get(path, params={"limit": 0})
            assert (r.status_code, r.json()["field"]) == (422, "limit")


def test_the_schema_and_the_message_give_the_same_page_size(live: LiveServer) -> None:
    # the schema said 1000 while the server refused anything over 200
    assert live.remit.settings.api.max_page_size == MAX_PAGE_SIZE
    _limits_agree(live, MAX_PAGE_SIZE)


def test_a_deployment_page_size_is_the_one_the_schema_gives(remit: Remit, clock: FrozenClock) -> None:
    api = remit.settings.api.model_copy(update={"max_page_size": 20, "default_page_size": 10})
    small = Remit.from_settings(remit.settings.model_copy(update={"api": api}), clock=clock)
    try:
        with serve(small) as live:
            _limits_agree(live, 20)
    finally:
        small.close()


def test_the_docs_give_the_page_sizes_of_the_code() -> None:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    (maximum,) = re.findall(r"`api\.max_page_size` \((\d+)\)", text)
    (default,) = re.findall(r"`api\.default_page_size` \((\d+)\)", text)
    assert (int(maximum), int(default)) == (MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE)
    assert f"`limit must be from 1 to {MAX_PAGE_SIZE}`" in text
    (chain,) = re.findall(
        r"`GET /v1/audit/chain` is not a listing: its `limit` is the rows of one slice, at most (\d+)", text
    )
    assert int(chain) == MAX_CHAIN_SLICE
    settings = ApiSettings()
    assert (settings.max_page_size, settings.default_page_size) == (MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE)
    with pytest.raises(ValidationError) as info:
        check_limit(MAX_PAGE_SIZE + 1, MAX_PAGE_SIZE)
    assert (info.value.message, info.value.field) == (f"limit must be from 1 to {MAX_PAGE_SIZE}", "limit")


def test_attributes_are_closed_to_keys_outside_their_pattern(openapi: dict[str, Any], live: LiveServer) -> None:
    # the schema left other keys open (patternProperties alone), so schema-valid attributes were refused
    schemas = openapi["components"]["schemas"]
    for model in ("AgentCreateRequest", "UserCreateRequest", "ResourceCreateRequest"):
        attributes = schemas[model]["properties"]["attributes"]
        assert attributes["additionalProperties"] is False, model
        assert list(attributes["patternProperties"]) == ["^[a-z][a-z0-9_]{0,62}$"]
    with live.client(live.admin_token) as client:
        r = client.post("/v1/users", json={"id": "carol", "email": "c@example.org", "attributes": {"Team": "x"}})
        assert (r.status_code, r.json()["field"]) == (422, "attributes.Team")
