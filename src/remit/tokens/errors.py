"""OAuth errors of the token service and of every token check, each with its RFC ``error`` code and HTTP status.

The tree (all under ``remit.errors.RemitError``):

* TokenError                 an OAuth error: ``code`` is the RFC ``error`` value, ``status`` the HTTP status
  x InvalidRequest           400  RFC 6749 §5.2, RFC 6750 §3.1, RFC 8693 §2.2.2
  x InvalidClient            401  RFC 6749 §5.2 (client authentication failed: bad or replayed assertion)
  x InvalidGrant             400  RFC 6749 §5.2, RFC 7523 §3.1
  x UnauthorizedClient       400  RFC 6749 §5.2
  x UnsupportedGrantType     400  RFC 6749 §5.2
  x InvalidScope             400  RFC 6749 §5.2
  x InvalidTarget            400  RFC 8707 §2, RFC 8693 §2.2.2
  x UnsupportedTokenType     400  RFC 7009 §2.2.1
  x InvalidToken             401  RFC 6750 §3.1, RFC 8705 §3 (expired, revoked, malformed, wrongly bound)
  x InsufficientScope        403  RFC 6750 §3.1
  x InvalidDpopProof         400  RFC 9449 §5 at the token endpoint; 401 at a resource server (§7.1)
  x UseDpopNonce             400  RFC 9449 §8: the proof lacks the server's current nonce (a fresh one in ``headers``)
  x InvalidClientMetadata    400  RFC 7591 §3.2.2 (a registration's metadata field is invalid)
  x InvalidRedirectUri       400  RFC 7591 §3.2.2
  x InvalidSoftwareStatement 400  RFC 7591 §3.2.2
  x TemporarilyUnavailable   503  RFC 6749 §4.1.2.1: the store or the audit log is unavailable (at ``/oauth/*``)
* JoseError                  the JOSE layer refused a JWS; the verifier re-raises it as its context's TokenError
* InvalidKey                 a JWK or PEM that cannot be used as a verification or signing key (a ValidationError)

WARNING: an ``error_description`` never holds a token, a key, a claim value or anything else read from the token;
it names the check that failed, so that it is safe to return to the caller and to write to logs.
"""

from __future__ import annotations

from collections.abc import Mapping

from remit.errors import RemitError, ValidationError


class TokenError(RemitError):
    """An OAuth error. ``code`` is the RFC ``error`` value; ``message`` is the ``error_description``."""

    code = "invalid_request"
    default_message = "the request is not valid"
    #: the HTTP status the error maps to
    status: int = 400
    #: the ``WWW-Authenticate`` scheme of a 401: ``Basic`` when the client authenticated with HTTP Basic, as
    #: RFC 6749 §5.2 requires the challenge to match the scheme the client used
    challenge: str = "Bearer"

    def __init__(
        self,
        description: str | None = None,
        *,
        status: int | None = None,
        challenge: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        if status is not None:
            self.status = status
        if challenge is not None:
            self.challenge = challenge
        #: response headers the error needs besides the body (a fresh ``DPoP-Nonce``, RFC 9449 §8)
        self.headers: dict[str, str] = dict(headers or {})

    @property
    def error(self) -> str:
        """The RFC ``error`` code (the same as ``code``)."""
        return self.code

    @property
    def error_description(self) -> str:
        return self.message

    def body(self) -> dict[str, str]:
        """The RFC 6749 §5.2 error response body."""
        return {"error": self.code, "error_description": self.message}


# -- token endpoint (RFC 6749 §5.2 and extensions) ----------------------------------------------------------


class InvalidRequest(TokenError):
    """A parameter is missing, repeated, malformed or not supported."""

    code = "invalid_request"
    default_message = "the request is missing a parameter or is malformed"


class InvalidClient(TokenError):
    """Client authentication failed. RFC 6749 §5.2 allows 401 and requires it when the client used an
    ``Authorization`` header; Remit answers 401 in every case."""

    code = "invalid_client"
    default_message = "client authentication failed"
    status = 401


class InvalidGrant(TokenError):
    """The grant or assertion is invalid, expired, revoked or was issued to another client."""

    code = "invalid_grant"
    default_message = "the grant is invalid"


class UnauthorizedClient(TokenError):
    """The client may not use this grant type."""

    code = "unauthorized_client"
    default_message = "the client may not use this grant type"


class UnsupportedGrantType(TokenError):
    """The grant type is not supported."""

    code = "unsupported_grant_type"
    default_message = "the grant type is not supported"


class InvalidScope(TokenError):
    """The scope asked for is invalid, unknown or exceeds what was granted."""

    code = "invalid_scope"
    default_message = "the requested scope is invalid"


class InvalidTarget(TokenError):
    """The resource or audience asked for is unknown or not allowed (RFC 8707 §2)."""

    code = "invalid_target"
    default_message = "the requested resource or audience is not allowed"


class UnsupportedTokenType(TokenError):
    """Revocation of this token type is not supported (RFC 7009 §2.2.1)."""

    code = "unsupported_token_type"
    default_message = "the token type is not supported"


# -- resource servers (RFC 6750 §3.1) -----------------------------------------------------------------------


class InvalidToken(TokenError):
    """The access token is expired, revoked, malformed, not meant for this audience or not bound as it says."""

    code = "invalid_token"
    default_message = "the access token is not valid"
    status = 401


class InsufficientScope(TokenError):
    """The token is valid but does not carry the scope this request needs."""

    code = "insufficient_scope"
    default_message = "the access token does not carry the required scope"
    status = 403


class InvalidDpopProof(TokenError):
    """The DPoP proof is missing or invalid (RFC 9449 §5: 400 at the token endpoint; pass ``status=401`` at a
    resource server, §7.1)."""

    code = "invalid_dpop_proof"
    default_message = "the DPoP proof is not valid"


class UseDpopNonce(TokenError):
    """The DPoP proof must carry the server's nonce (RFC 9449 §8: 400 at the token endpoint, §9: 401 at a resource
    server); ``headers`` holds the ``DPoP-Nonce`` to use."""

    code = "use_dpop_nonce"
    default_message = "the DPoP proof must carry the server's current nonce"


# -- dynamic client registration (RFC 7591 §3.2.2) ----------------------------------------------------------


class InvalidClientMetadata(TokenError):
    """A client metadata field of a registration is invalid or not supported; the description names it."""

    code = "invalid_client_metadata"
    default_message = "the client metadata is not valid"


class InvalidRedirectUri(TokenError):
    """A registration asked for redirect URIs: Remit has no redirect-based grant."""

    code = "invalid_redirect_uri"
    default_message = "redirect URIs are not supported"


class InvalidSoftwareStatement(TokenError):
    """A registration carried a software statement, which Remit does not accept."""

    code = "invalid_software_statement"
    default_message = "the software statement is not valid"


# -- the server's own state ---------------------------------------------------------------------------------


class TemporarilyUnavailable(TokenError):
    """The store or the audit log did not answer in time: the OAuth endpoints' way of saying ``503`` (RFC 6749
    defines the code for the authorization endpoint, §4.1.2.1; its clients read it at the token endpoint too)."""

    code = "temporarily_unavailable"
    default_message = "the server cannot answer just now; retry later"
    status = 503


# -- the JOSE layer -----------------------------------------------------------------------------------------


class JoseError(RemitError):
    """A JWS that the JOSE layer refuses: malformed, oversized, an unsupported header, a bad signature. Never
    rendered as is: the verifier re-raises it as the OAuth error of its context, with the same description."""

    code = "invalid_jose"
    default_message = "the JWS is not valid"


class InvalidKey(ValidationError):
    """A JWK, JWKS or PEM that cannot be used: symmetric, private where public is expected, too weak, an
    unsupported curve or algorithm, or a ``use``/``key_ops`` other than signing."""

    code = "invalid_key"
    default_message = "the key cannot be used"
