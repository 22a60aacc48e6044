"""The access log's filter: credential parameters keep their names and lose their values; credentials shaped like
one are masked wherever they are in the target. (``remit serve`` end to end: ``tests/cli/test_server.py``.)"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from remit.api.accesslog import ACCESS_LOGGER, RedactCredentials, install, redact_target

TOKEN = "remit_adm_" + "k" * 20 + "Z" * 23


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        ("/v1/agents?access_token=abc&limit=5", "/v1/agents?access_token=[masked:secret]&limit=5"),
        (
            "/x?client_secret=s&client_assertion=a.b.c",
            "/x?client_secret=[masked:secret]&client_assertion=[masked:secret]",
        ),
        ("/cb?code=Splx&state=af0i", "/cb?code=[masked:secret]&state=af0i"),
        ("/t?subject_token=x&actor_token=y", "/t?subject_token=[masked:secret]&actor_token=[masked:secret]"),
        ("/k?key=AIzaSy&api_key=1&apikey=2", "/k?key=[masked:secret]&api_key=[masked:secret]&apikey=[masked:secret]"),
        ("/p?password=a%26b&PASSWORD=c", "/p?password=[masked:secret]&PASSWORD=[masked:secret]"),
        (
            "/s?X-Amz-Signature=ab12&X-Amz-Credential=AK",
            "/s?X-Amz-Signature=[masked:secret]&X-Amz-Credential=[masked:secret]",
        ),
        ("/e?access%5Ftoken=abc", "/e?access%5Ftoken=[masked:secret]"),
        ("/e?access_token+=abc", "/e?access_token+=[masked:secret]"),  # '+' decodes to a space: still the name
        (f"/v1/agents/{TOKEN}", "/v1/agents/[masked:remit_adm]"),
        (f"/v1/audit?note={TOKEN}", "/v1/audit?note=[masked:remit_adm]"),
        ("/v1/agents?limit=5&after=bot", "/v1/agents?limit=5&after=bot"),
        ("/v1/agents?token=", "/v1/agents?token="),  # nothing to hide
        ("/v1/agents?flag&x=1", "/v1/agents?flag&x=1"),
        ("/healthz", "/healthz"),
    ],
)
def test_request_targets(target: str, logged: str) -> None:
    assert redact_target(target) == logged


@pytest.fixture
def access_log() -> Iterator[io.StringIO]:
    """The access logger writing to a buffer (and not to the root logger); as it was afterwards."""
    logger = logging.getLogger(ACCESS_LOGGER)
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(message)s"))
    saved = (logger.level, logger.propagate, list(logger.filters))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield buffer
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        logger.filters[:] = saved[2]


def test_the_filter_rewrites_uvicorns_access_line(access_log: io.StringIO) -> None:
    install()
    install()  # once only
    logger = logging.getLogger(ACCESS_LOGGER)
    assert sum(isinstance(f, RedactCredentials) for f in logger.filters) == 1
    # as uvicorn's HTTP protocols log a request
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/v1/agents?access_token={TOKEN}", "1.1", 200)
    logger.info(f"a line without arguments: GET /x?token={TOKEN}")
    lines = access_log.getvalue().splitlines()
    assert lines[0] == '127.0.0.1:5000 - "GET /v1/agents?access_token=[masked:secret] HTTP/1.1" 200'
    assert lines[1].endswith("GET /x?token=[masked:secret]")
    assert TOKEN[10:] not in access_log.getvalue()
