"""``Authorizer``: the engine for embedding in a Python process, with the same results as the AuthZEN API.

from remit.policy import Authorizer
authz = Authorizer.from_settings(load_settings())
decision = authz.check(("agent", "support-ticket-summariser"), "call_tool", ("tool", "helpdesk.get_ticket"))
"""

from __future__ import annotations

from typing import Any

from remit.policy.compile import cedar_type
from remit.policy.engine import PolicyEngine
from remit.policy.model import AuthzRequest, Decision, EntityRef
from remit.policy.refresh import PolicyRefresher

Ref = EntityRef | tuple[str, str]


class Authorizer:
    def __init__(self, engine: PolicyEngine, refresher: PolicyRefresher | None = None) -> None:
        self.engine = engine
        self.refresher = refresher

    def check(
        self,
        principal: Ref,
        action: str,
        resource: Ref,
        context: dict[str, Any] | None = None,
        *,
        principal_properties: dict[str, Any] | None = None,
        resource_properties: dict[str, Any] | None = None,
    ) -> Decision:
        """Decide one request. ``("agent", "bot")`` and ``EntityRef("Agent", "bot")`` name the same entity."""
        return self.engine.evaluate(
            AuthzRequest(
                principal=_ref(principal),
                action=action,
                resource=_ref(resource),
                context=context or {},
                principal_attrs=principal_properties,
                resource_attrs=resource_properties,
            )
        )

    def evaluate(self, request: AuthzRequest) -> Decision:
        return self.engine.evaluate(request)

    def refresh(self) -> bool:
        """Pick up changes now (a running refresher does this on its own)."""
        return self.refresher.refresh() if self.refresher else False


def _ref(value: Ref) -> EntityRef:
    if isinstance(value, EntityRef):
        return value
    kind, ident = value
    return EntityRef(cedar_type(kind), ident)
