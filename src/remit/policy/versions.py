"""Policy history: every change to the policy set or the extra entities is a new, immutable version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from remit.policy.model import Mode, OnError


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    version: int
    policies: str
    schema_fragment: dict[str, Any] | None  #: Cedar JSON schema added to the registry's base schema
    on_error: OnError
    digest: str  #: SHA-256 of ``policies``
    comment: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class EntitySet:
    version: int
    entities: list[dict[str, Any]]  #: Cedar JSON entity format
    comment: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class Control:
    """What every server evaluates with. ``revision`` changes with every committed change of anything."""

    revision: int
    active_policy_version: int | None
    active_entities_version: int | None
    mode: Mode
    updated_at: datetime
