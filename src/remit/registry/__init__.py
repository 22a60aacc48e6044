"""The inventory of agents, their owners, roles and resources.

The names below are imported when first used (PEP 562), so that importing ``remit.registry.models`` (the CLI
reads its enumerations for every command's help) does not load the service with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from remit import lazy

if TYPE_CHECKING:
    from remit.registry.models import (
        Agent,
        AgentAction,
        AgentStatus,
        Permission,
        Resource,
        ResourceKind,
        RiskTier,
        Role,
        Sensitivity,
        User,
        UserStatus,
    )
    from remit.registry.service import (
        AgentChanges,
        AgentDraft,
        RegistryService,
        ResourceChanges,
        ResourceDraft,
        RoleChanges,
        RoleDraft,
        UserChanges,
        UserDraft,
    )

_MODELS = "remit.registry.models"
_SERVICE = "remit.registry.service"
#: each exported name and the module that defines it
_EXPORTS = {
    "Agent": _MODELS,
    "AgentAction": _MODELS,
    "AgentStatus": _MODELS,
    "Permission": _MODELS,
    "Resource": _MODELS,
    "ResourceKind": _MODELS,
    "RiskTier": _MODELS,
    "Role": _MODELS,
    "Sensitivity": _MODELS,
    "User": _MODELS,
    "UserStatus": _MODELS,
    "AgentChanges": _SERVICE,
    "AgentDraft": _SERVICE,
    "RegistryService": _SERVICE,
    "ResourceChanges": _SERVICE,
    "ResourceDraft": _SERVICE,
    "RoleChanges": _SERVICE,
    "RoleDraft": _SERVICE,
    "UserChanges": _SERVICE,
    "UserDraft": _SERVICE,
}

__all__ = [
    "Agent",
    "AgentAction",
    "AgentChanges",
    "AgentDraft",
    "AgentStatus",
    "Permission",
    "RegistryService",
    "Resource",
    "ResourceChanges",
    "ResourceDraft",
    "ResourceKind",
    "RiskTier",
    "Role",
    "RoleChanges",
    "RoleDraft",
    "Sensitivity",
    "User",
    "UserChanges",
    "UserDraft",
    "UserStatus",
]

__getattr__ = lazy.exports(__name__, _EXPORTS)
