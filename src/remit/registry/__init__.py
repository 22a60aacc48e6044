"""The inventory of agents, their owners, roles and resources."""

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
