"""The AuthZEN route's answer is the response Starlette would make of the same JSON body."""

from __future__ import annotations

import pytest
from starlette.responses import Response

from remit.api.routes.authzen import JSONAnswer


@pytest.mark.parametrize("body", [b"{}", b'{"decision":true,"context":{"decision_id":"dec_x"}}', "é".encode()])
def test_the_answer_is_what_a_response_with_the_json_media_type_is(body: bytes) -> None:
    lean, plain = JSONAnswer(body), Response(body, media_type="application/json")
    assert (lean.status_code, lean.body, lean.raw_headers, lean.media_type, lean.background) == (
        plain.status_code,
        plain.body,
        plain.raw_headers,
        plain.media_type,
        plain.background,
    )
    assert lean.headers == plain.headers
