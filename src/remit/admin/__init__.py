"""Administration of Remit itself: admin roles, their rules, and admin tokens."""

from remit.admin.access import (
    Act,
    AdminPrincipal,
    AdminRole,
    authorize,
    is_allowed,
    owner_scope,
    sees_every,
    user_scope,
    visible,
)
from remit.admin.tokens import AdminToken

__all__ = [
    "Act",
    "AdminPrincipal",
    "AdminRole",
    "AdminToken",
    "authorize",
    "is_allowed",
    "owner_scope",
    "sees_every",
    "user_scope",
    "visible",
]
