"""Administration of Remit itself: admin roles, their rules, and admin tokens."""

from remit.admin.access import Act, AdminPrincipal, AdminRole, authorize, is_allowed, owner_scope, user_scope
from remit.admin.tokens import AdminToken

__all__ = ["Act", "AdminPrincipal", "AdminRole", "AdminToken", "authorize", "is_allowed", "owner_scope", "user_scope"]
