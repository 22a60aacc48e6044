"""``Authorizer``: the engine for embedding in a Python process, with the same results as the AuthZEN API.

from remit.policy import Authorizer
authz = Authorizer.from_settings(load_settings())
decision = authz.check(("agent", "support-ticket-summariser"), "call_tool", ("tool", "helpdesk.get_ticket"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remit.audit.log import AuditUnavailable
from remit.policy.compile import cedar_type
from remit.policy.engine import PolicyEngine
from remit.policy.model import AuthzRequest, Decision, EntityRef
from remit.policy.refresh import PolicyRefresher

if TYPE_CHECKING:  # remit.audit.decisions imports the policy model: a runtime import here would be a cycle
    from remit.audit.decisions import DecisionRecorder

Ref = EntityRef | tuple[str, str]


#: how long ``check`` waits for its decision's audit record to commit before refusing, by default
#: (``audit.ack_timeout_seconds`` through ``Remit.authorizer``)
AUDIT_WAIT_SECONDS = 2.0


class Authorizer:
    """Decisions for embedding. With an audit log, every decision is recorded and released only once its record
    is durable (``sync`` mode): ``check`` raises ``AuditUnavailable`` instead of answering when it cannot be."""

    def __init__(
        self,
        engine: PolicyEngine,
        refresher: PolicyRefresher | None = None,
        *,
        recorder: DecisionRecorder | None = None,
        source: str = "sdk",
        actor: str | None = None,
        ack_timeout: float = AUDIT_WAIT_SECONDS,
    ) -> None:
        self.engine = engine
        self._ack_timeout = ack_timeout
        self.refresher = refresher
        self._recorder = recorder
        self._source = source
        self._actor = actor

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
        return self.evaluate(
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
        decision = self.engine.evaluate(request)
        if self._recorder is not None:
            receipt = self._recorder.record(
                request, decision, source=self._source, actor=self._actor, state=self.engine.state
            )
            try:
                receipt.result(self._ack_timeout)
            except AuditUnavailable:
                raise
            except Exception as exc:  # a timeout: not known durable, so not released
                raise AuditUnavailable(
                    f"the audit log did not confirm the decision within {self._ack_timeout:g} s; refused"
                ) from exc
        return decision

    def refresh(self) -> bool:
        """Pick up changes now (a running refresher does this on its own)."""
        return self.refresher.refresh() if self.refresher else False


def _ref(value: Ref) -> EntityRef:
    if isinstance(value, EntityRef):
        return value
    kind, ident = value
    return EntityRef(cedar_type(kind), ident)
