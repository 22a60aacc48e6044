"""Parsing the compact option values: ``--attr key=value``, ``--permission ACTIONS:RESOURCE``, ``--expires-in 30d``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

import typer

from remit.explain import explain

if TYPE_CHECKING:
    from remit.api.schemas.roles import PermissionBody

AttrValue = bool | int | str | list[str]

_INT = re.compile(r"^-?\d{1,19}$")
_DURATION = re.compile(r"^(\d{1,6})([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def attr_value(raw: str) -> AttrValue:
    """``true``/``false`` -> bool, ``42`` -> int, ``[a,b]`` -> list of strings, anything else -> string."""
    if raw in ("true", "false"):
        return raw == "true"
    if _INT.match(raw):
        return int(raw)
    if raw.startswith("[") and raw.endswith("]"):
        inner = raw[1:-1].strip()
        return [part.strip() for part in inner.split(",")] if inner else []
    return raw


def attributes(pairs: list[str] | None, option: str = "--attr") -> dict[str, AttrValue]:
    """``key=value`` pairs as an attribute map; a malformed pair is a usage error."""
    out: dict[str, AttrValue] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{pair!r} is not key=value", param_hint=option)
        out[key.strip()] = attr_value(raw)
    return out


def permission(spec: str) -> PermissionBody:
    """``read,call_tool:helpdesk.get_ticket`` (actions, a colon, then a resource id or ``*``)."""
    actions, sep, resource = spec.partition(":")
    names = [a.strip() for a in actions.split(",") if a.strip()]
    if not sep or not names or not resource:
        raise typer.BadParameter(f"{spec!r} is not ACTION[,ACTION]:RESOURCE", param_hint="--permission")
    import pydantic  # only for the commands that take permissions

    from remit.api.schemas.roles import PermissionBody

    try:
        return PermissionBody(actions=names, resource=resource)
    except pydantic.ValidationError as exc:
        problem = explain(exc.errors(), model=PermissionBody)[0]
        raise typer.BadParameter(f"{spec!r}: {problem.message}", param_hint="--permission") from None


def permissions(specs: list[str] | None) -> list[PermissionBody]:
    return [permission(spec) for spec in specs or []]


def duration(raw: str, option: str = "--expires-in") -> timedelta:
    """``45s``, ``90m``, ``12h``, ``30d``, ``2w``; more than zero."""
    m = _DURATION.match(raw.strip())
    if not m or int(m.group(1)) == 0:
        raise typer.BadParameter(f"{raw!r} is not a duration such as 90m, 12h, 30d or 2w", param_hint=option)
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
