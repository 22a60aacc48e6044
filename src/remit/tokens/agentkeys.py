"""Agents' public keys for ``private_key_jwt`` client authentication (RFC 7523 §2.2, OpenID Connect Core §9).

An agent proves who it is at the token endpoint with a JWT it signed (a client assertion); Remit verifies it with
one of the public keys registered here. Only public halves are ever stored. A key is named by its RFC 7638
thumbprint, so the same key cannot be registered twice, and the assertion's ``kid`` header names it.

What is accepted (``accept_jwk``): Ed25519 (``EdDSA``), P-256 (``ES256``), and RSA of 2048 bits or more (``RS256``,
``PS256``); never a private member, never a symmetric key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from remit.tokens import jose
from remit.tokens.errors import InvalidKey

#: the algorithms an agent key may use
AGENT_KEY_ALGORITHMS: Final = frozenset({"EdDSA", "ES256", "RS256", "PS256"})
#: how many unrevoked keys one agent may have (room to rotate, not a key ring)
MAX_ACTIVE_KEYS: Final = 10


@dataclass(frozen=True, slots=True)
class AgentKey:
    """A registered public key of an agent."""

    kid: str  #: the RFC 7638 thumbprint of the public key
    agent: str
    alg: str
    jwk: dict[str, Any]  #: the public JWK with ``kid``, ``alg`` and ``use``
    created_at: datetime
    created_by: str  #: the actor who registered it
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def public_key(self) -> jose.PublicKey:
        return jose.PublicKey.from_jwk(self.jwk, alg=self.alg, kid=self.kid)


def accept_jwk(jwk: Mapping[str, Any]) -> jose.PublicKey:
    """The public key of an agent key registration, named by its thumbprint.

    Raises:
        InvalidKey: a private or symmetric key, an unsupported curve, algorithm or key size, or a ``kid`` that is
            not the key's thumbprint (assertions name the key by the ``kid`` Remit stores).
    """
    if not isinstance(jwk, Mapping):
        raise InvalidKey("a JWK must be a JSON object", field="jwk")
    given = jwk.get("kid")
    key = jose.PublicKey.from_jwk({k: v for k, v in jwk.items() if k != "kid"})
    if key.alg not in AGENT_KEY_ALGORITHMS:
        allowed = ", ".join(sorted(AGENT_KEY_ALGORITHMS))
        raise InvalidKey(f"agent keys use one of {allowed}; this key is {key.alg}", field="jwk")
    if given is not None and given != key.thumbprint:
        raise InvalidKey("the JWK's kid must be its RFC 7638 thumbprint, or be left out", field="kid")
    return jose.PublicKey.from_jwk(key.to_jwk(), alg=key.alg, kid=key.thumbprint)
