"""The body size limit over real HTTP: a refusal in the shape of the endpoint's other errors."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.api.conftest import LiveServer


def _over(live: LiveServer) -> int:
    return live.remit.settings.api.max_body_bytes + 1


def _message(live: LiveServer) -> str:
    limit = live.remit.settings.api.max_body_bytes
    return f"the request body is over the limit of {limit} bytes (api.max_body_bytes); send a smaller one"


def _chunks(total: int) -> Iterator[bytes]:
    """A body without Content-Length (chunked): refused while it is read."""
    sent = 0
    while sent < total:
        yield b"x" * 65536
        sent += 65536


@pytest.mark.parametrize("chunked", [False, True])
def test_the_admin_api_answers_413_in_its_error_shape(
    admin_client: httpx.Client, live: LiveServer, chunked: bool
) -> None:
    body = _chunks(_over(live)) if chunked else b"x" * _over(live)
    r = admin_client.post("/v1/agents", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"code": "body_too_large", "message": _message(live), "field": "body"}


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/oauth/token", "invalid_request"),
        ("/oauth/revoke", "invalid_request"),
        ("/oauth/register", "invalid_client_metadata"),
    ],
)
def test_the_oauth_endpoints_answer_with_an_oauth_error(live: LiveServer, path: str, error: str, chunked: bool) -> None:
    body = _chunks(_over(live)) if chunked else b"x" * _over(live)
    with live.client() as client:
        r = client.post(path, content=body, headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    assert r.json() == {"error": error, "error_description": _message(live)}  # RFC 6749 §5.2
    assert (r.headers["cache-control"], r.headers["pragma"]) == ("no-store", "no-cache")


def test_an_oversized_token_form_says_its_own_limit(live: LiveServer) -> None:
    with live.client() as client:
        r = client.post(
            "/oauth/token", content=b"a=" + b"x" * 20_000, headers={"content-type": "application/x-www-form-urlencoded"}
        )
    assert r.status_code == 400
    assert r.json() == {
        "error": "invalid_request",
        "error_description": "the request body is over 16384 bytes; a token request is a few short parameters",
    }


@pytest.mark.parametrize("chunked", [False, True])
def test_authzen_answers_400_invalid_authzen_request(
    admin_client: httpx.Client, live: LiveServer, chunked: bool
) -> None:
    body = _chunks(_over(live)) if chunked else b"x" * _over(live)
    r = admin_client.post("/access/v1/evaluation", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {"code": "invalid_authzen_request", "message": _message(live), "field": "body"}
