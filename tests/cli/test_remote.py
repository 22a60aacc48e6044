"""The remote backend against a scripted server: requests it makes, and how error answers become CLI errors."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator

import httpx
import pytest

from remit.api.schemas.agents import AgentCreateRequest
from remit.cli.backend import PageArgs
from remit.cli.errors import RemoteError, Unreachable, describe
from remit.cli.remote import RemoteBackend
from remit.errors import AuthenticationError, ConfigurationError, Conflict, NotFound, ValidationError
from remit.registry.models import AgentStatus
from remit.registry.ports import AgentFilter
from tests.cli.conftest import Run

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def seen() -> list[httpx.Request]:
    return []


def backend(handler: Handler, seen: list[httpx.Request]) -> RemoteBackend:
    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return RemoteBackend("http://remit.test/", "remit_adm_secret", transport=httpx.MockTransport(record))


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    yield port


def test_requests_carry_the_token_body_and_query(seen: list[httpx.Request]) -> None:
    b = backend(lambda r: httpx.Response(200, json={"items": [{"name": "a"}], "next_cursor": "c2"}), seen)
    listing = b.list_agents(AgentFilter(owner="alice", status=AgentStatus.ACTIVE), PageArgs(limit=5, cursor="c1"))
    assert listing == {"items": [{"name": "a"}], "next_cursor": "c2"}
    request = seen[0]
    assert request.headers["Authorization"] == "Bearer remit_adm_secret"
    assert request.url.path == "/v1/agents"
    assert dict(request.url.params) == {"owner": "alice", "status": "active", "limit": "5", "cursor": "c1"}

    b = backend(lambda r: httpx.Response(201, json={"name": "bot"}), seen)
    assert b.create_agent(AgentCreateRequest(name="bot", owner="alice")) == {"name": "bot"}
    assert json.loads(seen[-1].content) == {"name": "bot", "owner": "alice"}


def test_delete_answers_204(seen: list[httpx.Request]) -> None:
    b = backend(lambda r: httpx.Response(204), seen)
    b.delete_role("r")
    assert (seen[0].method, seen[0].url.path) == ("DELETE", "/v1/roles/r")


def test_membership_paths(seen: list[httpx.Request]) -> None:
    b = backend(lambda r: httpx.Response(200, json={"name": "r"}), seen)
    b.set_role_member("r", "agent", "bot", True)
    b.set_role_member("r", "user", "alice", False)
    assert [(r.method, r.url.path) for r in seen] == [
        ("PUT", "/v1/roles/r/agents/bot"),
        ("DELETE", "/v1/roles/r/users/alice"),
    ]


@pytest.mark.parametrize(
    ("status", "body", "error", "shown"),
    [
        (404, {"code": "not_found", "message": "no such agent", "field": None}, NotFound, "no such agent"),
        (409, {"code": "conflict", "message": "exists", "field": "name"}, Conflict, "name: exists"),
        (422, {"code": "invalid_request", "message": "owner: bad", "field": "owner"}, ValidationError, "owner: bad"),
        (401, {"code": "unauthenticated", "message": "token?", "field": None}, AuthenticationError, "REMIT_TOKEN"),
        (413, {"code": "body_too_large", "message": "too big", "field": None}, RemoteError, "too big"),
        (502, None, RemoteError, "502"),
    ],
)
def test_error_bodies_become_the_same_errors(
    seen: list[httpx.Request], status: int, body: object, error: type[Exception], shown: str
) -> None:
    def answer(_r: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body) if body is not None else httpx.Response(status, text="<html>")

    with pytest.raises(error) as caught:
        backend(answer, seen).get_agent("bot")
    assert shown in describe(caught.value)


def test_transport_failures_are_unreachable(seen: list[httpx.Request]) -> None:
    def refuse(r: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=r)

    with pytest.raises(Unreachable, match="cannot reach"):
        backend(refuse, seen).whoami()


def test_a_non_json_success_is_an_error(seen: list[httpx.Request]) -> None:
    with pytest.raises(RemoteError, match="JSON"):
        backend(lambda r: httpx.Response(200, text="hello"), seen).get_user("alice")


def test_path_segments_cannot_escape(seen: list[httpx.Request]) -> None:
    b = backend(lambda r: httpx.Response(200, json={}), seen)
    with pytest.raises(ValidationError):
        b.get_agent("..")
    b.get_agent("a/b")
    assert seen[0].url.raw_path == b"/v1/agents/a%2Fb"


def test_a_url_must_be_http() -> None:
    with pytest.raises(ConfigurationError):
        RemoteBackend("ftp://remit.test", "t")


def test_cli_against_a_closed_port_exits_1(run: Run, closed_port: int) -> None:
    result = run("agent", "list", env={"REMIT_URL": f"http://127.0.0.1:{closed_port}", "REMIT_TOKEN": "remit_adm_x"})
    assert result.exit_code == 1
    assert "cannot reach" in result.stderr


def test_cli_remote_needs_a_token(run: Run) -> None:
    result = run("--url", "http://127.0.0.1:9", "agent", "list")
    assert result.exit_code == 1
    assert "REMIT_TOKEN" in result.stderr
