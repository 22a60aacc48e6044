"""Pieces every router shares: documented error responses, path parameters, page rendering."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Path

from remit.api.schemas.common import NAME, RESOURCE, ErrorBody, PageResponse
from remit.explain import rule
from remit.paging import Page, encode_cursor

T = TypeVar("T")
Out = TypeVar("Out")

_E: dict[str, Any] = {"model": ErrorBody}
#: the errors any authenticated endpoint can answer with
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {**_E, "description": "Malformed JSON or missing body"},
    401: {**_E, "description": "No valid admin token"},
    403: {**_E, "description": "The caller's admin role does not allow this"},
    404: {**_E, "description": "No such object (or not visible to the caller)"},
    409: {**_E, "description": "Duplicate, still referenced, or not allowed in the current status"},
    413: {**_E, "description": "Request body too large"},
    422: {**_E, "description": "A field is invalid; `field` names it"},
    503: {**_E, "description": "The store is unavailable"},
}

#: a store or an audit log that did not answer, at the OAuth endpoints (their errors have the OAuth shape)
OAUTH_UNAVAILABLE: dict[str, Any] = {
    "description": "RFC 6749 error `temporarily_unavailable`: the store or the audit log did not answer in time; retry"
}

_NAME = NAME
AgentNamePath = Annotated[str, Path(pattern=_NAME, max_length=64, description="The agent's name.")]
UserIdPath = Annotated[str, Path(pattern=_NAME, max_length=64, description="The user's id.")]
RoleNamePath = Annotated[str, Path(pattern=_NAME, max_length=64, description="The role's name.")]
ResourceIdPath = Annotated[
    str,
    Path(pattern=RESOURCE, max_length=128, description="Resource id."),
]
_TOKEN_ID = rule(r"^tok_[A-Za-z0-9_-]{1,40}$", "an admin token id: tok_ and then 1 to 40 letters, digits, '-' and '_'")
TokenIdPath = Annotated[str, Path(pattern=_TOKEN_ID, description="The admin token's id.")]


def render_page(page: Page[T], of: Callable[[T], Out]) -> PageResponse[Out]:
    return PageResponse[Out](items=[of(item) for item in page.items], next_cursor=encode_cursor(page.next_after))
