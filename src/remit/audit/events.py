"""Change events: who changed what in the registry, with the object before and after.

Schema ``remit.change/v1``. Each is stored twice, in one transaction, with the same masked content: in the change
feed (``/v1/events``) and as a ``change`` record in the hash-chained audit log (``remit.audit.record.change_record``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

CHANGE_SCHEMA = "remit.change/v1"


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    id: str
    at: datetime
    actor: str  #: ``token:<id>`` or ``local:<os user>``; never a secret
    action: str  #: e.g. ``agent.create``, ``agent.suspend``
    target_type: str  #: agent, user, role, resource, admin_token
    target_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str = ""
    schema: str = CHANGE_SCHEMA
    extra: dict[str, Any] = field(default_factory=dict)
    #: the members the audit masker changed (``remit.audit.mask``), as stored; empty in an event not yet stored
    masked: tuple[str, ...] = ()
