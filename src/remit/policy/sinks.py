"""Where decisions go after they are made. Until the audit log takes them, log-only outcomes are logged.

Logs carry ids and names only: never the context, which may hold tool arguments or secrets.
"""

from __future__ import annotations

import logging

from remit.policy.model import AuthzRequest, Decision, Mode

log = logging.getLogger("remit.decisions")
_LOG_ONLY = Mode.LOG_ONLY  #: an enum's members are slow to reach through their class (``EnumType.__getattr__``)


def log_would_deny(request: AuthzRequest, decision: Decision) -> None:
    """In log-only mode, say what enforcement would have done."""
    if decision.mode is _LOG_ONLY and decision.allowed and decision.would_deny:
        log.info(
            "log-only: would deny %s %s %s %s (%s; policies %s; decision %s)",
            request.principal,
            request.action,
            request.resource,
            decision.policy_version,
            decision.deny_code.value if decision.deny_code else "deny",
            ",".join(decision.reasons) or "-",
            decision.decision_id,
        )
