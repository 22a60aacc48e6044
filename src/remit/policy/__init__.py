"""The policy decision point: Cedar policies over the registry, one engine for every caller.

The names below are imported when first used (PEP 562), so that importing a light module of this package
(``remit.policy.model``, ``remit.policy.errors``) does not load the Cedar engine and the audit log with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from remit import lazy

if TYPE_CHECKING:
    from remit.policy.authorizer import Authorizer
    from remit.policy.engine import PolicyEngine
    from remit.policy.model import AuthzRequest, Decision, DenyCode, Effect, EntityRef, Mode, OnError

#: each exported name and the module that defines it
_EXPORTS = {
    "Authorizer": "remit.policy.authorizer",
    "PolicyEngine": "remit.policy.engine",
    **dict.fromkeys(
        ("AuthzRequest", "Decision", "DenyCode", "Effect", "EntityRef", "Mode", "OnError"), "remit.policy.model"
    ),
}

__all__ = [
    "Authorizer",
    "AuthzRequest",
    "Decision",
    "DenyCode",
    "Effect",
    "EntityRef",
    "Mode",
    "OnError",
    "PolicyEngine",
]

__getattr__ = lazy.exports(__name__, _EXPORTS)
