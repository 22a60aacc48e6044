"""Token exchange (RFC 8693) over real HTTP: on-behalf-of tokens whose scope is the intersection of what the
subject has, what every actor may have and what was asked for; ``act`` nesting, ``may_act``, the depth limit,
re-targeting to one audience; every narrowing rule and every refusal, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from remit.admin.access import AdminPrincipal, AdminRole
from remit.clock import FrozenClock
from remit.paging import PageRequest
from remit.registry import AgentAction, AgentDraft, ResourceDraft, ResourceKind, UserDraft
from remit.registry.models import UserStatus
from remit.registry.service import UserChanges
from remit.settings import Settings, load_settings
from remit.store.audit import AuditFilter
from remit.tokens import jose
from remit.tokens.dpop import sign_proof
from remit.tokens.endpoint import ASSERTION_TYPE
from remit.tokens.exchange import ACCESS_TOKEN_TYPE, GRANT_TYPE, JWT_TOKEN_TYPE
from tests.api.conftest import LiveServer
from tests.servers import http_serving

ADMIN = AdminPrincipal(actor="test:setup", role=AdminRole.ADMIN)
IDP = "https://login.example.org"
IDP2 = "https://sso.example.com"
IDP_KEY = jose.SigningKey.generate("ES256", kid="idp-1")
OTHER_KEY = jose.SigningKey.generate("ES256", kid="idp-1")  # the same kid, another key: a forgery
CRM = "https://crm.example.org/api"
MAIL = "https://mail.example.org"
READ, DELETE, EXPORT = "read:crm.contacts", "delete:crm.contacts", "write:crm.contacts"

# alice may read and write (EXPORT) contacts, not delete them; the planner may read and delete, not write; the mailer
# and the reporter may only read. Nobody acts for carol.
POLICY = """
@id("alice-reads-and-writes")
permit(principal == User::"alice", action in [Action::"read", Action::"write"], resource in App::"crm");
@id("carol-reads")
permit(principal == User::"carol", action == Action::"read", resource in App::"crm");
@id("planner-reads-and-deletes")
permit(principal == Agent::"planner", action in [Action::"read", Action::"delete"], resource in App::"crm");
@id("mailer-reads")
permit(principal == Agent::"mailer", action == Action::"read", resource in App::"crm");
@id("reporter-reads")
permit(principal == Agent::"reporter", action == Action::"read", resource in App::"crm");
@id("never-for-carol")
forbid(principal is Agent, action, resource)
when { context has delegated_by && context.delegated_by.contains(User::"carol") };
"""


class Published(BaseHTTPRequestHandler):
    """A second identity provider that publishes its keys at a ``jwks_uri`` (a real HTTP server on 127.0.0.1)."""

    keys: ClassVar[list[jose.SigningKey]] = []
    fetched: ClassVar[int] = 0

    def do_GET(self) -> None:
        body = json.dumps(jose.export_jwks(k.public_key for k in Published.keys)).encode()
        Published.fetched += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def idp2() -> Iterator[str]:
    Published.keys, Published.fetched = [jose.SigningKey.generate("EdDSA", kid="idp2-1")], 0
    with http_serving(Published) as url:
        yield f"{url}/jwks"


@pytest.fixture
def settings(tmp_path: Path, database_url: str, idp2: str) -> Settings:
    jwks = tmp_path / "idp-jwks.json"
    jwks.write_text(json.dumps(jose.export_jwks([IDP_KEY.public_key])))
    return load_settings(
        home=tmp_path,
        database_url=database_url,
        tokens={
            "trusted_issuers": [
                {"issuer": IDP, "jwks_file": str(jwks), "algorithms": ["ES256"]},
                {"issuer": IDP2, "jwks_uri": idp2, "algorithms": ["EdDSA"], "user_claim": "email"},
            ],
            "max_delegation_depth": 2,
            "jwks_uri_allow_loopback": True,
        },
    )


@pytest.fixture
def keys(live: LiveServer) -> dict[str, jose.SigningKey]:
    remit = live.remit
    for user in ("alice", "bob", "carol"):
        remit.registry.create_user(ADMIN, UserDraft(id=user, email=f"{user}@example.org"))
    for agent, owner in (("planner", "alice"), ("mailer", "alice"), ("reporter", "bob")):
        remit.registry.create_agent(ADMIN, AgentDraft(name=agent, owner=owner))
    remit.registry.create_resource(ADMIN, ResourceDraft(id="crm", kind=ResourceKind.APP))
    remit.registry.create_resource(ADMIN, ResourceDraft(id="crm.contacts", kind=ResourceKind.ENDPOINT, parent="crm"))
    remit.policies.apply(ADMIN, POLICY)
    remit.refresher.refresh()
    out = {}
    for agent in ("planner", "mailer", "reporter"):
        out[agent] = jose.SigningKey.generate("EdDSA")
        remit.agent_keys.add(ADMIN, agent, out[agent].public_key.to_jwk())
    return out


@pytest.fixture
def client(live: LiveServer) -> Iterator[httpx.Client]:
    with live.client() as c:
        yield c


def now(live: LiveServer) -> int:
    return int(live.remit.clock.now().timestamp())


def assertion(live: LiveServer, key: jose.SigningKey, agent: str) -> str:
    t = now(live)
    claims = {
        "iss": agent,
        "sub": agent,
        "aud": f"{live.remit.settings.tokens.issuer}/oauth/token",
        "iat": t,
        "exp": t + 60,
        "jti": f"a-{time.monotonic_ns()}",
    }
    return jose.sign_jwt(claims, key, typ="JWT")


def user_token(live: LiveServer, user: str = "alice", key: jose.SigningKey = IDP_KEY, **claims: Any) -> str:
    t = now(live)
    base = {"iss": IDP, "sub": user, "aud": live.remit.settings.tokens.issuer, "iat": t, "exp": t + 600}
    return jose.sign_jwt({k: v for k, v in {**base, **claims}.items() if v is not None}, key, typ="JWT")


def exchange(
    client: httpx.Client,
    live: LiveServer,
    keys: dict[str, jose.SigningKey],
    actor: str,
    subject: str,
    **params: str,
) -> httpx.Response:
    base = {
        "grant_type": GRANT_TYPE,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion(live, keys[actor], actor),
        "subject_token": subject,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "resource": CRM,
    }
    return client.post("/oauth/token", data={k: v for k, v in {**base, **params}.items() if v != "-"})


def claims_of(token: str) -> dict[str, Any]:
    return jose.parse_json_object(jose.parse_compact(token).payload, "claims")


def granted(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE and body["token_type"] == "Bearer"
    assert r.headers["cache-control"] == "no-store"
    return body


def refused(r: httpx.Response, status: int, error: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "error_description"} and body["error"] == error
    description: str = body["error_description"]
    return description


def spiffe(live: LiveServer, agent: str) -> str:
    found = live.remit.registry.get_agent(ADMIN, agent)
    return found.spiffe_id


# -- the intersection ------------------------------------------------------------------------------------------


def test_a_users_token_becomes_a_delegated_token_with_the_intersection_of_rights(
    live: LiveServer, client: httpx.Client, keys: dict[str, jose.SigningKey]
) -> None:
    r = exchange(client, live, keys, "planner", user_token(live), scope=f"{READ} {DELETE} {EXPORT}")
    body = granted(r)
    assert body["scope"] == READ  # alice may not delete, the planner may not export
    claims = claims_of(body["access_token"])
    assert {k: claims[k] for k in ("iss", "sub", "sub_type", "aud", "client_id", "scope", "act")} == {
        "iss": live.remit.settings.tokens.issuer,
        "sub": "alice",
        "sub_type": "user",
        "aud": CRM,
        "client_id": "planner",
        "scope": READ,
        "act": {"sub": "planner"},
    }
    assert claims["exp"] - claims["iat"] == body["expires_in"] == live.remit.settings.tokens.access_token_seconds
    [record] = live.remit.audit.query(ADMIN, AuditFilter(action="token.exchange"), PageRequest(limit=5)).items
    assert record["principal"] == {"type": "Agent", "id": "planner", "on_behalf_of": ["user:alice"]}
    assert record["context"]["dropped"] == {DELETE: "not allowed to user:alice", EXPORT: "not allowed to agent:planner"}
    assert body["access_token"] not in json.dumps(record)

    meta = client.get("/.well-known/oauth-authorization-server").json()
    assert GRANT_TYPE in meta["grant_types_supported"]
    with live.client(live.admin_token) as admin:
        metrics = admin.get("/metrics").text
    assert 'remit_tokens_issued_total{grant_type="token_exchange"} 1.0' in metrics
    assert 'remit_tokens_issued_total{grant_type="client_credentials"} 0.0' in metrics


def test_nothing_in_the_intersection_is_invalid_scope(
    live: LiveServer, client: httpx.Client, keys: dict[str, jose.SigningKey]
) -> None:
    assert "subject and every actor" in refused(
        exchange(client, live, keys, "planner", user_token(live), scope=f"{DELETE} {EXPORT}"), 400, "invalid_scope"
    )
    # a user's token from an identity provider carries no Remit scope: the agent must say what it needs
    assert "scope is required" in refused(
        exchange(client, live, keys, "planner", user_token(live)), 400, "invalid_scope"
    )
    assert "registered resource" in refused(
        exchange(client, live, keys, "planner", user_token(live), scope="read:no-such-thing"), 400, "invalid_scope"
    )


def test_the_policies_see_whom_the_agent_acts_for(
    live: LiveServer, client: httpx.Client, keys: dict[str, jose.SigningKey]
) -> None:
    # carol may read herself, and the planner may read, but a forbid on context.delegated_by stops the pair
    r = exchange(client, live, keys, "planner", user_token(live, "carol"), scope=READ)
    refused(r, 400, "invalid_scope")
    # nothing was issued, so nothing was recorded as issued
    assert not live.remit.audit.query(ADMIN, AuditFilter(action="token.exchange"), PageRequest(limit=5)).items


def test_the_delegated_token_never_outlives_the_subject_token(
    live: LiveServer, client: httpx.Client, keys: dict[str, jose.SigningKey]
) -> None:
    short = user_token(live, exp=now(live) + 42)
    body = granted(exchange(client, live, keys, "planner", short, scope=READ))
    assert body["expires_in"] == 42
    assert claims_of(body["access_token"])["exp"] == now(live) + 42


# -- agent to agent ------------------------------------------------------------------------------------------


def delegated_to(
    live: LiveServer, client: httpx.Client, keys: dict[str, jose.SigningKey], actor: str, next_hop: str, scope: str
) -> str:
    """alice -> ``actor``, a token addressed to ``next_hop`` (its SPIFFE id as the audience)."""
    body = granted(exchange(client, live, keys, actor, user_token(live), scope=scope, resource=spiffe(live, next_hop)))
    token: str = body["access_token"]
    return token


def test_a_second_hop_nests_act_and_can_only_narrow(
    live: LiveServer, client: httpx.Client, keys: dict[str, jose.SigningKey]
) -> None:
    hop1 = delegated_to(live, client, keys, "planner", "mailer", READ)
    body = granted(exchange(client, live, keys, "mailer", hop1, resource=MAIL, scope="-"))
    claims = claims_of(body["access_token"])
    assert claims["act"] == {"sub": "mailer", "act": {"sub": "planner"}}
    assert (claims["sub"], claims["client_id"], claims["aud"], claims["scope"]) == ("alice", "mailer", MAIL, READ)
    # the subject token's scope bounds the next hop, whatever the policies would allow the actor
    assert "subject and every actor" in refused(
        exchange(client, live, keys, "mailer", hop1, scope=DELETE), 400, "invalid_scope"
    )
    records = live.remit.audit.query(ADMIN, AuditFilter(action="token.exchange"), PageRequest(limit=5)).items
    assert records[0]["principal"]["on_behalf_of"] == ["agent:planner", "user:alice"]


def test_an_agent_only_exchanges_tokens_meant_for_it(
    live: LiveServer, client: httpx.Client, keys: dict[str, jose.SigningKey]
) -> None:
    hop1 = delegated_to(live, client, keys, "planner", "mailer", READ)
    # the reporter was not the audience: a token it got hold of is of no use to it
    assert "not issued to this agent" in refused(exchange(client, live, keys, "reporter", hop1), 400, "invalid_request")
    # an agent's own client_credentials token cannot make it act for itself
    assert "on behalf of itself" in refused(
        exchange(client, live, keys, "planner", own_token(live, client, keys, "planner")), 400, "invalid_request"
    )


def own_token(live: LiveServer, client: httpx.Client, keys: dict[str, jose.SigningKey], agent: str) -> str:
    r = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(live, keys[agent], agent),
            "resource": CRM,
            "scope": READ,
        },
    )
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


def test_the_current_actor_re_targets_without_deepening_the_chain(
    live: LiveServer, client: httpx.Client, keys: dict[str, jose.SigningKey]
) -> None:
    first = granted(exchange(client, live, keys, "planner", user_token(live), scope=READ))["access_token"]
    body = granted(exchange(client, live, keys, "planner", first, resource=MAIL))
    claims = claims_of(body["access_token"])
    assert (claims["act"], claims["aud"], claims["scope"]) == ({"sub": "planner"}, MAIL, READ)


def test_the_chain_depth_is_limited(live: LiveServer, client: httpx.Client, keys: dict[str, jose.SigningKey]) -> None:
    hop1 = delegated_to(live, client, keys, "planner", "mailer", READ)
    hop2 = granted(exchange(client, live, keys, "mailer", hop1, resource=spiffe(live, "reporter")))["access_token"]
    assert claims_of(hop2)["act"] == {"sub": "mailer", "act": {"sub": "planner"}}
    assert "more than 2 actors" in refused(exchange(client, live, keys, "reporter", hop2), 400, "invalid_request")


def test_may_act_names_who_may_exchange(
    live: LiveServer, client: httpx.Client, keys: dict[str, jose.SigningKey]
) -> None:
    token = user_token(live, may_act={"sub": "mailer"})
    assert "may_act" in refused(exchange(client, live, keys, "planner", token, scope=READ), 400, "invalid_request")
    assert granted(exchange(client, live, keys, "mailer", token, scope=READ))["scope"] == READ
    by_spiffe = user_token(live, may_act={"sub": spiffe(live, "mailer")})
    assert granted(exchange(client, live, keys, "mailer", by_spiffe, scope=READ))["scope"] == READ
    malformed = user_token(live, may_act="mailer")
    assert "malformed" in refused(exchange(client, live, keys, "mailer", malformed, scope=READ), 400, "invalid_request")


# -- the chain's parties -------------------------------------------------------------------------------------


def test_a_suspended_actor_or_disabled_user_ends_the_chain(
    live: LiveServer, client: httpx.Client, keys: dict[str, jose.SigningKey], request: pytest.FixtureRequest
) -> None:
    hop1 = delegated_to(live, client, keys, "planner", "mailer", READ)
    hop2 = granted(exchange(client, live, keys, "mailer", hop1, resource=MAIL))["access_token"]
    introspect = live.client(live.admin_token)
    request.addfinalizer(introspect.close)
    answer = introspect.post("/oauth/introspect", data={"token": hop2}).json()
    assert answer["active"] is True
    assert (answer["sub"], answer["sub_type"], answer["act"]) == ("alice", "user", claims_of(hop2)["act"])

    live.remit.registry.change_agent_status(ADMIN, "planner", AgentAction.SUSPEND, "investigation")
    assert "agent:planner" in refused(
        exchange(client, live, keys, "mailer", hop1, resource=MAIL), 400, "invalid_request"
    )
    assert introspect.post("/oauth/introspect", data={"token": hop2}).json() == {"active": False}

    live.remit.registry.change_agent_status(ADMIN, "planner", AgentAction.RESUME, "cleared")
    assert introspect.post("/oauth/introspect", data={"token": hop2}).json()["active"] is True
    live.remit.registry.update_user(ADMIN, "alice", UserChanges(status=UserStatus.DISABLED))
    assert introspect.post("/oauth/introspect", data={"token": hop2}).json() == {"active": False}
    assert "not an active user" in refused(
        exchange(client, live, keys, "reporter", user_token(live), scope=READ), 400, "invalid_request"
    )


def test_a_revoked_subject_token_cannot_be_exchanged(
    live: LiveServer, client: httpx.Client, keys: dict[str, jose.SigningKey]
) -> None:
    first = granted(exchange(client, live, keys, "planner", user_token(live), scope=READ))["access_token"]
    r = client.post(
        "/oauth/revoke",
        data={
            "token": first,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(live, keys["planner"], "planner"),
        },
    )
    assert r.status_code == 200
    assert "revoked" in refused(exchange(client, live, keys, "planner", first, resource=MAIL), 400, "invalid_request")


# -- the subject and actor tokens ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (lambda live: user_token(live, key=OTHER_KEY), "signature"),
        (lambda live: user_token(live, exp=now(live) - 3600), "expired"),
        (lambda live: user_token(live, aud="https://elsewhere.example.org"), "audience"),
        (lambda live: user_token(live, iss="https://evil.example.org"), "not trusted"),
        (lambda live: user_token(live, "mallory"), "not an active user"),
        (lambda live: user_token(live, sub=None), "'sub'"),
        (lambda live: user_token(live, act={"sub": "someone"}), "another issuer"),
        (lambda live: "not.a.token", "malformed"),
    ],
    ids=["forged", "expired", "wrong-aud", "untrusted-iss", "unknown-user", "no-user", "foreign-act", "garbage"],
)
def test_bad_subject_tokens_are_invalid_request(
    live: LiveServer, client: httpx.Client, keys: dict[str, jose.SigningKey], token: Any, expected: str
) -> None:
    description = refused(exchange(client, live, keys, "planner", token(live), scope=READ), 400, "invalid_request")
    assert expected in description


def test_parameters_are_checked(live: LiveServer, client: httpx.Client, keys: dict[str, jose.SigningKey]) -> None:
    tok = user_token(live)
    cases = [
        ({"subject_token": "-"}, 400, "invalid_request", "subject_token parameter is required"),
        ({"subject_token_type": "urn:x"}, 400, "invalid_request", "subject_token_type"),
        ({"subject_token_type": "-"}, 400, "invalid_request", "subject_token_type"),
        ({"requested_token_type": "urn:ietf:params:oauth:token-type:saml2"}, 400, "invalid_request", "requested"),
        ({"resource": "-"}, 400, "invalid_target", "exactly one resource or audience"),
        ({"audience": "mail"}, 400, "invalid_target", "exactly one resource or audience"),
        ({"resource": "not a uri"}, 400, "invalid_target", "absolute URI"),
        ({"actor_token_type": JWT_TOKEN_TYPE}, 400, "invalid_request", "without an actor_token"),
        ({"actor_token": tok, "actor_token_type": "-"}, 400, "invalid_request", "actor_token_type"),
        ({"client_assertion": "-"}, 401, "invalid_client", "client_assertion"),
    ]
    for params, status, error, expected in cases:
        assert expected in refused(exchange(client, live, keys, "planner", tok, scope=READ, **params), status, error)
    # a logical audience instead of a resource URI
    body = granted(exchange(client, live, keys, "planner", tok, scope=READ, resource="-", audience="crm-backend"))
    assert claims_of(body["access_token"])["aud"] == "crm-backend"
    assert granted(exchange(client, live, keys, "planner", tok, scope=READ, requested_token_type=JWT_TOKEN_TYPE))


def test_the_actor_token_must_prove_the_same_agent(
    live: LiveServer, client: httpx.Client, keys: dict[str, jose.SigningKey]
) -> None:
    tok = user_token(live)
    own = assertion(live, keys["planner"], "planner")
    assert granted(
        exchange(client, live, keys, "planner", tok, scope=READ, actor_token=own, actor_token_type=JWT_TOKEN_TYPE)
    )
    # its own access token does as well
    mine = own_token(live, client, keys, "planner")
    assert granted(
        exchange(client, live, keys, "planner", tok, scope=READ, actor_token=mine, actor_token_type=ACCESS_TOKEN_TYPE)
    )
    theirs = own_token(live, client, keys, "mailer")
    assert "another agent" in refused(
        exchange(
            client, live, keys, "planner", tok, scope=READ, actor_token=theirs, actor_token_type=ACCESS_TOKEN_TYPE
        ),
        400,
        "invalid_request",
    )
    forged = assertion(live, keys["mailer"], "planner")  # claims to be the planner, signed by the mailer's key
    assert "actor_token is not acceptable" in refused(
        exchange(client, live, keys, "planner", tok, scope=READ, actor_token=forged, actor_token_type=JWT_TOKEN_TYPE),
        400,
        "invalid_request",
    )
    delegated = granted(exchange(client, live, keys, "planner", tok, scope=READ))["access_token"]
    assert "not a delegated one" in refused(
        exchange(
            client, live, keys, "planner", tok, scope=READ, actor_token=delegated, actor_token_type=ACCESS_TOKEN_TYPE
        ),
        400,
        "invalid_request",
    )


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", [10**400, -(10**400), 253402300800, True])
def test_a_hostile_date_in_a_subject_or_actor_token_is_invalid_request(
    live: LiveServer, client: httpx.Client, keys: dict[str, jose.SigningKey], name: str, value: object
) -> None:
    # RFC 8693 §2.2.2: a subject or actor token invalid for any reason is invalid_request; never a 500
    hostile_subject = user_token(live, "alice", IDP_KEY, **{name: value})  # signed by a trusted provider's key
    description = refused(exchange(client, live, keys, "planner", hostile_subject, scope=READ), 400, "invalid_request")
    assert f"the '{name}' claim is not a number of seconds" in description
    t = now(live)
    claims = {"iss": "planner", "sub": "planner", "aud": f"{live.remit.settings.tokens.issuer}/oauth/token"}
    base = {**claims, "iat": t, "exp": t + 60, "jti": f"a-{time.monotonic_ns()}"}
    hostile_actor = jose.sign_jwt({**base, name: value}, keys["planner"], typ="JWT")  # the agent's own key
    r = exchange(
        client,
        live,
        keys,
        "planner",
        user_token(live),
        scope=READ,
        actor_token=hostile_actor,
        actor_token_type=JWT_TOKEN_TYPE,
    )
    assert f"the '{name}' claim is not a number of seconds" in refused(r, 400, "invalid_request")
    assert live.remit.audit.query(ADMIN, AuditFilter(action="token.exchange"), PageRequest(limit=5)).items == ()


def test_a_proof_binds_the_delegated_token_and_a_bound_subject_token_needs_its_key(
    live: LiveServer, client: httpx.Client, keys: dict[str, jose.SigningKey]
) -> None:
    dpop_key = jose.SigningKey.generate("ES256")
    url = f"{live.remit.settings.tokens.issuer}/oauth/token"

    def proof(key: jose.SigningKey = dpop_key) -> dict[str, str]:
        return {"DPoP": sign_proof(key, method="POST", url=url, iat=live.remit.clock.now().timestamp())}

    form = {
        "grant_type": GRANT_TYPE,
        "client_assertion_type": ASSERTION_TYPE,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "scope": READ,
        "resource": CRM,
    }

    def post(subject: str, headers: dict[str, str], **extra: str) -> httpx.Response:
        data = {**form, "subject_token": subject, "client_assertion": assertion(live, keys["planner"], "planner")}
        return client.post("/oauth/token", data={**data, **extra}, headers=headers)

    body = granted_dpop(post(user_token(live), proof()))
    jkt = dpop_key.public_key.thumbprint
    assert claims_of(body["access_token"])["cnf"] == {"jkt": jkt}
    [record] = live.remit.audit.query(ADMIN, AuditFilter(action="token.exchange"), PageRequest(limit=5)).items
    assert record["context"]["dpop_jkt"] == jkt
    # re-targeting that bound token: only with a proof of the same key
    bound = body["access_token"]
    assert "DPoP" in refused(post(bound, {}, resource=MAIL), 400, "invalid_request")
    other = jose.SigningKey.generate("ES256")
    assert "another DPoP key" in refused(post(bound, proof(other), resource=MAIL), 400, "invalid_request")
    assert claims_of(granted_dpop(post(bound, proof(), resource=MAIL))["access_token"])["aud"] == MAIL
    assert refused(post(user_token(live), {"DPoP": "not-a-proof"}), 400, "invalid_dpop_proof")
    # an agent that must use DPoP gets no bearer token by exchange either
    live.remit.agent_clients.set_dpop_bound_access_tokens(ADMIN, "planner", True)
    assert "must use DPoP" in refused(post(user_token(live), {}), 400, "invalid_dpop_proof")
    assert granted_dpop(post(user_token(live), proof()))


def granted_dpop(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert (body["issued_token_type"], body["token_type"]) == (ACCESS_TOKEN_TYPE, "DPoP")
    return body


def test_a_legacy_api_key_cannot_delegate(
    live: LiveServer, client: httpx.Client, keys: dict[str, jose.SigningKey]
) -> None:
    _, value = live.remit.legacy_keys.create(ADMIN, "planner", live.remit.clock.now() + timedelta(days=7))
    data = {
        "grant_type": GRANT_TYPE,
        "client_id": "planner",
        "client_secret": value,
        "subject_token": user_token(live),
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "resource": CRM,
        "scope": READ,
    }
    assert "cannot delegate" in refused(client.post("/oauth/token", data=data), 401, "invalid_client")
    basic = {k: v for k, v in data.items() if k not in ("client_id", "client_secret")}
    r = client.post("/oauth/token", data=basic, auth=("planner", value))
    assert "cannot delegate" in refused(r, 401, "invalid_client")
    assert r.headers["www-authenticate"].startswith("Basic")
    assert not live.remit.audit.query(ADMIN, AuditFilter(action="token.exchange"), PageRequest(limit=5)).items


def test_a_providers_keys_are_fetched_from_its_jwks_uri_and_a_rotation_is_followed(
    live: LiveServer, client: httpx.Client, keys: dict[str, jose.SigningKey], clock: FrozenClock
) -> None:
    def idp2_token(key: jose.SigningKey) -> str:
        t = now(live)
        claims = {"iss": IDP2, "sub": "u-1", "email": "alice", "aud": live.remit.settings.tokens.issuer, "exp": t + 600}
        return jose.sign_jwt(claims, key, typ="JWT")

    first = Published.keys[0]
    body = granted(exchange(client, live, keys, "planner", idp2_token(first), scope=READ))
    assert claims_of(body["access_token"])["sub"] == "alice"  # the user named by the configured claim
    assert Published.fetched == 1
    assert granted(exchange(client, live, keys, "planner", idp2_token(first), scope=READ))
    assert Published.fetched == 1  # kept, not fetched per request

    rotated = jose.SigningKey.generate("EdDSA", kid="idp2-2")
    Published.keys.append(rotated)
    clock.advance(timedelta(seconds=30))
    assert granted(exchange(client, live, keys, "planner", idp2_token(rotated), scope=READ))
    assert Published.fetched == 2  # a new kid: fetched at once
    forged = jose.SigningKey.generate("EdDSA", kid="idp2-3")
    for _ in range(3):
        assert "signing key is unknown" in refused(
            exchange(client, live, keys, "planner", idp2_token(forged), scope=READ), 400, "invalid_request"
        )
    assert Published.fetched == 2  # made-up kids do not make Remit hammer the provider
