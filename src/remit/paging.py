"""Bounded, cursor-based pagination shared by every listing."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Generic, TypeVar

from remit.errors import ValidationError

T = TypeVar("T")

#: the most items a listing answers at once, unless ``api.max_page_size`` says otherwise (its default)
MAX_PAGE_SIZE = 200
#: the items of a listing that names no ``limit``, unless ``api.default_page_size`` says otherwise
DEFAULT_PAGE_SIZE = 50
#: the most ``api.max_page_size`` may be set to
PAGE_SIZE_CEILING = 1000


def check_limit(limit: int, maximum: int) -> int:
    """``limit`` if a listing may answer that many items at once; else ``ValidationError`` on ``limit``, saying the
    range. ``maximum`` is the deployment's ``api.max_page_size``: the number the OpenAPI document and the docs give."""
    if not 1 <= limit <= maximum:
        raise ValidationError(f"limit must be from 1 to {maximum}", field="limit")
    return limit


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int
    after: str | None = None  #: the sort key of the last item already seen


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    next_after: str | None  #: the sort key to continue after, or None when this was the last page


def encode_cursor(key: str | None) -> str | None:
    if key is None:
        return None
    return base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """The sort key inside an opaque cursor; ``ValidationError`` naming ``cursor`` when it is not one of ours."""
    if cursor is None or cursor == "":
        return None
    try:
        if len(cursor) > 400:
            raise ValueError("too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        # validate=True: characters outside the alphabet are an error, not silently dropped
        key = base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise ValidationError("cursor is not a value returned by a previous page", field="cursor") from exc
    if "\x00" in key:
        raise ValidationError("cursor is not a value returned by a previous page", field="cursor")
    return key
