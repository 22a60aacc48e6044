"""Which methods each path answers: a complete ``Allow`` on every 405, and no route hiding another's path.

The router alone gets two things wrong when several routes share a path:

* a method no route of the path has is a 405 whose ``Allow`` names the methods of the *first* route that matched
  the path (``OPTIONS /v1/admin-tokens`` said ``Allow: POST``, though ``GET`` answers too);
* a route with a parameter takes a literal path that another route owns for other methods: ``GET
  /v1/policies/mode`` (only ``PUT`` exists) reached ``GET /v1/policies/{version}`` and failed as a bad version.

``RouteTable`` is built once from the app's routes. ``allowed(path)`` is what a 405's ``Allow`` says: the methods
of the most specific routes that match the path, the ones with the most literal segments. ``guards()`` are routes
that claim, for a literal path, the methods that only a less specific route would have taken, and answer them
405 (through the app's error handler, so that the body is the API's own).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import routing as fastapi_routing
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

_PARAM = re.compile(r"{[^}]*}")


@dataclass(frozen=True, slots=True)
class _Template:
    path: str  #: the path format, ``/v1/agents/{name}``
    regex: re.Pattern[str]
    methods: frozenset[str]

    @property
    def literal(self) -> bool:
        return _PARAM.search(self.path) is None

    @property
    def literal_segments(self) -> int:
        return sum(1 for segment in self.path.split("/") if segment and not _PARAM.search(segment))


class RouteTable:
    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self._templates = tuple(_templates(routes))

    def allowed(self, path: str) -> tuple[str, ...]:
        """The methods ``path`` answers, sorted: those of the most specific routes matching it; () for none."""
        matching = [t for t in self._templates if t.regex.match(path)]
        if not matching:
            return ()
        best = max(t.literal_segments for t in matching)
        return tuple(sorted({m for t in matching if t.literal_segments == best for m in t.methods}))

    def guards(self) -> list[Route]:
        """Routes answering 405 for the methods a literal path does not have but a route with a parameter would
        have taken (``GET /v1/policies/mode``), to be put before every other route."""
        out: list[Route] = []
        for path in sorted({t.path for t in self._templates if t.literal}):
            own = set(self.allowed(path))
            hidden = {m for t in self._templates if not t.literal and t.regex.match(path) for m in t.methods} - own
            if hidden:
                out.append(Route(path, _not_allowed, methods=sorted(hidden), include_in_schema=False))
        return out


def route_path(scope: Scope) -> str:
    """The path the router matches (the request's, without the app's ``root_path``)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


async def _not_allowed(_request: Request) -> Any:
    raise HTTPException(status_code=405)


def _templates(routes: Sequence[BaseRoute]) -> Iterator[_Template]:
    for route in _flat(routes):
        path = getattr(route, "path_format", None)
        regex = getattr(route, "path_regex", None)
        methods = getattr(route, "methods", None)
        if isinstance(path, str) and isinstance(regex, re.Pattern) and methods:
            yield _Template(path=path, regex=regex, methods=frozenset(str(m) for m in methods))


def _flat(routes: Sequence[BaseRoute]) -> Iterable[Any]:
    """Every route, those of included routers too (newer FastAPI nests them; older ones list them flat)."""
    contexts = getattr(fastapi_routing, "iter_route_contexts", None)
    return contexts(routes) if contexts is not None else routes
