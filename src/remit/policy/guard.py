"""The built-in guard: checks no policy can override, run before Cedar.

An agent the registry does not know is shadow AI; an agent that is suspended, quarantined or retired, or whose
owner is disabled or gone, is denied; so is a registered human who is disabled.
"""

from __future__ import annotations

from remit.policy.compile import AGENT, USER
from remit.policy.model import DenyCode, EntityRef
from remit.policy.state import GuardInfo


def check(principal: EntityRef, info: GuardInfo) -> tuple[DenyCode, str] | None:
    """None when the principal may go on to policy evaluation; else why not."""
    if principal.type == AGENT:
        known = info.agents.get(principal.id)
        if known is None:
            return DenyCode.UNREGISTERED_AGENT, f"agent {principal.id!r} is not registered; register it with an owner"
        status, owner = known
        if status != "active":
            return DenyCode.AGENT_INACTIVE, f"agent {principal.id!r} is {status}"
        owner_status = info.users.get(owner)
        if owner_status != "active":
            state = owner_status or "missing"
            return DenyCode.OWNER_DISABLED, f"the owner of agent {principal.id!r} ({owner}) is {state}"
        return None
    if principal.type == USER and info.users.get(principal.id) not in (None, "active"):
        return DenyCode.OWNER_DISABLED, f"user {principal.id!r} is disabled"
    return None
