"""An agent as an OAuth client: the client metadata (RFC 7591 §2) that changes how the token endpoint treats it.

Kept apart from the agent's registry record, one row per agent that has any, so that more client metadata can join
without touching the registry. An agent without a row has the defaults.

* ``dpop_bound_access_tokens`` (RFC 9449 §5.2): when true, every token request of the agent must carry a DPoP proof,
  and so every token it gets is DPoP-bound. Default false: a proof is optional.
* ``jwks_uri`` (RFC 7591 §2): where a client that registered itself publishes its keys; the token endpoint fetches
  and refreshes them from there (``remit.tokens.remotejwks``), so the client rotates its keys by publishing them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class AgentClient:
    """An agent's client metadata."""

    agent: str
    dpop_bound_access_tokens: bool = False  #: RFC 9449 §5.2: token requests without a DPoP proof are refused
    updated_at: datetime | None = None  #: None: never set (the defaults)
    updated_by: str | None = None  #: the actor of the last change
    jwks_uri: str | None = None  #: RFC 7591 §2: the keys of ``private_key_jwt`` are fetched from here
