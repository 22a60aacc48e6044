"""Change events: who changed what in the registry, with the object before and after.

Schema ``remit.change/v1``. The audit issue hardens this table into the hash-chained log; the shape stays.
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
