"""AuthZEN Subject, Resource and Action Search: walk the stored candidates in order, evaluate each, page by key.

https://openid.net/specs/authorization-api-1_0.html (Subject Search, Resource Search, Action Search APIs)

* Candidates: for a subject search the stored entities of the subject's type (an id in the request is ignored,
  as the spec says); for a resource search the stored entities of the resource's type; for an action search
  every action the compiled state knows. Each candidate is one engine evaluation, so every result fed back
  into an evaluation is a permit (the spec's expectation), guard included.
* The side that is not searched for must be stored or carry ``properties``: otherwise nothing is known about
  it, and the answer is ``{"results": []}``, as for an unknown type (a 200, not an error).
* Paging: at most ``page.limit`` results (clamped to the server's maximum); ``page.token`` continues after the
  last candidate looked at. Tokens are opaque (base64url JSON of that position and a digest of the query); a
  token from another query, or not ours, is a 400 naming ``page.token``. A page may hold fewer results than
  the limit (each request evaluates at most ``MAX_SCAN`` candidates); an empty ``next_token`` marks the end.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from remit.admin.access import Act, AdminPrincipal, authorize
from remit.policy.authzen import (
    InvalidAuthZenRequest,
    Json,
    Party,
    action,
    body_object,
    context,
    entity_ref,
    member,
    party,
)
from remit.policy.compile import cedar_type
from remit.policy.engine import PolicyEngine
from remit.policy.model import AuthzRequest, EntityRef
from remit.policy.state import CompiledState

MAX_SCAN = 10_000
MAX_TOKEN = 2048
_BAD_TOKEN = "page.token is not a next_token this search returned; start again without a token"  # noqa: S105 - a message, not a secret


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int | None
    token: str | None
    asked: bool  #: the request had a ``page`` member (then the answer always has one)


class Search:
    """The three searches on one engine. Callers need ``decision.evaluate``, as for evaluations."""

    def __init__(self, engine: PolicyEngine, *, max_page_size: int = 200) -> None:
        self.engine = engine
        self.max_page_size = max_page_size

    def subjects(self, p: AdminPrincipal, body: Any) -> Json:
        """Which subjects of ``subject.type`` may do ``action`` on ``resource``."""
        authorize(p, Act.DECISION_EVALUATE)
        obj = body_object(body)
        subject = party(obj.get("subject"), "subject", need_id=False)
        act = action(obj.get("action"))
        resource = party(obj.get("resource"), "resource", need_id=True)
        ctx = context(obj.get("context"))
        page = page_request(obj)
        state = self.engine.state
        target = entity_ref(state, resource)
        ctype = cedar_type(subject.type)

        def permitted(ident: str) -> bool:
            request = AuthzRequest(
                EntityRef(ctype, ident), act.name, target, ctx, None, resource.properties, act.properties
            )
            return self.engine.evaluate(request).allowed

        known = state is not None and _known(state, target, resource)
        candidates = state.ids_of(ctype) if state is not None and known else ()
        query = _digest("subject", subject.type, act.name, act.properties, resource, None, ctx)
        found, token = self._walk(candidates, page, query, permitted)
        return _answer([{"type": subject.type, "id": ident} for ident in found], token, page)

    def resources(self, p: AdminPrincipal, body: Any) -> Json:
        """Which resources of ``resource.type`` ``subject`` may do ``action`` on."""
        authorize(p, Act.DECISION_EVALUATE)
        obj = body_object(body)
        subject = party(obj.get("subject"), "subject", need_id=True)
        act = action(obj.get("action"))
        resource = party(obj.get("resource"), "resource", need_id=False)
        ctx = context(obj.get("context"))
        page = page_request(obj)
        state = self.engine.state
        principal = entity_ref(state, subject)
        ctype = cedar_type(resource.type)

        def permitted(ident: str) -> bool:
            request = AuthzRequest(
                principal, act.name, EntityRef(ctype, ident), ctx, subject.properties, None, act.properties
            )
            return self.engine.evaluate(request).allowed

        known = state is not None and _known(state, principal, subject)
        candidates = state.ids_of(ctype) if state is not None and known else ()
        query = _digest("resource", resource.type, act.name, act.properties, subject, None, ctx)
        found, token = self._walk(candidates, page, query, permitted)
        return _answer([{"type": resource.type, "id": ident} for ident in found], token, page)

    def actions(self, p: AdminPrincipal, body: Any) -> Json:
        """Which actions ``subject`` may do on ``resource`` (an ``action`` member is ignored)."""
        authorize(p, Act.DECISION_EVALUATE)
        obj = body_object(body)
        subject = party(obj.get("subject"), "subject", need_id=True)
        resource = party(obj.get("resource"), "resource", need_id=True)
        ctx = context(obj.get("context"))
        page = page_request(obj)
        state = self.engine.state
        principal = entity_ref(state, subject)
        target = entity_ref(state, resource)

        def permitted(name: str) -> bool:
            request = AuthzRequest(principal, name, target, ctx, subject.properties, resource.properties, None)
            return self.engine.evaluate(request).allowed

        known = state is not None and _known(state, principal, subject) and _known(state, target, resource)
        candidates = state.actions if state is not None and known else ()
        query = _digest("action", "", "", None, subject, resource, ctx)
        found, token = self._walk(candidates, page, query, permitted)
        return _answer([{"name": name} for name in found], token, page)

    def _walk(
        self, candidates: Sequence[str], page: PageRequest, query: str, permitted: Callable[[str], bool]
    ) -> tuple[list[str], str]:
        """Evaluate sorted candidates after the token's position until the page is full; the next token."""
        start = bisect_right(candidates, _position(page.token, query)) if page.token is not None else 0
        limit = min(page.limit or self.max_page_size, self.max_page_size)
        found: list[str] = []
        i, end = start, len(candidates)
        while i < end and len(found) < limit and i - start < MAX_SCAN:
            if permitted(candidates[i]):
                found.append(candidates[i])
            i += 1
        return found, (_token(candidates[i - 1], query) if i < end else "")


def page_request(obj: Json) -> PageRequest:
    page = member(obj, "page")
    if page is None:
        return PageRequest(None, None, asked=False)
    limit = page.get("limit")
    if limit is not None:
        whole = isinstance(limit, int) or (isinstance(limit, float) and limit.is_integer())
        if isinstance(limit, bool) or not whole:
            raise InvalidAuthZenRequest("page.limit must be a whole number", field="page.limit")
        limit = int(limit)
        if limit < 1:
            raise InvalidAuthZenRequest("page.limit must be at least 1", field="page.limit")
    token = page.get("token")
    if token is None:  # drafts of the spec sent the token back as page.next_token
        token = page.get("next_token")
    if token is not None:
        if not isinstance(token, str):
            raise InvalidAuthZenRequest("page.token must be a string", field="page.token")
        if len(token) > MAX_TOKEN:
            raise InvalidAuthZenRequest(_BAD_TOKEN, field="page.token")
    return PageRequest(limit, token or None, asked=True)


def _known(state: CompiledState, ref: EntityRef, p: Party) -> bool:
    return p.properties is not None or ref in state.stored


def _answer(results: list[Json], next_token: str, page: PageRequest) -> Json:
    out: Json = {"results": results}
    if page.asked or next_token:
        out["page"] = {"next_token": next_token}
    return out


def _digest(kind: str, type_: str, name: str, props: Json | None, a: Party, b: Party | None, ctx: Json) -> str:
    """What a token is bound to: the query, without its page."""

    def side(x: Party | None) -> Any:
        return None if x is None else [x.type, x.id, x.properties]

    text = json.dumps([kind, type_, name, props, side(a), side(b), ctx], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _token(after: str, query: str) -> str:
    raw = json.dumps({"a": after, "q": query}, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _position(token: str, query: str) -> str:
    try:
        raw = base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode("ascii"))
        data = json.loads(raw)
    except (ValueError, binascii.Error, UnicodeError, RecursionError) as exc:
        raise InvalidAuthZenRequest(_BAD_TOKEN, field="page.token") from exc
    if not isinstance(data, dict) or not isinstance(data.get("a"), str) or data.get("q") != query:
        raise InvalidAuthZenRequest(_BAD_TOKEN, field="page.token")
    after: str = data["a"]
    return after
