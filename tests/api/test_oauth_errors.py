"""OAuth errors leave as their RFCs say (RFC 6749 §5.2, RFC 6750 §3), through the app's one error handler."""

from __future__ import annotations

import asyncio
import json

from starlette.requests import Request

from remit.api import problems
from remit.tokens.errors import InvalidClient, InvalidScope


def _render(exc: Exception) -> tuple[int, dict[str, str], dict[str, str]]:
    request = Request({"type": "http", "method": "POST", "path": "/oauth/token", "headers": []})
    response = asyncio.run(problems._remit_error(request, exc))
    return response.status_code, dict(response.headers), json.loads(bytes(response.body))


def test_a_401_carries_the_rfc_body_and_a_bearer_challenge() -> None:
    status, headers, body = _render(InvalidClient('the client assertion was already used "once"'))
    assert status == 401
    assert body == {"error": "invalid_client", "error_description": 'the client assertion was already used "once"'}
    assert headers["www-authenticate"] == (
        'Bearer realm="remit", error="invalid_client", '
        'error_description="the client assertion was already used \\"once\\""'
    )
    assert headers["cache-control"] == "no-store"


def test_a_400_has_no_challenge_and_a_description_is_kept_ascii_in_the_header() -> None:
    status, headers, body = _render(InvalidScope("the scope names a tool this agent may not call"))
    assert (status, body["error"]) == (400, "invalid_scope")
    assert "www-authenticate" not in headers
    status, headers, _ = _render(InvalidClient("clé inconnue"))
    assert status == 401 and 'error_description="cl? inconnue"' in headers["www-authenticate"]


def test_a_configuration_error_does_not_tell_the_caller_its_details() -> None:
    from remit.errors import ConfigurationError

    status, _, body = _render(ConfigurationError("the KEK file /srv/remit/keys/kek is readable by others"))
    assert status == 500
    assert body["code"] == "internal_error" and "/srv" not in body["message"]
