"""DPoP at ``POST /oauth/token`` over real HTTP (RFC 9449 §5): a valid proof binds the token to its key
(``cnf.jkt``, ``token_type`` DPoP), an invalid one is ``invalid_dpop_proof`` (400); introspection reports the
binding (§6.2)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from remit.admin.access import AdminRole
from remit.clock import FrozenClock
from remit.container import Remit
from remit.paging import PageRequest
from remit.settings import Settings
from remit.store.audit import AuditFilter
from remit.tokens import jose
from remit.tokens.dpop import DPOP_ALGORITHMS, access_token_hash, dpop_challenge, sign_proof, verify_presented
from remit.tokens.errors import InvalidDpopProof, InvalidToken, TokenError
from remit.tokens.verify import KeySet, VerifyPolicy, verify_jwt
from tests.api.conftest import LiveServer, TokenFactory, serve
from tests.api.test_oauth_legacy_keys import api_key, grant
from tests.api.test_oauth_token import ADMIN, RESOURCE, agent_key, client, form, refused
from tests.servers import uvicorn_serving

__all__ = ["agent_key", "api_key", "client"]  # fixtures re-used from the token endpoint's tests


@pytest.fixture(scope="module")
def dpop_key() -> jose.SigningKey:
    return jose.SigningKey.generate("ES256")


def token_url(live: LiveServer) -> str:
    """The token endpoint as the issuer's public URL: what ``htu`` names, whatever address the client dialled."""
    return f"{live.remit.settings.tokens.issuer}/oauth/token"


def proof(live: LiveServer, key: jose.SigningKey, **changes: str) -> str:
    now = live.remit.clock.now().timestamp()
    return sign_proof(key, method=changes.get("method", "POST"), url=changes.get("url", token_url(live)), iat=now)


@pytest.fixture
def pep(live: LiveServer, mint: TokenFactory) -> Iterator[httpx.Client]:
    with live.client(mint(AdminRole.PEP)) as c:
        yield c


def test_a_token_asked_for_with_a_proof_is_bound_to_its_key(
    live: LiveServer,
    client: httpx.Client,
    agent_key: jose.SigningKey,
    dpop_key: jose.SigningKey,
    clock: FrozenClock,
    pep: httpx.Client,
) -> None:
    r = client.post("/oauth/token", data=form(live, agent_key), headers={"DPoP": proof(live, dpop_key)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "DPoP"
    keys = KeySet.from_jwks(client.get("/.well-known/jwks.json").json())
    policy = VerifyPolicy.access_token(live.remit.settings.tokens.issuer, RESOURCE)
    token = verify_jwt(body["access_token"], keys, policy, clock.now(), binding=None)
    jkt = dpop_key.public_key.thumbprint
    assert token.claims["cnf"] == {"jkt": jkt}
    [record] = live.remit.audit.query(ADMIN, AuditFilter(kind="token"), PageRequest(limit=10)).items
    assert record["context"]["dpop_jkt"] == jkt
    answer = pep.post("/oauth/introspect", data={"token": body["access_token"]}).json()
    assert answer["active"] is True
    assert (answer["token_type"], answer["cnf"]) == ("DPoP", {"jkt": jkt})


def test_without_a_proof_the_token_is_a_bearer_token(
    live: LiveServer, client: httpx.Client, agent_key: jose.SigningKey, pep: httpx.Client
) -> None:
    r = client.post("/oauth/token", data=form(live, agent_key))
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "Bearer"
    answer = pep.post("/oauth/introspect", data={"token": r.json()["access_token"]}).json()
    assert answer["token_type"] == "Bearer" and "cnf" not in answer


@pytest.mark.parametrize(
    ("changes", "description"),
    [
        ({"method": "GET"}, "htm is not this request's method"),
        ({"url": "http://127.0.0.1:1/oauth/token"}, "htu is not this request's URI"),
        ({"url": "https://remit.example/oauth/revoke"}, "htu is not this request's URI"),
    ],
)
def test_an_invalid_proof_is_refused(
    live: LiveServer,
    client: httpx.Client,
    agent_key: jose.SigningKey,
    dpop_key: jose.SigningKey,
    changes: dict[str, str],
    description: str,
) -> None:
    r = client.post("/oauth/token", data=form(live, agent_key), headers={"DPoP": proof(live, dpop_key, **changes)})
    assert description in refused(r, 400, "invalid_dpop_proof")
    assert "www-authenticate" not in r.headers
    assert live.remit.audit.query(ADMIN, AuditFilter(kind="token"), PageRequest(limit=10)).items == ()


def test_the_htu_is_the_issuers_url_not_the_address_dialled(
    live: LiveServer, client: httpx.Client, agent_key: jose.SigningKey, dpop_key: jose.SigningKey
) -> None:
    assert not token_url(live).startswith(live.url)  # the test server listens on another port than the issuer's
    dialled = proof(live, dpop_key, url=f"{live.url}/oauth/token")
    r = client.post("/oauth/token", data=form(live, agent_key), headers={"DPoP": dialled})
    refused(r, 400, "invalid_dpop_proof")


@pytest.mark.parametrize("values", [["x.y.z"], ["garbage"]])
def test_a_malformed_proof_is_refused(
    live: LiveServer, client: httpx.Client, agent_key: jose.SigningKey, values: list[str]
) -> None:
    headers = [("DPoP", value) for value in values]
    r = client.post("/oauth/token", data=form(live, agent_key), headers=headers)
    assert "malformed" in refused(r, 400, "invalid_dpop_proof")


def hostile_proof(live: LiveServer, key: jose.SigningKey, claims: dict[str, Any], **header: Any) -> str:
    """A proof signed with ``key`` (its public key in ``jwk``) of these claims over the defaults, these header members
    beside ``jwk``."""
    now = int(live.remit.clock.now().timestamp())
    body = {"jti": f"p-{time.monotonic_ns()}", "htm": "POST", "htu": token_url(live), "iat": now, **claims}
    jwk = {k: v for k, v in key.public_key.to_jwk().items() if k not in ("kid", "alg", "use")}
    extra = {"jwk": jwk, **header}
    return jose.sign_compact(json.dumps(body).encode(), key, typ="dpop+jwt", include_kid=False, extra_header=extra)


@pytest.mark.parametrize("iat", [10**400, -(10**400), 253402300800, -1, True, "now", [1]])
def test_a_hostile_iat_is_invalid_dpop_proof(
    live: LiveServer, client: httpx.Client, agent_key: jose.SigningKey, dpop_key: jose.SigningKey, iat: object
) -> None:
    headers = {"DPoP": hostile_proof(live, dpop_key, {"iat": iat})}
    r = client.post("/oauth/token", data=form(live, agent_key), headers=headers)
    assert "iat is not a number of seconds" in refused(r, 400, "invalid_dpop_proof")
    assert live.remit.audit.query(ADMIN, AuditFilter(kind="token"), PageRequest(limit=10)).items == ()


@pytest.mark.parametrize(
    ("header", "named"),
    [
        ({"jku": "https://attacker.example/jwks.json"}, "jku"),
        ({"x5u": "https://attacker.example/cert.pem"}, "x5u"),
        ({"x5c": ["MIIBszCCAVmgAwIBAgIU"]}, "x5c"),
        ({"jku": "https://a.example/", "x5c": []}, "jku, x5c"),
    ],
)
def test_a_proof_naming_a_key_elsewhere_is_refused(
    live: LiveServer,
    client: httpx.Client,
    agent_key: jose.SigningKey,
    dpop_key: jose.SigningKey,
    header: dict[str, Any],
    named: str,
) -> None:
    r = client.post(
        "/oauth/token", data=form(live, agent_key), headers={"DPoP": hostile_proof(live, dpop_key, {}, **header)}
    )
    description = refused(r, 400, "invalid_dpop_proof")
    assert (
        description == f"the DPoP proof names a key elsewhere ({named}): its public key travels in the jwk header only"
    )


@pytest.mark.parametrize("kty", [[], {}, 7, None])
def test_a_jwk_whose_kty_is_not_a_string_is_refused(
    live: LiveServer, client: httpx.Client, agent_key: jose.SigningKey, dpop_key: jose.SigningKey, kty: object
) -> None:
    jwk = {**dpop_key.public_key.to_jwk(), "kty": kty}
    proof = hostile_proof(live, dpop_key, {}, jwk=jwk)
    r = client.post("/oauth/token", data=form(live, agent_key), headers={"DPoP": proof})
    assert "jwk is not usable" in refused(r, 400, "invalid_dpop_proof")


def test_two_proofs_are_refused(
    live: LiveServer, client: httpx.Client, agent_key: jose.SigningKey, dpop_key: jose.SigningKey
) -> None:
    headers = [("DPoP", proof(live, dpop_key)), ("DPoP", proof(live, dpop_key))]
    r = client.post("/oauth/token", data=form(live, agent_key), headers=headers)
    assert "exactly one DPoP header" in refused(r, 400, "invalid_dpop_proof")


def test_a_replayed_proof_is_refused(
    live: LiveServer, client: httpx.Client, agent_key: jose.SigningKey, dpop_key: jose.SigningKey
) -> None:
    once = proof(live, dpop_key)
    assert client.post("/oauth/token", data=form(live, agent_key), headers={"DPoP": once}).status_code == 200
    r = client.post("/oauth/token", data=form(live, agent_key), headers={"DPoP": once})
    assert "used before" in refused(r, 400, "invalid_dpop_proof")


def test_the_client_is_authenticated_before_its_proof_is_read(
    live: LiveServer, client: httpx.Client, agent_key: jose.SigningKey, dpop_key: jose.SigningKey
) -> None:
    r = client.post("/oauth/token", data=form(live, agent_key, client_assertion="x.y.z"), headers={"DPoP": "bad"})
    refused(r, 401, "invalid_client")


def test_the_metadata_names_the_proof_algorithms(client: httpx.Client) -> None:
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    assert metadata["dpop_signing_alg_values_supported"] == sorted(DPOP_ALGORITHMS)
    assert "none" not in metadata["dpop_signing_alg_values_supported"]


def test_a_gateway_in_the_process_accepts_the_bound_token_only_with_its_proof(
    live: LiveServer, client: httpx.Client, agent_key: jose.SigningKey, dpop_key: jose.SigningKey
) -> None:
    r = client.post("/oauth/token", data=form(live, agent_key), headers={"DPoP": proof(live, dpop_key)})
    token = r.json()["access_token"]
    remit = live.remit
    tokens, proofs = remit.token_verifier(RESOURCE), remit.token_endpoint.dpop
    url = f"{RESOURCE}/tools/call"
    made = sign_proof(dpop_key, method="POST", url=url, iat=remit.clock.now().timestamp(), access_token=token)
    verified = verify_presented(f"DPoP {token}", [made], method="POST", url=url, proofs=proofs, tokens=tokens)
    assert verified.cnf_jkt == dpop_key.public_key.thumbprint
    with pytest.raises(InvalidDpopProof, match="used before"):  # the store remembers the proof's jti
        verify_presented(f"DPoP {token}", [made], method="POST", url=url, proofs=proofs, tokens=tokens)
    with pytest.raises(InvalidToken, match="bound to a DPoP key"):
        verify_presented(f"Bearer {token}", [], method="POST", url=url, proofs=proofs, tokens=tokens)


# -- agents that must use DPoP (RFC 9449 §5.2) ---------------------------------------------------------------


def test_an_agent_that_must_use_dpop_is_refused_without_a_proof(
    live: LiveServer, client: httpx.Client, agent_key: jose.SigningKey, dpop_key: jose.SigningKey
) -> None:
    live.remit.agent_clients.set_dpop_bound_access_tokens(ADMIN, "helpdesk", True)
    r = client.post("/oauth/token", data=form(live, agent_key))
    assert "this client must use DPoP" in refused(r, 400, "invalid_dpop_proof")
    assert live.remit.audit.query(ADMIN, AuditFilter(kind="token"), PageRequest(limit=10)).items == ()
    bad = client.post("/oauth/token", data=form(live, agent_key), headers={"DPoP": proof(live, dpop_key, method="GET")})
    assert "htm" in refused(bad, 400, "invalid_dpop_proof")
    good = client.post("/oauth/token", data=form(live, agent_key), headers={"DPoP": proof(live, dpop_key)})
    assert good.status_code == 200, good.text
    assert good.json()["token_type"] == "DPoP"

    live.remit.agent_clients.set_dpop_bound_access_tokens(ADMIN, "helpdesk", False)  # the next request sees it
    assert client.post("/oauth/token", data=form(live, agent_key)).json()["token_type"] == "Bearer"


def test_the_requirement_holds_for_a_legacy_api_key_too(
    live: LiveServer,
    client: httpx.Client,
    agent_key: jose.SigningKey,
    api_key: tuple[str, str],
    dpop_key: jose.SigningKey,
) -> None:
    live.remit.agent_clients.set_dpop_bound_access_tokens(ADMIN, "helpdesk", True)
    params = grant(client_id="helpdesk", client_secret=api_key[1])
    assert "this client must use DPoP" in refused(client.post("/oauth/token", data=params), 400, "invalid_dpop_proof")
    bound = client.post("/oauth/token", data=params, headers={"DPoP": proof(live, dpop_key)})
    assert bound.status_code == 200, bound.text
    assert bound.json()["token_type"] == "DPoP"


# -- server nonces (RFC 9449 §8) ------------------------------------------------------------------------------


@pytest.fixture
def strict_servers(live: LiveServer, settings: Settings, clock: FrozenClock) -> Iterator[tuple[LiveServer, ...]]:
    """Two more servers on the same store and home (so the same key-encryption key), requiring DPoP nonces."""
    tokens = settings.tokens.model_copy(update={"dpop_nonce": True, "dpop_nonce_seconds": 60})
    strict = settings.model_copy(update={"tokens": tokens})
    apps = [Remit.from_settings(strict, clock=clock, migrate_schema=False) for _ in range(2)]
    try:
        with serve(apps[0]) as one, serve(apps[1]) as two:
            yield one, two
    finally:
        for app in apps:
            app.close()


def test_a_server_that_requires_nonces_hands_one_out_and_every_server_accepts_it(
    live: LiveServer,
    agent_key: jose.SigningKey,
    dpop_key: jose.SigningKey,
    clock: FrozenClock,
    strict_servers: tuple[LiveServer, ...],
) -> None:
    one, two = strict_servers
    with one.client() as first, two.client() as second:
        asked = first.post("/oauth/token", data=form(live, agent_key), headers={"DPoP": proof(live, dpop_key)})
        assert "lacks the server's nonce" in refused(asked, 400, "use_dpop_nonce")
        nonce = asked.headers["dpop-nonce"]
        now = clock.now().timestamp()
        retry = sign_proof(dpop_key, method="POST", url=token_url(live), iat=now, nonce=nonce)
        r = second.post("/oauth/token", data=form(live, agent_key), headers={"DPoP": retry})  # another server
        assert r.status_code == 200, r.text
        assert r.json()["token_type"] == "DPoP"
        assert r.headers["dpop-nonce"]  # the nonce for the next request
        assert first.post("/oauth/token", data=form(live, agent_key)).status_code == 200  # no proof: no nonce

        clock.advance(timedelta(seconds=61))
        stale = sign_proof(dpop_key, method="POST", url=token_url(live), iat=clock.now().timestamp(), nonce=nonce)
        late = first.post("/oauth/token", data=form(live, agent_key), headers={"DPoP": stale})
        assert "unknown or expired" in refused(late, 400, "use_dpop_nonce")
        assert late.headers["dpop-nonce"] != nonce
    with live.client() as c:
        ordinary = c.post("/oauth/token", data=form(live, agent_key), headers={"DPoP": proof(live, dpop_key)})
    assert ordinary.status_code == 200 and "dpop-nonce" not in ordinary.headers  # nonces are off by default


@pytest.mark.parametrize("jti", ["nul\x00inside", "lone\ud800surrogate", "x" * 256])
def test_an_odd_jti_is_stored_safely_on_every_database(
    live: LiveServer, client: httpx.Client, agent_key: jose.SigningKey, dpop_key: jose.SigningKey, jti: str
) -> None:
    made = sign_proof(dpop_key, method="POST", url=token_url(live), iat=live.remit.clock.now().timestamp(), jti=jti)
    assert client.post("/oauth/token", data=form(live, agent_key), headers={"DPoP": made}).status_code == 200
    again = client.post("/oauth/token", data=form(live, agent_key), headers={"DPoP": made})
    assert "used before" in refused(again, 400, "invalid_dpop_proof")


# -- a resource server over real HTTP (RFC 9449 §7) -------------------------------------------------------------


@contextmanager
def resource_server(remit: Remit) -> Iterator[str]:
    """A minimal protected resource on 127.0.0.1 that checks requests with ``verify_presented`` and answers refusals
    with the ``WWW-Authenticate: DPoP`` challenge; yields its base URL."""
    tokens, proofs = remit.token_verifier(RESOURCE), remit.token_endpoint.dpop

    async def tickets(request: Request) -> Response:
        # the URL the client addressed: the resource's public one, as a proxy in front of it would forward it
        url = f"{RESOURCE}{request.url.path}"
        try:
            token = verify_presented(
                request.headers.get("authorization"),
                request.headers.getlist("dpop"),
                method=request.method,
                url=url,
                proofs=proofs,
                tokens=tokens,
            )
        except TokenError as exc:
            challenge = {"WWW-Authenticate": dpop_challenge(exc, proofs.algorithms)}
            return JSONResponse(exc.body(), status_code=exc.status, headers={**challenge, **exc.headers})
        return JSONResponse({"sub": token.subject})

    app = Starlette(routes=[Route("/tickets", tickets, methods=["GET"])])
    with uvicorn_serving(app, "resource server") as port:
        yield f"http://127.0.0.1:{port}"


def test_a_resource_server_over_http_answers_with_the_dpop_challenge(
    live: LiveServer, client: httpx.Client, agent_key: jose.SigningKey, dpop_key: jose.SigningKey
) -> None:
    r = client.post("/oauth/token", data=form(live, agent_key), headers={"DPoP": proof(live, dpop_key)})
    token = r.json()["access_token"]
    now = live.remit.clock.now().timestamp()
    url = f"{RESOURCE}/tickets"
    with resource_server(live.remit) as base, httpx.Client(base_url=base, timeout=10) as rs:
        made = sign_proof(dpop_key, method="GET", url=url, iat=now, access_token=token)
        ok = rs.get("/tickets", headers={"Authorization": f"DPoP {token}", "DPoP": made})
        assert (ok.status_code, ok.json()) == (200, {"sub": "helpdesk"})

        as_bearer = rs.get("/tickets", headers={"Authorization": f"Bearer {token}"})
        assert (as_bearer.status_code, as_bearer.json()["error"]) == (401, "invalid_token")
        assert as_bearer.headers["www-authenticate"].startswith('DPoP error="invalid_token", error_description="')
        assert as_bearer.headers["www-authenticate"].endswith(f'algs="{" ".join(sorted(DPOP_ALGORITHMS))}"')

        thief = jose.SigningKey.generate("EdDSA")
        stolen = sign_proof(thief, method="GET", url=url, iat=now, access_token=token)
        r = rs.get("/tickets", headers={"Authorization": f"DPoP {token}", "DPoP": stolen})
        assert (r.status_code, r.json()["error"]) == (401, "invalid_token")
        assert "bound to another DPoP key" in r.json()["error_description"]

        missing = rs.get("/tickets", headers={"Authorization": f"DPoP {token}"})
        assert (missing.status_code, missing.json()["error"]) == (401, "invalid_dpop_proof")
        assert missing.headers["www-authenticate"].startswith('DPoP error="invalid_dpop_proof"')

        replayed = rs.get("/tickets", headers={"Authorization": f"DPoP {token}", "DPoP": made})
        assert "used before" in replayed.json()["error_description"]
        assert token not in replayed.text and made not in replayed.headers["www-authenticate"]


@pytest.mark.parametrize(
    ("claims", "header", "description"),
    [
        ({"iat": 10**400}, {}, "iat is not a number of seconds"),
        ({"iat": -(10**400)}, {}, "iat is not a number of seconds"),
        ({}, {"x5u": "https://attacker.example/cert.pem"}, "names a key elsewhere (x5u)"),
        ({}, {"jwk": {"kty": []}}, "jwk is not usable"),
    ],
)
def test_a_resource_server_answers_a_hostile_proof_with_401(
    live: LiveServer,
    client: httpx.Client,
    agent_key: jose.SigningKey,
    dpop_key: jose.SigningKey,
    claims: dict[str, Any],
    header: dict[str, Any],
    description: str,
) -> None:
    # what any caller can send, unauthenticated: verify_presented reads the proof before the token
    token = client.post("/oauth/token", data=form(live, agent_key), headers={"DPoP": proof(live, dpop_key)}).json()
    url = f"{RESOURCE}/tickets"
    with resource_server(live.remit) as base, httpx.Client(base_url=base, timeout=10) as rs:
        made = hostile_proof(
            live,
            dpop_key,
            {"htm": "GET", "htu": url, "ath": access_token_hash(token["access_token"]), **claims},
            **header,
        )
        r = rs.get("/tickets", headers={"Authorization": f"DPoP {token['access_token']}", "DPoP": made})
    assert (r.status_code, r.json()["error"]) == (401, "invalid_dpop_proof")
    assert description in r.json()["error_description"]
    assert r.headers["www-authenticate"].startswith('DPoP error="invalid_dpop_proof"')
