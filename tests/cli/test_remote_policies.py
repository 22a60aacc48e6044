"""The remote backend's policy operations against a scripted server: paths, bodies, errors, AuthZEN answers."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from remit.api.schemas.policies import (
    ActivateRequest,
    ModeRequest,
    PolicyApplyRequest,
    PolicyValidateRequest,
    RollbackRequest,
)
from remit.cli.backend import PageArgs
from remit.cli.errors import RemoteError
from remit.cli.remote import RemoteBackend
from remit.policy.cases import Outcome
from remit.policy.errors import PolicySyntaxError, PolicyValidationError
from remit.policy.model import AuthzRequest, Effect, EntityRef, Mode


def _backend(seen: list[httpx.Request], status: int = 200, body: Any = None) -> RemoteBackend:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json={} if body is None else body)

    return RemoteBackend("http://remit.test", "remit_adm_x", transport=httpx.MockTransport(answer))


def test_paths_and_bodies() -> None:
    seen: list[httpx.Request] = []
    b = _backend(seen, body={"items": [], "next_cursor": None})
    b.list_policies(PageArgs(limit=5))
    fragment: dict[str, Any] = {"": {"entityTypes": {"Ticket": {}}}}
    b.apply_policies(PolicyApplyRequest.model_validate({"policies": "p", "schema": fragment, "activate": False}))
    b.get_policy(None)
    b.get_policy(3)
    b.diff_policies(1, None)
    b.diff_policies(1, 2)
    b.activate_policy(2, ActivateRequest(reason="r"))
    b.rollback_policy(RollbackRequest(to=1))
    b.set_policy_mode(ModeRequest(mode=Mode.LOG_ONLY, reason="trial"))
    b.policy_status()
    b.policy_schema()
    b.get_entities()
    assert [(r.method, r.url.path, r.url.query.decode()) for r in seen] == [
        ("GET", "/v1/policies", "limit=5"),
        ("POST", "/v1/policies", ""),
        ("GET", "/v1/policies/active", ""),
        ("GET", "/v1/policies/3", ""),
        ("GET", "/v1/policies/diff", "from=1"),
        ("GET", "/v1/policies/diff", "from=1&to=2"),
        ("POST", "/v1/policies/2/activate", ""),
        ("POST", "/v1/policies/rollback", ""),
        ("PUT", "/v1/policies/mode", ""),
        ("GET", "/v1/policies/status", ""),
        ("GET", "/v1/policies/schema", ""),
        ("GET", "/v1/entities", ""),
    ]
    # the wire name is `schema`; only what was set is sent
    assert json.loads(seen[1].content) == {"policies": "p", "schema": fragment, "activate": False}
    assert json.loads(seen[8].content) == {"mode": "log_only", "reason": "trial"}


def test_policy_errors_keep_their_position_and_problems() -> None:
    syntax = {"code": "policy_syntax_error", "message": "line 4, column 1: unexpected token", "field": "policies"}
    with pytest.raises(PolicySyntaxError) as caught:
        _backend([], 422, syntax).validate_policies(PolicyValidateRequest(policies="x"))
    assert (caught.value.line, caught.value.column, caught.value.message) == (4, 1, syntax["message"])

    invalid = {
        "code": "policy_invalid",
        "message": "policy a: bad (and 1 more)",
        "field": "policies",
        "problems": ["policy a: bad", "policy b: worse"],
    }
    with pytest.raises(PolicyValidationError) as problems:
        _backend([], 422, invalid).apply_policies(PolicyApplyRequest(policies="x"))
    assert problems.value.code == "policy_invalid"
    assert problems.value.problems == ["policy a: bad", "policy b: worse"]


REQUEST = AuthzRequest(
    EntityRef("Agent", "bot"), "read", EntityRef("Tool", "t"), {"environment": "prod"}, principal_attrs={"risk": 1}
)


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        ({"decision": True, "context": {"decision_id": "dec_1"}}, Outcome(Effect.ALLOW, None)),
        (
            {"decision": False, "context": {"reason": {"code": "forbidden", "policies": ["f"]}}},
            Outcome(Effect.DENY, ("f",), "forbidden"),
        ),
        (
            {"decision": True, "context": {"reason": {"code": "no_permit", "policies": [], "enforced": False}}},
            Outcome(Effect.DENY, (), "no_permit (log-only: the caller was told allow)"),
        ),
        ({"decision": False}, Outcome(Effect.DENY, None)),
    ],
)
def test_decide_reads_the_authzen_answer(answer: dict[str, Any], outcome: Outcome) -> None:
    seen: list[httpx.Request] = []
    assert _backend(seen, body=answer).decide(REQUEST) == outcome
    assert seen[0].url.path == "/access/v1/evaluation"
    assert json.loads(seen[0].content) == {
        "subject": {"type": "Agent", "id": "bot", "properties": {"risk": 1}},
        "action": {"name": "read"},
        "resource": {"type": "Tool", "id": "t"},
        "context": {"environment": "prod"},
    }


def test_decide_needs_a_decision() -> None:
    with pytest.raises(RemoteError, match="without a decision"):
        _backend([], body={"context": {}}).decide(REQUEST)
