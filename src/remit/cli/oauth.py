"""The token service as an agent (and a verifier) meets it, for ``remit token``: in process on ``REMIT_HOME``, or at
a server's OAuth endpoints (``--url``). Both run the same checks: locally the same ``TokenEndpoint`` and
``TokenIntrospection`` that serve ``/oauth/token`` and ``/oauth/revoke``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from remit.cli.backend import Json
from remit.cli.errors import RemoteError
from remit.cli.state import CliState
from remit.errors import ConfigurationError, RemitError

if TYPE_CHECKING:
    from remit.cli.remote import OAuthClient
    from remit.container import Remit
    from remit.tokens.verify import KeyLookup


class OAuthSide(Protocol):
    #: where the requests go, for messages: ``local /path/to/home`` or the server URL
    location: str

    def assertion_audience(self) -> str:
        """The ``aud`` of a client assertion: the token endpoint."""
        ...

    def token(self, form: Mapping[str, str]) -> Json:
        """``POST /oauth/token``: the RFC 6749 §5.1 response. Raises a ``TokenError``."""
        ...

    def revoke(self, form: Mapping[str, str]) -> None:
        """``POST /oauth/revoke`` (RFC 7009)."""
        ...

    def verifier(self) -> tuple[KeyLookup, str]:
        """The keys that verify Remit's tokens now, and the issuer they must name."""
        ...

    def introspect(self, token: str) -> Json | str:
        """RFC 7662 introspection, or why it could not be asked."""
        ...

    def close(self) -> None: ...


class LocalOAuth:
    """On the estate in ``REMIT_HOME``: the services, in this process."""

    def __init__(self, remit: Remit, location: str) -> None:
        self._remit = remit
        self.location = location

    def assertion_audience(self) -> str:
        return self._remit.token_endpoint.token_endpoint

    def token(self, form: Mapping[str, str]) -> Json:
        # the policies compiled and the audit log running: every token is recorded
        self._remit.authorizer(audit_process=False)
        return self._remit.token_endpoint.client_credentials(_params(form)).body()

    def revoke(self, form: Mapping[str, str]) -> None:
        self._remit.audit_log.start()
        self._remit.introspection.revoke(_params(form))

    def verifier(self) -> tuple[KeyLookup, str]:
        from remit.tokens.ownkeys import OwnKeys

        return OwnKeys(self._remit.signing_keys), self._remit.token_endpoint.issuer

    def introspect(self, token: str) -> Json | str:
        self._remit.audit_log.start()  # every introspection is recorded
        from remit.cli.home import local_principal

        return self._remit.introspection.introspect({"token": [token]}, local_principal().actor)

    def close(self) -> None:
        self._remit.close()


class RemoteOAuth:
    """At a running server: its metadata, JWKS and OAuth endpoints."""

    def __init__(self, client: OAuthClient) -> None:
        self._client = client
        self.location = client.location
        self._metadata: Json | None = None

    def assertion_audience(self) -> str:
        return self._meta("token_endpoint")

    def token(self, form: Mapping[str, str]) -> Json:
        return self._client.token(dict(form))

    def revoke(self, form: Mapping[str, str]) -> None:
        self._client.revoke(dict(form))

    def verifier(self) -> tuple[KeyLookup, str]:
        from remit.tokens.errors import InvalidKey
        from remit.tokens.verify import KeySet

        try:
            keys = KeySet.from_jwks(self._client.jwks())
        except (InvalidKey, ConfigurationError) as exc:
            where = f"{self.location}/.well-known/jwks.json"
            raise RemoteError("bad_response", f"{where} is not a usable JWK Set: {exc.message}") from exc
        return keys, self._meta("issuer")

    def introspect(self, token: str) -> Json | str:
        if not self._client.has_admin_token:
            return "no admin token (set REMIT_TOKEN, of role pep, auditor or admin, to ask the server)"
        try:
            return self._client.introspect(token)
        except RemitError as exc:
            return f"refused: {exc.message}"

    def close(self) -> None:
        self._client.close()

    def _meta(self, name: str) -> str:
        if self._metadata is None:
            self._metadata = self._client.metadata()
        value = self._metadata.get(name)
        if not isinstance(value, str) or not value:
            raise RemoteError("bad_response", f"{self.location}'s authorization server metadata has no {name}")
        return value


def open_oauth(state: CliState) -> OAuthSide:
    """At the server of ``--url`` (or ``REMIT_URL``) when given, else on the local estate."""
    target = state.url
    if target:
        from remit.cli.remote import OAuthClient

        try:
            admin: str | None = state.token()
        except ConfigurationError:
            admin = None  # the token endpoint needs none; introspection says what is missing
        return RemoteOAuth(OAuthClient(target, admin))
    from remit.cli.home import open_estate

    settings = state.settings()
    return LocalOAuth(open_estate(settings, create=False), f"local {settings.home}")


def _params(form: Mapping[str, str]) -> dict[str, list[str]]:
    return {name: [value] for name, value in form.items()}
