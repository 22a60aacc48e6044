"""The OpenID AuthZEN Authorization API 1.0: ``/access/v1/...`` decisions and searches, and the PDP metadata.

https://openid.net/specs/authorization-api-1_0.html

Bodies are read here, not by FastAPI, so that everything the spec calls a bad request (a Content-Type other
than JSON, an empty body, malformed JSON, a missing member, a wrong type) is a 400 naming the field rather
than a 422. PEPs authenticate with an admin bearer token of role ``pep`` (or ``admin``, ``auditor``).
``X-Request-ID`` is echoed by ``remit.api.request_id`` on every response.
"""

from __future__ import annotations

import _json
import json
from collections.abc import Callable
from time import perf_counter
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route
from starlette.types import Scope

from remit.admin.access import Act, AdminPrincipal, authorize
from remit.api.deps import authenticate, cached_principal
from remit.api.durable import durable
from remit.api.problems import status_of
from remit.api.schemas import authzen as wire
from remit.api.schemas.common import ErrorBody
from remit.audit.receipt import Receipt
from remit.container import Remit
from remit.errors import RemitError
from remit.explain import rule
from remit.obs.decisions import decision_source
from remit.policy.authzen import AuthZen, InvalidAuthZenRequest, parse_json
from remit.policy.search import Search

router = APIRouter(tags=["authzen"])

EVALUATION = "/access/v1/evaluation"
EVALUATIONS = "/access/v1/evaluations"
SEARCH_SUBJECT = "/access/v1/search/subject"
SEARCH_RESOURCE = "/access/v1/search/resource"
SEARCH_ACTION = "/access/v1/search/action"
SEARCH_PREFIX = "/access/v1/search/"
METADATA = "/.well-known/authzen-configuration"

_E: dict[str, Any] = {"model": ErrorBody}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {**_E, "description": "Not JSON, malformed, too large, or a member missing or of the wrong type; `field`"},
    401: {**_E, "description": "No valid bearer token"},
    403: {**_E, "description": "The token's role may not ask for decisions (admin, auditor and pep may)"},
}


_EVALUATE = Act.DECISION_EVALUATE  #: an enum's members are slow to reach through their class

#: the bearer requirement, documented by hand: these routes skip FastAPI's dependency machinery (below)
_SECURITY: dict[str, Any] = {"security": [{"HTTPBearer": []}]}


def _body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON request body that the handler reads itself, and the bearer token."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})
    body = {"requestBody": {"required": True, "content": {"application/json": {"schema": _inline(schema, defs)}}}}
    return {**body, **_SECURITY}


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.rsplit("/", 1)[-1]], defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def _headers(scope: Scope) -> tuple[str | None, str]:
    """The ``Authorization`` and ``Content-Type`` headers (the first of each, as ``request.headers.get`` reads
    them; "" for a missing Content-Type), in one pass over the raw headers."""
    authorization: str | None = None
    content_type: str | None = None
    for key, value in scope["headers"]:
        if key == b"authorization":
            if authorization is None:
                authorization = value.decode("latin-1")
        elif key == b"content-type" and content_type is None:
            content_type = value.decode("latin-1")
    return authorization, content_type or ""


def _check_json(content_type: str) -> None:
    """400 unless the body is JSON by Content-Type (by content: ``parse_json``)."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        raise InvalidAuthZenRequest(
            "send the request as JSON, with Content-Type: application/json", field="Content-Type"
        )


Operation = Callable[[AdminPrincipal, Any], dict[str, Any]]

#: the body ``JSONResponse`` renders (its options: ``ensure_ascii=False, allow_nan=False, separators=(",", ":")``),
#: with the encoder that ``json.dumps`` (and ``JSONEncoder.encode``) builds on every call built once. Answers are
#: built here, never a cycle: not checked for one.
_encode_answer = _json.make_encoder(
    None, json.JSONEncoder().default, _json.encode_basestring, None, ":", ",", False, False, False
)


def _render(answer: dict[str, Any]) -> str:
    return "".join(_encode_answer(answer, 0))


class JSONAnswer(Response):
    """What ``Response(body, media_type="application/json")`` is (status 200, the same body and headers, in the
    same order), without going through its general handling of headers."""

    media_type = "application/json"

    def __init__(self, body: bytes) -> None:
        self.status_code = 200
        self.background = None
        self.body = body
        self.raw_headers = [(b"content-length", str(len(body)).encode("latin-1")), (b"content-type", _JSON)]


_JSON = b"application/json"


Factory = Callable[[Remit, AdminPrincipal, list[Receipt]], Operation]


async def _answer(request: Request, operation: Factory, *, inline: bool = False) -> Response:
    """Answer one decision request: timed for ``/metrics``, and traced when tracing is on.

    The caller is authenticated and authorized (401/403) before the body is read, by hand rather than with
    ``Depends``: on the decision path FastAPI's dependency solving costs more than the decision itself. One
    coroutine, not one per step: each costs about as much as a small check.
    """
    scope = request.scope
    remit: Remit = request.app.state.remit
    route = scope.get("route")
    path: str = route.path if route is not None else scope["path"]  # the template: bounded label values
    started = perf_counter()
    source = decision_source.set("search" if path.startswith(SEARCH_PREFIX) else "authzen")
    tracing = remit.tracing
    span = None if tracing is None else tracing.start_request(_span_name(path), request.headers, path)
    status, error = 500, None
    try:
        authorization, content_type = _headers(scope)
        p = cached_principal(remit, authorization) or await authenticate(remit, authorization)
        authorize(p, _EVALUATE)
        receipts: list[Receipt] = []
        run = operation(remit, p, receipts)
        _check_json(content_type)
        body = parse_json(await request.body())
        if inline:  # one evaluation is tens of microseconds: cheaper than a hop to the thread pool
            answer = run(p, body)
        else:  # batches and searches evaluate many times: off the event loop
            answer = await run_in_threadpool(run, p, body)
        # Released only once every decision in it is durably in the audit log (sync mode; see remit.audit.log), and
        # refused if that takes longer than audit.ack_timeout_seconds.
        if receipts:
            await durable(*receipts, timeout=remit.audit_log.ack_timeout)
        response = JSONAnswer(_render(answer).encode("utf-8"))
        status = 200
        return response
    except BaseException as exc:  # observed and re-raised: the app's handlers render it
        status, error = (status_of(exc) if isinstance(exc, RemitError) else 500), exc
        raise
    finally:
        decision_source.reset(source)
        if span is not None:
            span.end(status, error)
        remit.metrics.observe_request(path, status, perf_counter() - started)


def _span_name(path: str) -> str:
    """``/access/v1/search/subject`` -> ``remit.authzen.search.subject``."""
    return "remit.authzen." + path.rsplit("/v1/", 1)[-1].replace("/", ".")


def _authzen(remit: Remit, p: AdminPrincipal, receipts: list[Receipt]) -> AuthZen:
    recorder = remit.decision_recorder
    return AuthZen(remit.pdp, recorder, receipts, actor=p.actor)


def _search(remit: Remit, _p: AdminPrincipal, _receipts: list[Receipt]) -> Search:
    return Search(remit.pdp, max_page_size=remit.settings.api.max_page_size)


@router.post(
    EVALUATION,
    response_model=None,
    responses={200: {"model": wire.EvaluationResponse, "description": "The decision"}, **ERRORS},
    openapi_extra=_body_doc(wire.EvaluationRequest),
)
async def evaluation(request: Request) -> Response:
    """Access Evaluation: may this subject do this action on this resource? A deny is `200 {"decision": false}`
    with `context.reason` (which policy, and whether a just-in-time access request could help)."""
    return await _answer(request, lambda r, p, rs: _authzen(r, p, rs).evaluation, inline=True)


@router.post(
    EVALUATIONS,
    response_model=None,
    responses={
        200: {
            "model": wire.EvaluationsResponse | wire.EvaluationResponse,
            "description": "One decision per item, in order (a single decision when `evaluations` is absent)",
        },
        **ERRORS,
    },
    openapi_extra=_body_doc(wire.EvaluationsRequest),
)
async def evaluations(request: Request) -> Response:
    """Access Evaluations (boxcarring): top-level members are defaults; `options.evaluations_semantic` is
    `execute_all` (default), `deny_on_first_deny` or `permit_on_first_permit`. An item missing a member is
    answered with its own deny; the others are still evaluated."""
    return await _answer(request, lambda r, p, rs: _authzen(r, p, rs).evaluations)


@router.post(
    SEARCH_SUBJECT,
    response_model=None,
    responses={200: {"model": wire.SubjectSearchResponse, "description": "Permitted subjects"}, **ERRORS},
    openapi_extra=_body_doc(wire.SubjectSearchRequest),
)
async def search_subject(request: Request) -> Response:
    """Subject Search: which stored subjects of `subject.type` may do `action` on `resource`."""
    return await _answer(request, lambda r, p, rs: _search(r, p, rs).subjects)


@router.post(
    SEARCH_RESOURCE,
    response_model=None,
    responses={200: {"model": wire.ResourceSearchResponse, "description": "Permitted resources"}, **ERRORS},
    openapi_extra=_body_doc(wire.ResourceSearchRequest),
)
async def search_resource(request: Request) -> Response:
    """Resource Search: which stored resources of `resource.type` `subject` may do `action` on."""
    return await _answer(request, lambda r, p, rs: _search(r, p, rs).resources)


@router.post(
    SEARCH_ACTION,
    response_model=None,
    responses={200: {"model": wire.ActionSearchResponse, "description": "Permitted actions"}, **ERRORS},
    openapi_extra=_body_doc(wire.ActionSearchRequest),
)
async def search_action(request: Request) -> Response:
    """Action Search: which actions `subject` may do on `resource`."""
    return await _answer(request, lambda r, p, rs: _search(r, p, rs).actions)


@router.get(METADATA, response_model=wire.PdpMetadata)
def metadata(request: Request) -> wire.PdpMetadata:
    """PDP metadata. `policy_decision_point` is the base URL this document was fetched from."""
    return _metadata(request, "")


TenantPath = Annotated[
    str,
    Path(
        max_length=200,
        pattern=rule(
            r"^([A-Za-z0-9_~-][A-Za-z0-9._~-]*(/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*)?$",
            "a PDP identifier path: segments of letters, digits, '.', '_', '~' and '-', separated by '/', each "
            "starting with anything but '.'",
        ),
        description="The path of the PDP identifier, such as `tenant-1`.",
    ),
]


@router.get(
    METADATA + "/{path:path}",
    response_model=wire.PdpMetadata,
    responses={
        404: {**_E, "description": "No such endpoint"},
        422: {**_E, "description": "The path is not a PDP identifier path"},
    },
)
def tenant_metadata(path: TenantPath, request: Request) -> wire.PdpMetadata:
    """PDP metadata for the identifier `<base URL>/<path>` (the spec's path-suffixed well-known form)."""
    return _metadata(request, path)


def _metadata(request: Request, path: str) -> wire.PdpMetadata:
    base = str(request.base_url).rstrip("/")
    suffix = quote(path, safe="/-._~")
    return wire.PdpMetadata(
        policy_decision_point=f"{base}/{suffix}" if suffix else base,
        access_evaluation_endpoint=base + EVALUATION,
        access_evaluations_endpoint=base + EVALUATIONS,
        search_subject_endpoint=base + SEARCH_SUBJECT,
        search_resource_endpoint=base + SEARCH_RESOURCE,
        search_action_endpoint=base + SEARCH_ACTION,
    )


def fast_routes() -> list[Route]:
    """The decision endpoints as plain Starlette routes, put first in the app's route list.

    The FastAPI routes above stay, for the OpenAPI document (same paths, same handlers); these shadow them on the
    wire, because FastAPI's per-request machinery costs more than a decision. Errors still go through the app's
    exception handlers.
    """
    return [
        Route(EVALUATION, evaluation, methods=["POST"]),
        Route(EVALUATIONS, evaluations, methods=["POST"]),
    ]
