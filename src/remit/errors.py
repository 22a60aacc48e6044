"""Exceptions raised by remit.

Our exception hierarchy:

* RemitError                     base; every subclass has a stable ``code``
  x ConfigurationError           settings that cannot work (bad URL, insecure default in production)
  x ValidationError              input that breaks a domain rule; names the offending ``field``
    + InvalidTransition          an agent status change that the lifecycle does not allow
    + BadRequest                 a protocol request that is not what its protocol defines (AuthZEN): HTTP 400
  x NotFound                     the named object does not exist (or is not visible to the caller)
  x Conflict                     the object already exists, or is still referenced
  x AuthenticationError          the caller could not be identified
  x Forbidden                    the caller is known, and may not do this
  x StoreError                   the database failed; the detail stays in the logs

Messages are safe to show to callers: never a secret, a token value or a stack trace.
The mapping to HTTP lives in ``remit.api.problems`` alone; the CLI maps to exit codes in ``remit.cli``.
"""

from __future__ import annotations


class RemitError(Exception):
    """Base class. ``code`` is stable and machine-readable; it is never reworded once released."""

    code: str = "internal_error"
    default_message: str = "internal error"

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        self.message = message or self.default_message
        self.field = field
        super().__init__(f"{self.code}: {self.message}")


# -- configuration ------------------------------------------------------------------------------------


class ConfigurationError(RemitError):
    """The settings cannot work as given."""

    code = "configuration_error"
    default_message = "invalid configuration"


# -- input --------------------------------------------------------------------------------------------


class ValidationError(RemitError):
    """Input that breaks a domain rule."""

    code = "invalid_request"
    default_message = "invalid request"


class InvalidTransition(ValidationError):
    """The lifecycle does not allow this status change."""

    code = "invalid_transition"
    default_message = "status change not allowed"


class BadRequest(ValidationError):
    """A body that a wire protocol refuses as a whole (not JSON, a required member missing, a wrong type), where
    the protocol says 400 rather than our 422 for a broken domain rule."""

    code = "bad_request"
    default_message = "malformed request"


# -- objects ------------------------------------------------------------------------------------------


class NotFound(RemitError):
    """The object does not exist, or the caller may not know that it does."""

    code = "not_found"
    default_message = "not found"


class Conflict(RemitError):
    """The object exists already, or something still refers to it."""

    code = "conflict"
    default_message = "conflict"


# -- callers ------------------------------------------------------------------------------------------


class AuthenticationError(RemitError):
    """No valid credentials."""

    code = "unauthenticated"
    default_message = "a valid admin bearer token is required"


class Forbidden(RemitError):
    """The caller is known and is not allowed to do this."""

    code = "forbidden"
    default_message = "not allowed"


# -- infrastructure -----------------------------------------------------------------------------------


class StoreError(RemitError):
    """The store failed. The cause is logged, not shown."""

    code = "store_unavailable"
    default_message = "the store is unavailable; try again"
