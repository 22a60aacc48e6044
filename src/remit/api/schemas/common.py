"""Shapes shared by every endpoint: errors, pages, attributes, constrained strings."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Generic, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
)

from remit.explain import rule, sentence
from remit.registry.models import (
    AGENT_NAME,
    ATTR_KEY,
    ATTR_KEY_RULE,
    EMAIL_RULE,
    LABEL_RULE,
    NAME_RULE,
    RESOURCE_ID,
    RESOURCE_ID_RULE,
)
from remit.registry.service import LABEL

T = TypeVar("T")

#: A JSON boolean, ``true`` or ``false``: never ``"yes"``, ``"true"``, ``0`` or ``1`` coerced into one. Every
#: boolean of a request body is one of these.
Bool = StrictBool


def _query_bool(value: object) -> object:
    """A query string says a boolean as the text ``true`` or ``false``, nothing else (``1``, ``yes``, ``on``)."""
    if value in ("true", "false"):
        return value == "true"
    if isinstance(value, bool):  # a default, or a caller inside the process
        return value
    raise ValueError("must be true or false")


#: A boolean in a query string: exactly ``true`` or ``false``.
QueryBool = Annotated[bool, BeforeValidator(_query_bool)]

#: A JSON integer: never ``"5"`` or ``5.0`` coerced into one. Every integer of a request body is one of these.
Int = StrictInt

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]")


def _date_time(value: object) -> object:
    """A date-time is RFC 3339 text; pydantic alone would take a number (``0.5``, ``"1700000000"``) as seconds since
    1970."""
    if isinstance(value, datetime):  # a caller inside the process
        return value
    if isinstance(value, str) and _RFC3339.match(value):
        return value
    raise ValueError("must be an RFC 3339 date-time with a time zone, e.g. 2026-01-01T00:00:00Z")


#: A date-time with a time zone, as RFC 3339 text, in a body or a query string. Every request date-time is one.
DateTime = Annotated[AwareDatetime, BeforeValidator(_date_time)]

# Each pattern is registered with what it allows in words (``rule``): error messages and the OpenAPI descriptions say
# that, never the regex.
#: text without control characters (PostgreSQL cannot store NUL; logs should not carry escapes)
SAFE_TEXT = rule(r"^[^\x00-\x08\x0b-\x1f\x7f]*$", "text without control characters (tabs and new lines are allowed)")
#: one line: no control characters at all
ONE_LINE = rule(r"^[^\x00-\x1f\x7f]*$", "one line of text, without control characters")
SOME_LINE = rule(r"^[^\x00-\x1f\x7f]+$", "one line of text, not empty, without control characters")
NAME = rule(AGENT_NAME.pattern, NAME_RULE)  #: agents, users and roles
RESOURCE = rule(RESOURCE_ID.pattern, RESOURCE_ID_RULE)
LABEL_PATTERN = rule(LABEL.pattern, LABEL_RULE)
LABEL_OR_EMPTY = rule(r"^([a-z0-9][a-z0-9_.-]{0,62})?$", "empty, or " + LABEL_RULE)
EMAIL = rule(r"^[^@\s\x00-\x1f]{1,64}@[^@\s\x00-\x1f]{1,255}$", EMAIL_RULE)
ATTR_NAME = rule(ATTR_KEY.pattern, ATTR_KEY_RULE)

ShortText = Annotated[str, StringConstraints(max_length=200, pattern=SAFE_TEXT)]
LongText = Annotated[str, StringConstraints(max_length=1000, pattern=SAFE_TEXT)]
Label = Annotated[
    str,
    StringConstraints(max_length=63, pattern=LABEL_OR_EMPTY),
    Field(description=sentence("empty, or " + LABEL_RULE)),
]
AgentName = Annotated[str, StringConstraints(pattern=NAME), Field(description=sentence(NAME_RULE))]
UserId = Annotated[str, StringConstraints(pattern=NAME), Field(description=sentence(NAME_RULE))]
RoleName = Annotated[str, StringConstraints(pattern=NAME), Field(description=sentence(NAME_RULE))]
ResourceId = Annotated[str, StringConstraints(pattern=RESOURCE), Field(description=sentence(RESOURCE_ID_RULE))]
Email = Annotated[str, StringConstraints(max_length=320, pattern=EMAIL), Field(description=sentence(EMAIL_RULE))]
AttrString = Annotated[str, StringConstraints(max_length=256, pattern=SAFE_TEXT)]
AttrInt = Annotated[Int, Field(ge=-(2**63), le=2**63 - 1)]
AttrValue = Bool | AttrInt | AttrString | Annotated[list[AttrString], Field(max_length=32)]
AttrKey = Annotated[str, StringConstraints(pattern=ATTR_NAME)]
#: keys outside the pattern are refused: the schema says so too (pydantic alone leaves other keys open)
Attributes = Annotated[
    dict[AttrKey, AttrValue],
    Field(
        max_length=32,
        description="Up to 32 attributes for policies to read; names are "
        + ATTR_KEY_RULE
        + "; values are strings, whole numbers, true or false, or lists of strings.",
        json_schema_extra={"additionalProperties": False},
    ),
]


class Request(BaseModel):
    """Base for request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class ErrorBody(BaseModel):
    """Every non-OAuth error: a stable code, a message that says what to fix, and the field when one is at fault."""

    code: str
    message: str
    field: str | None = None


class PageResponse(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null on the last page.")


class StatusChangeRequest(Request):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=SAFE_TEXT)]


def attrs_out(attributes: dict[str, str | int | bool | tuple[str, ...]]) -> dict[str, str | int | bool | list[str]]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in attributes.items()}


def attrs_in(attributes: dict[str, str | int | bool | list[str]]) -> dict[str, str | int | bool | tuple[str, ...]]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in attributes.items()}
