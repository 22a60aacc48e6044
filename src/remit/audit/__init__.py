"""The audit trail."""

from remit.audit.events import CHANGE_SCHEMA, ChangeEvent

__all__ = ["CHANGE_SCHEMA", "ChangeEvent"]
