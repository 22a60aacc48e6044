"""What the OAuth endpoints take, for the OpenAPI document: their ``application/x-www-form-urlencoded`` forms
(RFC 6749 §4.4 and §2.3.1, RFC 7523, RFC 8693, RFC 7009, RFC 7662), the client metadata of dynamic registration
(RFC 7591 §2), and the RFC 6749 §5.2 error body.

The endpoints parse their bodies themselves, as the RFCs say (a repeated parameter is ``invalid_request``, any
error is an OAuth error body); these shapes only describe them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, Field, TypeAdapter
from typing_extensions import TypedDict

Assertion = Annotated[
    str, Field(description="`private_key_jwt` (RFC 7523): a JWT the agent signed with one of its registered keys.")
]
AssertionType = Literal["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]
TokenType = Literal["urn:ietf:params:oauth:token-type:access_token", "urn:ietf:params:oauth:token-type:jwt"]


class OAuthErrorBody(BaseModel):
    """An OAuth error (RFC 6749 §5.2; RFC 7591 §3.2.2 for registration)."""

    error: str = Field(description="`invalid_request`, `invalid_client`, `invalid_grant`, `invalid_target`, ...")
    error_description: str | None = Field(default=None, description="What went wrong, for a person.")


class TokenForm(TypedDict):
    """``POST /oauth/token``: client credentials, or token exchange."""

    grant_type: Literal["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"]
    client_assertion_type: NotRequired[AssertionType]
    client_assertion: NotRequired[Assertion]
    client_id: NotRequired[Annotated[str, Field(description="Over mutual TLS (`tls_client_auth`), or a legacy key's.")]]
    client_secret: NotRequired[Annotated[str, Field(description="A legacy API key (discouraged; or HTTP Basic).")]]
    resource: NotRequired[Annotated[str, Field(description="The API the token is for (RFC 8707); exactly one.")]]
    audience: NotRequired[Annotated[str, Field(description="Token exchange: instead of `resource`.")]]
    scope: NotRequired[Annotated[str, Field(description="Space-separated scopes.")]]
    subject_token: NotRequired[Annotated[str, Field(description="Token exchange: the party the agent acts for.")]]
    subject_token_type: NotRequired[TokenType]
    actor_token: NotRequired[Annotated[str, Field(description="Token exchange: the agent acting, if not the client.")]]
    actor_token_type: NotRequired[TokenType]
    requested_token_type: NotRequired[TokenType]


class RevokeForm(TypedDict):
    """``POST /oauth/revoke``: the token, and the client's authentication as at the token endpoint."""

    token: str
    token_type_hint: NotRequired[str]
    client_assertion_type: NotRequired[AssertionType]
    client_assertion: NotRequired[Assertion]
    client_id: NotRequired[Annotated[str, Field(description="Over mutual TLS (`tls_client_auth`).")]]


class IntrospectForm(TypedDict):
    """``POST /oauth/introspect``: the token (the caller authenticates with an admin bearer token)."""

    token: str
    token_type_hint: NotRequired[str]


class ClientMetadata(TypedDict):
    """``POST /oauth/register`` (RFC 7591 §2, with Remit's extensions). Other members are ignored (§2)."""

    client_name: Annotated[str, Field(description="The agent's name; also its `client_id`.")]
    owner: Annotated[str, Field(description="The accountable human, an active user (a Remit extension).")]
    jwks: NotRequired[Annotated[dict[str, Any], Field(description="An inline JWK Set (RFC 7517 §5).")]]
    jwks_uri: NotRequired[Annotated[str, Field(description="Where the client publishes its JWK Set.")]]
    token_endpoint_auth_method: NotRequired[Literal["private_key_jwt", "tls_client_auth"]]
    token_endpoint_auth_signing_alg: NotRequired[str]
    tls_client_auth_san_uri: NotRequired[str]
    grant_types: NotRequired[list[str]]
    scope: NotRequired[str]
    dpop_bound_access_tokens: NotRequired[bool]
    purpose: NotRequired[str]
    team: NotRequired[str]
    environment: NotRequired[str]


def form_body(shape: type[Any]) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of an ``application/x-www-form-urlencoded`` form."""
    return _body("application/x-www-form-urlencoded", shape)


def json_body(shape: type[Any]) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of a JSON object the endpoint parses itself."""
    return _body("application/json", shape)


def _body(media_type: str, shape: type[Any]) -> dict[str, Any]:
    schema = TypeAdapter(shape).json_schema()
    if "$defs" in schema:  # pragma: no cover - a shape of flat members only: no references to resolve
        raise TypeError(f"{shape.__name__} must not nest models")
    return {"requestBody": {"required": True, "content": {media_type: {"schema": schema}}}}
