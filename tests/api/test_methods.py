"""A method a path does not answer is a 405 naming every method the path does answer, in the API's error body."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.routing import Route

from remit.api.methods import RouteTable
from tests.api.conftest import LiveServer

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


async def _endpoint() -> None:  # pragma: no cover - never called: only the route table is looked at
    return None


def test_allowed_names_the_most_specific_routes_methods() -> None:
    table = RouteTable(
        [
            Route("/a/{x}", _endpoint, methods=["GET"]),
            Route("/a/b", _endpoint, methods=["PUT"]),
            Route("/a/b", _endpoint, methods=["DELETE"]),
            Route("/a/{x}/c", _endpoint, methods=["POST"]),
        ]
    )
    assert table.allowed("/a/b") == ("DELETE", "PUT")  # every route of the path, not the first one alone
    assert table.allowed("/a/z") == ("GET", "HEAD")
    assert table.allowed("/a/z/c") == ("POST",)
    assert table.allowed("/nowhere") == ()
    guards = table.guards()
    # /a/b takes GET away from /a/{x}, to answer it 405
    assert [(g.path, sorted(g.methods or ())) for g in guards] == [("/a/b", ["GET", "HEAD"])]


def _assert_405(r: httpx.Response, allow: str) -> None:
    assert r.status_code == 405, (r.request.method, r.request.url, r.status_code, r.text)
    assert r.headers["allow"] == allow, (r.request.method, r.request.url)
    if r.request.method == "HEAD":
        return  # no body, by definition
    body = r.json()
    assert body["code"] == "method_not_allowed"
    assert body["field"] is None
    assert r.request.method in body["message"]


def test_options_names_every_method_of_the_path(admin_client: httpx.Client) -> None:
    # the router named only the first matching route's method: Allow: POST
    _assert_405(admin_client.options("/v1/admin-tokens"), "GET, POST")
    _assert_405(admin_client.delete("/v1/admin-tokens"), "GET, POST")
    _assert_405(admin_client.options("/v1/roles/reader"), "DELETE, GET, PATCH")
    _assert_405(admin_client.request("HEAD", "/v1/agents"), "GET, POST")


@pytest.mark.parametrize("path", ["/v1/policies/mode", "/v1/policies/rollback", "/v1/policies/validate"])
def test_a_literal_path_is_not_taken_by_a_route_with_a_parameter(admin_client: httpx.Client, path: str) -> None:
    # GET /v1/policies/mode reached GET /v1/policies/{version}: 422 "version: Input should be a valid integer"
    r = admin_client.get(path)
    _assert_405(r, "PUT" if path.endswith("mode") else "POST")
    # the route with the parameter still answers its own paths
    assert admin_client.get("/v1/policies/7").json()["code"] == "not_found"
    assert admin_client.get("/v1/policies/not-a-number").status_code == 422


def test_every_path_refuses_every_other_method_with_a_complete_allow(live: LiveServer) -> None:
    """Over the whole OpenAPI document: each path, each method it does not document."""
    with live.client(live.admin_token) as client:
        paths = client.get("/openapi.json").json()["paths"]
        checked = 0
        for template, operations in paths.items():
            path = re.sub(r"{[^}]+}", "1", template)
            documented = {m.upper() for m in operations}
            allow = ", ".join(sorted(documented))
            for method in METHODS:
                if method in documented:
                    continue
                _assert_405(client.request(method, path), allow)
                checked += 1
        assert checked > 200
