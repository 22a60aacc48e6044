"""Client secrets at the token endpoint (RFC 6749 §2.3.1): ``client_secret_basic`` (HTTP Basic, RFC 7617) and
``client_secret_post`` (``client_id`` and ``client_secret`` in the form). Remit's only client secrets are legacy
API keys (``remit.tokens.legacykeys``).

A request uses one client authentication method (RFC 6749 §2.3): a secret together with a client assertion, or in
both the header and the form, is refused.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote_plus

from remit.tokens.errors import InvalidClient, InvalidRequest

BASIC: Final = "client_secret_basic"
POST: Final = "client_secret_post"
#: no credential of ours is longer; a longer header is refused before it is decoded
MAX_BASIC_CHARS: Final = 1024


@dataclass(frozen=True, slots=True)
class ClientSecret:
    """A client id and secret as the client sent them, and how (``BASIC`` or ``POST``)."""

    client_id: str
    secret: str
    method: str

    @property
    def challenge(self) -> str | None:
        """The ``WWW-Authenticate`` scheme a refusal answers with: ``Basic`` when the client used it."""
        return "Basic" if self.method == BASIC else None

    def __repr__(self) -> str:  # never the secret, even in a traceback
        return f"ClientSecret(client_id={self.client_id!r}, method={self.method!r})"


def client_secret(params: Mapping[str, Sequence[str]], authorization: str | None) -> ClientSecret | None:
    """The client secret a token request carries, or None when it carries none (then: ``private_key_jwt``).

    Raises ``InvalidRequest`` for two methods at once, ``InvalidClient`` (challenge ``Basic`` for a Basic header)
    for a malformed one."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    basic = scheme.lower() == "basic"
    posted = _one(params, "client_secret")
    if not basic and posted is None:
        return None
    if basic and posted is not None:
        raise InvalidRequest("use one client authentication method: HTTP Basic or client_secret, not both")
    if _one(params, "client_assertion") is not None or _one(params, "client_assertion_type") is not None:
        raise InvalidRequest("use one client authentication method: a client secret or a client assertion, not both")
    form_id = _one(params, "client_id")
    if basic:
        client_id, secret = _basic(credentials.strip())
        if form_id is not None and form_id != client_id:
            raise InvalidClient("the client_id parameter differs from the HTTP Basic user", challenge="Basic")
        return ClientSecret(client_id, secret, BASIC)
    if not form_id:
        raise InvalidClient("client_secret_post needs the client_id parameter")
    if not posted:
        raise InvalidClient("the client_secret parameter is empty")
    return ClientSecret(form_id, posted, POST)


def _basic(credentials: str) -> tuple[str, str]:
    """RFC 6749 §2.3.1: the client id and secret are form-urlencoded, then joined by ``:`` and base64-encoded."""
    if not credentials or len(credentials) > MAX_BASIC_CHARS:
        raise InvalidClient("the HTTP Basic credentials are missing or too long", challenge="Basic")
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise InvalidClient("the HTTP Basic credentials are not base64 of id:secret", challenge="Basic") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id or not secret:
        raise InvalidClient("the HTTP Basic credentials must be client_id:client_secret", challenge="Basic")
    return unquote_plus(client_id), unquote_plus(secret)


def _one(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidRequest(f"the {name} parameter is repeated")
    return values[0]
