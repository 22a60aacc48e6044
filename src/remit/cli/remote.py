"""The remote backend: the same operations over a running server's HTTP API, with an admin bearer token.

The only CLI module that speaks HTTP. Error bodies ``{code, message, field}`` become the same errors the local
backend raises, so both modes print the same messages and exit with the same codes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote

import httpx

from remit.cli.backend import Json, Listing, MemberKind, PageArgs
from remit.cli.errors import RemoteError, Unreachable, clean
from remit.errors import (
    AuthenticationError,
    ConfigurationError,
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    RemitError,
    StoreError,
    ValidationError,
)
from remit.net.http import tls_context
from remit.policy.errors import PolicySyntaxError, PolicyValidationError
from remit.policy.model import AuthzRequest, Effect, EntityRef
from remit.registry.models import AgentAction

if TYPE_CHECKING:  # the request models are only passed through; the policy test cases load with `policy test`
    from pydantic import BaseModel

    from remit.api.schemas.access_tokens import TokenRevokeRequest
    from remit.api.schemas.admin import AdminTokenCreateRequest
    from remit.api.schemas.agents import AgentCreateRequest, AgentUpdateRequest
    from remit.api.schemas.api_keys import ApiKeyCreateRequest
    from remit.api.schemas.certificates import CaInitRequest, CertificateIssueRequest
    from remit.api.schemas.common import StatusChangeRequest
    from remit.api.schemas.keys import KeyRotateRequest
    from remit.api.schemas.policies import (
        ActivateRequest,
        EntitiesApplyRequest,
        ModeRequest,
        PolicyApplyRequest,
        PolicyValidateRequest,
        RollbackRequest,
    )
    from remit.api.schemas.registration import RegistrationTokenCreateRequest
    from remit.api.schemas.resources import ResourceCreateRequest, ResourceUpdateRequest
    from remit.api.schemas.roles import RoleCreateRequest, RoleUpdateRequest
    from remit.api.schemas.users import UserCreateRequest, UserUpdateRequest
    from remit.policy.cases import Outcome
    from remit.registry.ports import AgentFilter, EventFilter, ResourceFilter, RoleFilter, UserFilter
    from remit.store.audit import AuditFilter

#: server error codes -> the errors the services raise locally
ERRORS: dict[str, type[RemitError]] = {
    cls.code: cls
    for cls in (
        AuthenticationError,
        ConfigurationError,
        Conflict,
        Forbidden,
        InvalidTransition,
        NotFound,
        StoreError,
        ValidationError,
    )
}

_POSITION = re.compile(r"^line (\d+), column (\d+): (.*)$", re.DOTALL)


def _seg(value: str) -> str:
    """One URL path segment; a value that would change the path is refused."""
    if value in ("", ".", ".."):
        raise ValidationError(f"{value!r} is not a valid name", field="name")
    return quote(value, safe="")


def _body(req: BaseModel) -> Json:
    return req.model_dump(mode="json", by_alias=True, exclude_unset=True)


def _query(**params: object) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is not None:
            out[key] = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return out


class RemoteBackend:
    """``Backend`` over HTTP. ``transport`` lets tests put an in-process app behind it."""

    def __init__(
        self, url: str, token: str, *, timeout: float = 15.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError("the server URL must start with http:// or https://", field="url")
        try:
            base = httpx.URL(url.rstrip("/"))
        except (httpx.InvalidURL, ValueError) as exc:
            raise ConfigurationError(f"not a usable URL: {exc}", field="url") from exc
        self.location = str(base)
        #: a stream sends at least a comment every 15 s while idle: a minute of silence means it is gone
        self._stream_timeout = httpx.Timeout(timeout, read=60.0)
        self._client = httpx.Client(
            base_url=base,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
            verify=tls_context(),
        )

    def close(self) -> None:
        self._client.close()

    def whoami(self) -> Json:
        return self._json("GET", "/v1/whoami")

    # -- agents ---------------------------------------------------------------------------------------------

    def create_agent(self, req: AgentCreateRequest) -> Json:
        return self._json("POST", "/v1/agents", body=_body(req))

    def list_agents(self, where: AgentFilter, page: PageArgs) -> Listing:
        query = _query(
            owner=where.owner,
            status=where.status and where.status.value,
            team=where.team,
            environment=where.environment,
            risk_tier=where.risk_tier and where.risk_tier.value,
            role=where.role,
        )
        return self._list("/v1/agents", query, page)

    def get_agent(self, name: str) -> Json:
        return self._json("GET", f"/v1/agents/{_seg(name)}")

    def update_agent(self, name: str, req: AgentUpdateRequest) -> Json:
        return self._json("PATCH", f"/v1/agents/{_seg(name)}", body=_body(req))

    def change_agent_status(self, name: str, verb: AgentAction, req: StatusChangeRequest) -> Json:
        return self._json("POST", f"/v1/agents/{_seg(name)}/{verb.value}", body=_body(req))

    # -- users ----------------------------------------------------------------------------------------------

    def create_user(self, req: UserCreateRequest) -> Json:
        return self._json("POST", "/v1/users", body=_body(req))

    def list_users(self, where: UserFilter, page: PageArgs) -> Listing:
        return self._list("/v1/users", _query(status=where.status and where.status.value), page)

    def get_user(self, user_id: str) -> Json:
        return self._json("GET", f"/v1/users/{_seg(user_id)}")

    def update_user(self, user_id: str, req: UserUpdateRequest) -> Json:
        return self._json("PATCH", f"/v1/users/{_seg(user_id)}", body=_body(req))

    # -- roles ----------------------------------------------------------------------------------------------

    def create_role(self, req: RoleCreateRequest) -> Json:
        return self._json("POST", "/v1/roles", body=_body(req))

    def list_roles(self, where: RoleFilter, page: PageArgs) -> Listing:
        return self._list("/v1/roles", _query(agent=where.agent, user=where.user), page)

    def get_role(self, name: str) -> Json:
        return self._json("GET", f"/v1/roles/{_seg(name)}")

    def update_role(self, name: str, req: RoleUpdateRequest) -> Json:
        return self._json("PATCH", f"/v1/roles/{_seg(name)}", body=_body(req))

    def delete_role(self, name: str) -> None:
        self._call("DELETE", f"/v1/roles/{_seg(name)}")

    def set_role_member(self, role: str, kind: MemberKind, member_id: str, member: bool) -> Json:
        path = f"/v1/roles/{_seg(role)}/{kind}s/{_seg(member_id)}"
        return self._json("PUT" if member else "DELETE", path)

    # -- resources ------------------------------------------------------------------------------------------

    def create_resource(self, req: ResourceCreateRequest) -> Json:
        return self._json("POST", "/v1/resources", body=_body(req))

    def list_resources(self, where: ResourceFilter, page: PageArgs) -> Listing:
        query = _query(kind=where.kind and where.kind.value, parent=where.parent)
        return self._list("/v1/resources", query, page)

    def get_resource(self, resource_id: str) -> Json:
        return self._json("GET", f"/v1/resources/{_seg(resource_id)}")

    def update_resource(self, resource_id: str, req: ResourceUpdateRequest) -> Json:
        return self._json("PATCH", f"/v1/resources/{_seg(resource_id)}", body=_body(req))

    def delete_resource(self, resource_id: str) -> None:
        self._call("DELETE", f"/v1/resources/{_seg(resource_id)}")

    # -- events and admin tokens ----------------------------------------------------------------------------

    def list_events(self, where: EventFilter, page: PageArgs) -> Listing:
        query = _query(
            target_type=where.target_type,
            target_id=where.target_id,
            actor=where.actor,
            action=where.action,
            since=where.since,
            until=where.until,
        )
        return self._list("/v1/events", query, page)

    def create_admin_token(self, req: AdminTokenCreateRequest) -> Json:
        return self._json("POST", "/v1/admin-tokens", body=_body(req))

    def list_admin_tokens(self, page: PageArgs) -> Listing:
        return self._list("/v1/admin-tokens", {}, page)

    def revoke_admin_token(self, token_id: str) -> Json:
        return self._json("POST", f"/v1/admin-tokens/{_seg(token_id)}/revoke")

    # -- policies and extra entities -------------------------------------------------------------------------

    def list_policies(self, page: PageArgs) -> Listing:
        return self._list("/v1/policies", {}, page)

    def apply_policies(self, req: PolicyApplyRequest) -> Json:
        return self._json("POST", "/v1/policies", body=_body(req))

    def validate_policies(self, req: PolicyValidateRequest) -> Json:
        return self._json("POST", "/v1/policies/validate", body=_body(req))

    def get_policy(self, version: int | None) -> Json:
        return self._json("GET", "/v1/policies/active" if version is None else f"/v1/policies/{int(version)}")

    def diff_policies(self, old: int, new: int | None) -> Json:
        return self._json("GET", "/v1/policies/diff", params=_query(**{"from": old, "to": new}))

    def policy_status(self) -> Json:
        return self._json("GET", "/v1/policies/status")

    def activate_policy(self, version: int, req: ActivateRequest) -> Json:
        return self._json("POST", f"/v1/policies/{int(version)}/activate", body=_body(req))

    def rollback_policy(self, req: RollbackRequest) -> Json:
        return self._json("POST", "/v1/policies/rollback", body=_body(req))

    def set_policy_mode(self, req: ModeRequest) -> Json:
        return self._json("PUT", "/v1/policies/mode", body=_body(req))

    def policy_schema(self) -> Json:
        return self._json("GET", "/v1/policies/schema")

    def apply_entities(self, req: EntitiesApplyRequest) -> Json:
        return self._json("PUT", "/v1/entities", body=_body(req))

    def get_entities(self) -> Json:
        return self._json("GET", "/v1/entities")

    def decide(self, request: AuthzRequest) -> Outcome:
        """AuthZEN evaluation. ``context.reason`` comes with every policy deny, log-only mode's told-allow ones
        included, and names the determining policies; an allow names none."""
        from remit.policy.cases import Outcome

        body: Json = {
            "subject": _party(request.principal, request.principal_attrs),
            "action": {"name": request.action},
            "resource": _party(request.resource, request.resource_attrs),
            "context": request.context,
        }
        got = self._json("POST", "/access/v1/evaluation", body=body)
        decision, context = got.get("decision"), got.get("context")
        if not isinstance(decision, bool):
            raise RemoteError("bad_response", f"{self.location}/access/v1/evaluation answered without a decision")
        reason = context.get("reason") if isinstance(context, dict) else None
        if not isinstance(reason, dict):
            return Outcome(Effect.ALLOW, None) if decision else Outcome(Effect.DENY, None)
        ids = reason.get("policies")
        policies = tuple(str(i) for i in ids) if isinstance(ids, list) else None
        detail = str(reason.get("code") or "")
        if reason.get("enforced") is False:
            detail += " (log-only: the caller was told allow)"
        return Outcome(Effect.DENY, policies, detail)

    # -- the audit log --------------------------------------------------------------------------------------

    def audit_search(self, where: AuditFilter, page: PageArgs) -> Listing:
        return self._list("/v1/audit", _audit_query(where), page)

    def audit_stream(self, where: AuditFilter, after: int | None, *, follow: bool) -> Iterator[Json]:
        """Server-sent events from ``/v1/audit/stream``; when the server ends a stream (it does every minute), a
        follow resumes from the last event id it gave."""
        query = _audit_query(where)
        if not follow:
            query["follow"] = "false"
        last = after
        while True:
            headers = {"Accept": "text/event-stream"}
            if last is not None:
                headers["Last-Event-ID"] = str(last)
            try:
                with self._client.stream(
                    "GET", "/v1/audit/stream", params=query, headers=headers, timeout=self._stream_timeout
                ) as resp:
                    if not resp.is_success:
                        resp.read()
                        _raise_for(resp)
                    for event in _sse(resp.iter_lines()):
                        if event.id is not None and event.id.isdigit():
                            last = int(event.id)
                        if event.type == "error":
                            _raise_stream_error(event.data)
                        if event.data:
                            yield _record(event.data, self.location)
            except httpx.TimeoutException as exc:
                raise Unreachable(f"{self.location} stopped sending the audit stream ({type(exc).__name__})") from exc
            except httpx.HTTPError as exc:
                raise Unreachable(f"cannot reach {self.location}: {clean(str(exc)) or type(exc).__name__}") from exc
            if not follow:
                return

    def audit_chain(self, after: int, limit: int) -> Json:
        return self._json("GET", "/v1/audit/chain", params=_query(after=after, limit=limit))

    def audit_chain_end(self, seq: int) -> Json:
        return self._json("GET", "/v1/audit/chain/end", params=_query(seq=seq))

    def audit_count(self) -> int | None:
        return None

    def audit_public_key(self) -> Json:
        return self._json("GET", "/v1/audit/public-key")

    # -- agent keys (private_key_jwt) ----------------------------------------------------------------------

    def add_agent_key(self, name: str, jwk: Json) -> Json:
        return self._json("POST", f"/v1/agents/{_seg(name)}/keys", body={"jwk": jwk})

    def list_agent_keys(self, name: str) -> Listing:
        return self._list(f"/v1/agents/{_seg(name)}/keys", {}, PageArgs())

    def revoke_agent_key(self, name: str, kid: str) -> Json:
        return self._json("DELETE", f"/v1/agents/{_seg(name)}/keys/{_seg(kid)}")

    # -- the CA and agent certificates (mutual TLS) ----------------------------------------------------------

    def init_ca(self, req: CaInitRequest) -> Json:
        return self._json("POST", "/v1/ca", body=_body(req))

    def get_ca(self) -> Json:
        return self._json("GET", "/v1/ca")

    def issue_agent_certificate(self, name: str, req: CertificateIssueRequest) -> Json:
        return self._json("POST", f"/v1/agents/{_seg(name)}/certificates", body=_body(req))

    def list_agent_certificates(self, name: str) -> Listing:
        return self._list(f"/v1/agents/{_seg(name)}/certificates", {}, PageArgs())

    def revoke_agent_certificate(self, name: str, serial: str, reason: str) -> Json:
        params = {"reason": reason} if reason else None
        return self._json("DELETE", f"/v1/agents/{_seg(name)}/certificates/{_seg(serial)}", params=params)

    # -- legacy API keys -------------------------------------------------------------------------------------

    def create_api_key(self, name: str, req: ApiKeyCreateRequest) -> Json:
        return self._json("POST", f"/v1/agents/{_seg(name)}/api-keys", body=_body(req))

    def list_api_keys(self, name: str) -> Listing:
        return self._list(f"/v1/agents/{_seg(name)}/api-keys", {}, PageArgs())

    def revoke_api_key(self, name: str, key_id: str) -> Json:
        return self._json("DELETE", f"/v1/agents/{_seg(name)}/api-keys/{_seg(key_id)}")

    def api_key_report(self, page: PageArgs) -> Listing:
        return self._list("/v1/api-keys", {}, page)

    def get_agent_client(self, name: str) -> Json:
        return self._json("GET", f"/v1/agents/{_seg(name)}/client")

    def set_agent_client(self, name: str, *, dpop_bound_access_tokens: bool) -> Json:
        body = {"dpop_bound_access_tokens": dpop_bound_access_tokens}
        return self._json("PUT", f"/v1/agents/{_seg(name)}/client", body=body)

    # -- registration tokens (RFC 7591 initial access tokens) ----------------------------------------------

    def create_registration_token(self, req: RegistrationTokenCreateRequest) -> Json:
        return self._json("POST", "/v1/registration-tokens", body=_body(req))

    def list_registration_tokens(self, page: PageArgs) -> Listing:
        return self._list("/v1/registration-tokens", {}, page)

    def revoke_registration_token(self, token_id: str) -> Json:
        return self._json("POST", f"/v1/registration-tokens/{_seg(token_id)}/revoke")

    # -- token signing keys ----------------------------------------------------------------------------------

    def list_keys(self) -> Listing:
        return self._list("/v1/keys", {}, PageArgs())

    def rotate_keys(self, req: KeyRotateRequest) -> Json:
        return self._json("POST", "/v1/keys/rotate", body=_body(req))

    def jwks(self) -> Json:
        return self._json("GET", "/.well-known/jwks.json")

    # -- agents' access tokens -------------------------------------------------------------------------------

    def revoke_access_token(self, req: TokenRevokeRequest) -> Json:
        return self._json("POST", "/v1/tokens/revoke", body=_body(req))

    # -- HTTP -----------------------------------------------------------------------------------------------

    def _list(self, path: str, query: dict[str, str], page: PageArgs) -> Listing:
        query = {**query, **_query(limit=page.limit, cursor=page.cursor)}
        got = self._json("GET", path, params=query)
        items, cursor = got.get("items"), got.get("next_cursor")
        if not isinstance(items, list) or not (cursor is None or isinstance(cursor, str)):
            raise RemoteError("bad_response", f"{self.location}{path} did not answer with a listing")
        return Listing(items=items, next_cursor=cursor)

    def _json(self, method: str, path: str, *, body: Json | None = None, params: dict[str, str] | None = None) -> Json:
        resp = self._call(method, path, body=body, params=params)
        try:
            data = resp.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise RemoteError("bad_response", f"{self.location}{path} did not answer with a JSON object")
        return data

    def _call(
        self, method: str, path: str, *, body: Json | None = None, params: dict[str, str] | None = None
    ) -> httpx.Response:
        try:
            resp = self._client.request(method, path, json=body, params=params)
        except httpx.TimeoutException as exc:
            raise Unreachable(f"{self.location} did not answer in time ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise Unreachable(f"cannot reach {self.location}: {clean(str(exc)) or type(exc).__name__}") from exc
        if resp.is_success:
            return resp
        _raise_for(resp)


class OAuthClient:
    """A server's OAuth endpoints as an agent calls them (``/oauth/token``, ``/oauth/revoke``, the metadata and the
    JWKS: no admin token), and introspection with an admin token when one is given. An RFC 6749 §5.2 error body
    becomes the ``TokenError`` of its ``error`` code, as the token endpoint raises it in process."""

    def __init__(
        self, url: str, admin_token: str | None, *, timeout: float = 15.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError("the server URL must start with http:// or https://", field="url")
        try:
            base = httpx.URL(url.rstrip("/"))
        except (httpx.InvalidURL, ValueError) as exc:
            raise ConfigurationError(f"not a usable URL: {exc}", field="url") from exc
        self.location = str(base)
        self.has_admin_token = admin_token is not None
        self._admin = {"Authorization": f"Bearer {admin_token}"} if admin_token else {}
        self._client = httpx.Client(
            base_url=base,
            headers={"Accept": "application/json"},
            timeout=timeout,
            transport=transport,
            verify=tls_context(),
        )

    def close(self) -> None:
        self._client.close()

    def metadata(self) -> Json:
        """RFC 8414 authorization server metadata."""
        return self._get("/.well-known/oauth-authorization-server")

    def jwks(self) -> Json:
        return self._get("/.well-known/jwks.json")

    def token(self, form: dict[str, str]) -> Json:
        return self._post("/oauth/token", form, {})

    def revoke(self, form: dict[str, str]) -> None:
        self._post("/oauth/revoke", form, {})

    def introspect(self, token: str) -> Json:
        """RFC 7662 introspection with the admin token (role pep, auditor or admin)."""
        return self._post("/oauth/introspect", {"token": token}, self._admin)

    def _get(self, path: str) -> Json:
        resp = self._send("GET", path)
        if not resp.is_success:
            _raise_for(resp)
        return _object(resp, f"{self.location}{path}")

    def _post(self, path: str, form: dict[str, str], headers: dict[str, str]) -> Json:
        resp = self._send("POST", path, data=form, headers=headers)
        if resp.is_success:
            return _object(resp, f"{self.location}{path}")
        _raise_oauth(resp)

    def _send(self, method: str, path: str, **options: Any) -> httpx.Response:
        try:
            return self._client.request(method, path, **options)
        except httpx.TimeoutException as exc:
            raise Unreachable(f"{self.location} did not answer in time ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise Unreachable(f"cannot reach {self.location}: {clean(str(exc)) or type(exc).__name__}") from exc


def _object(resp: httpx.Response, where: str) -> Json:
    try:
        data = resp.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise RemoteError("bad_response", f"{where} did not answer with a JSON object")
    return data


def _raise_oauth(resp: httpx.Response) -> NoReturn:
    """Raise the ``TokenError`` an RFC 6749 §5.2 body names; any other error body as ``_raise_for`` does."""
    from remit.tokens import errors as oauth

    try:
        data: Any = resp.json()
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("error"), str):
        _raise_for(resp)
    code, description = data["error"], clean(str(data.get("error_description") or ""))
    known = {cls.code: cls for cls in oauth.TokenError.__subclasses__()}
    cls = known.get(code)
    if cls is None:
        raise RemoteError(code, description or f"the server answered {resp.status_code} {code}")
    raise cls(description or None, status=resp.status_code)


def _audit_query(where: AuditFilter) -> dict[str, str]:
    decision = None if where.allowed is None else ("allow" if where.allowed else "deny")
    return _query(
        agent=where.agent,
        owner=where.owner,
        resource=where.resource,
        action=where.action,
        kind=where.kind,
        decision=decision,
        since=where.since,
        until=where.until,
    )


@dataclass(slots=True)
class _Event:
    """One server-sent event (https://html.spec.whatwg.org/multipage/server-sent-events.html)."""

    type: str = "message"
    id: str | None = None
    data_lines: list[str] = field(default_factory=list)

    @property
    def data(self) -> str:
        return "\n".join(self.data_lines)


def _sse(lines: Iterable[str]) -> Iterator[_Event]:
    """Events from an ``text/event-stream`` body: a blank line ends one; ``:`` starts a comment. An event with an id
    and no data is yielded too (its id is the stream's position)."""
    event = _Event()
    for line in lines:
        if not line:
            if event.data_lines or event.id is not None or event.type != "message":
                yield event
            event = _Event()
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            event.data_lines.append(value)
        elif name == "id" and "\x00" not in value:
            event.id = value
        elif name == "event":
            event.type = value


def _record(data: str, location: str) -> Json:
    try:
        record = json.loads(data)
    except ValueError as exc:
        raise RemoteError("bad_response", f"{location}/v1/audit/stream sent an event that is not JSON") from exc
    if not isinstance(record, dict):
        raise RemoteError("bad_response", f"{location}/v1/audit/stream sent an event that is not a record")
    return record


def _raise_stream_error(data: str) -> NoReturn:
    try:
        body: Any = json.loads(data)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise RemoteError("stream_error", "the server ended the audit stream with an error")
    code, message = str(body.get("code") or "stream_error"), str(body.get("message") or "the audit stream failed")
    cls = ERRORS.get(code)
    if cls is not None:
        raise cls(message)
    raise RemoteError(code, message)


def _party(ref: EntityRef, properties: dict[str, Any] | None) -> Json:
    out: Json = {"type": ref.type, "id": ref.id}
    if properties is not None:
        out["properties"] = properties
    return out


def _raise_for(resp: httpx.Response) -> NoReturn:
    """Raise the error an error response stands for."""
    try:
        data: Any = resp.json()
    except ValueError:
        data = None
    code, message, field = "", "", None
    if isinstance(data, dict):
        code = str(data.get("code") or "")
        message = str(data.get("message") or "")
        field = data.get("field") if isinstance(data.get("field"), str) else None
        detail = data.get("detail")
        if not message and isinstance(detail, list) and detail and isinstance(detail[0], dict):
            message = str(detail[0].get("msg", ""))  # FastAPI's default validation body
            field = ".".join(str(p) for p in detail[0].get("loc", ())[1:]) or None
        elif not message and isinstance(detail, str):
            message = detail
    message = message or f"the server answered {resp.status_code} {resp.reason_phrase}"
    if code == PolicySyntaxError.code:
        at = _POSITION.match(message)
        if at is None:
            raise PolicySyntaxError(message)
        raise PolicySyntaxError(at.group(3), line=int(at.group(1)), column=int(at.group(2)))
    if code == PolicyValidationError.code:
        problems = data.get("problems") if isinstance(data, dict) else None
        listed = [str(p) for p in problems] if isinstance(problems, list) and problems else None
        raise PolicyValidationError(message, listed)
    if resp.status_code == 401:
        raise AuthenticationError(message + " (check REMIT_TOKEN)", field=field)
    cls = ERRORS.get(code)
    if cls is not None:
        raise cls(message, field=field)
    if resp.status_code == 404:
        raise NotFound(message, field=field)
    raise RemoteError(code or f"http_{resp.status_code}", message, field=field)
