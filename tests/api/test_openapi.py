"""What ``/openapi.json`` declares: the OAuth endpoints' bodies (forms, and registration's JSON), their error bodies,
and one page-size limit."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from remit.api.schemas.oauth import AssertionType, TokenType
from remit.tokens.endpoint import ASSERTION_TYPE
from remit.tokens.endpoint import GRANT_TYPE as CLIENT_CREDENTIALS
from remit.tokens.exchange import ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE
from remit.tokens.exchange import GRANT_TYPE as TOKEN_EXCHANGE
from tests.api.conftest import LiveServer

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
