"""The policy decision point: Cedar policies over the registry, one engine for every caller."""

from remit.policy.authorizer import Authorizer
from remit.policy.engine import PolicyEngine
from remit.policy.model import AuthzRequest, Decision, DenyCode, Effect, EntityRef, Mode, OnError

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
