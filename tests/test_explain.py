"""pydantic's validation errors in Remit's words: every error type the schemas can raise, read as a sentence."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal

import pydantic
import pytest
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool

from remit.api.schemas.agents import AgentCreateRequest, AgentUpdateRequest
from remit.api.schemas.common import StatusChangeRequest
from remit.api.schemas.roles import RoleCreateRequest
from remit.api.schemas.users import UserCreateRequest, UserUpdateRequest
from remit.explain import Problem, explain, json_problem, one_line, pattern_words, rule
from remit.registry.models import NAME_RULE

#: pydantic's own English, which no message may show
PYDANTIC = re.compile(r"Input should|Field required|Extra inputs|String should|List should|Value error|\^\[|\]\{")


def problems(model: type[BaseModel], data: Any) -> list[Problem]:
    with pytest.raises(pydantic.ValidationError) as caught:
        model.model_validate(data)
    out = explain(caught.value.errors(), model=model, data=data)
    for p in out:
        assert not PYDANTIC.search(p.message), p.message
    return out


def messages(model: type[BaseModel], data: Any) -> list[tuple[str, str]]:
    return [(p.field, p.message) for p in problems(model, data)]


def test_a_name_refused_by_its_pattern_says_what_is_allowed_in_words() -> None:
    assert messages(AgentCreateRequest, {"name": "Bad Name!", "owner": "alice"}) == [
        ("name", f"name must be {NAME_RULE}")
    ]
    assert NAME_RULE == (
        "lowercase letters, digits, '.', '_' and '-', 1 to 64 characters, starting and ending with a letter or digit"
    )
    assert messages(UserCreateRequest, {"id": "alice", "email": "no-at-sign"}) == [
        ("email", "email must be an email address such as name@example.org")
    ]
    assert messages(RoleCreateRequest, {"name": "r", "permissions": [{"actions": ["READ"], "resource": "x y"}]}) == [
        (
            "permissions[0].actions[0]",
            "permissions[0].actions[0] must be an action name such as read or call_tool: a lowercase letter, then "
            "lowercase letters, digits, '_', ':', '.' and '-', up to 64 characters in all",
        ),
        (
            "permissions[0].resource",
            "permissions[0].resource must be * (every resource) or a resource id: letters, digits, '.', '_', ':' and "
            "'-', 1 to 128 characters, starting with a letter or digit and ending with a letter, digit or '_'",
        ),
    ]
    assert messages(StatusChangeRequest, {"reason": "bell\x07"}) == [
        ("reason", "reason must be text without control characters (tabs and new lines are allowed)")
    ]


def test_an_attribute_name_is_named_as_a_key() -> None:
    assert messages(AgentCreateRequest, {"name": "bot", "owner": "alice", "attributes": {"Bad-Key": 1}}) == [
        (
            "attributes.Bad-Key",
            "attributes key 'Bad-Key' must be a lowercase letter, then lowercase letters, digits and '_', up to 63 "
            "characters in all",
        )
    ]


def test_missing_and_unknown_fields_in_the_apis_own_words() -> None:
    assert messages(StatusChangeRequest, {}) == [("reason", "reason is required")]
    assert messages(AgentCreateRequest, {"name": "bot", "ownr": "alice"}) == [
        ("owner", "owner is required"),
        ("ownr", "unknown field 'ownr'; did you mean 'owner'?"),
    ]
    # an optional field, from the model: "purpse" is close to "purpose", which was not sent
    assert messages(AgentCreateRequest, {"name": "bot", "owner": "alice", "purpse": "x"}) == [
        ("purpse", "unknown field 'purpse'; did you mean 'purpose'?")
    ]
    # a field that was sent is not suggested again
    assert messages(AgentCreateRequest, {"name": "bot", "owner": "alice", "purpose": "", "purpse": "x"}) == [
        ("purpse", "unknown field 'purpse'")
    ]
    assert messages(AgentCreateRequest, {"name": "bot", "owner": "alice", "zzzz": 1}) == [
        ("zzzz", "unknown field 'zzzz'")
    ]
    # nested: the object is named, and its own fields are suggested
    assert messages(RoleCreateRequest, {"name": "r", "permissions": [{"actions": ["read"], "resourc": "x"}]}) == [
        ("permissions[0].resource", "permissions[0].resource is required"),
        ("permissions[0].resourc", "unknown field 'resourc' in permissions[0]; did you mean 'resource'?"),
    ]


def test_a_hostile_unknown_field_name_is_cut_short_and_printable() -> None:
    [problem] = problems(StatusChangeRequest, {"reason": "x", "\x1b[31m" + "a" * 500: 1})
    assert problem.message.startswith("unknown field '?[31maaaa") and problem.message.endswith("...'")
    assert len(problem.message) < 80 and "\x1b" not in problem.message


def test_lengths_bounds_and_kinds() -> None:
    assert messages(AgentCreateRequest, {"name": "bot", "owner": "alice", "purpose": "x" * 1001}) == [
        ("purpose", "purpose must be at most 1000 characters long")
    ]
    assert messages(StatusChangeRequest, {"reason": ""}) == [("reason", "reason must not be empty")]
    assert messages(AgentCreateRequest, {"name": "bot", "owner": "alice", "clearance": 11}) == [
        ("clearance", "clearance must be at most 10")
    ]
    assert messages(AgentCreateRequest, {"name": "bot", "owner": "alice", "clearance": -1}) == [
        ("clearance", "clearance must be at least 0")
    ]
    assert messages(AgentCreateRequest, {"name": "bot", "owner": "alice", "clearance": "high"}) == [
        ("clearance", "clearance must be a whole number")
    ]
    assert messages(AgentCreateRequest, {"name": "bot", "owner": "alice", "clearance": 1.5}) == [
        ("clearance", "clearance must be a whole number")
    ]
    assert messages(AgentCreateRequest, {"name": 7, "owner": "alice"}) == [("name", "name must be a string")]
    assert messages(RoleCreateRequest, {"name": "r", "permissions": "all"}) == [
        ("permissions", "permissions must be a list")
    ]
    assert messages(RoleCreateRequest, {"name": "r", "permissions": [{"actions": [], "resource": "x"}]}) == [
        ("permissions[0].actions", "permissions[0].actions must have at least one item")
    ]
    assert messages(RoleCreateRequest, {"name": "r", "permissions": [{"actions": ["read"] * 33, "resource": "x"}]}) == [
        ("permissions[0].actions", "permissions[0].actions must have at most 32 items")
    ]
    many = {f"k{i}": 1 for i in range(33)}
    assert messages(AgentCreateRequest, {"name": "bot", "owner": "alice", "attributes": many}) == [
        ("attributes", "attributes must have at most 32 entries")
    ]
    assert messages(AgentCreateRequest, [1, 2]) == [("body", "the request body must be a JSON object")]
    assert messages(RoleCreateRequest, {"name": "r", "permissions": ["read"]}) == [
        ("permissions[0]", "permissions[0] must be a JSON object")
    ]


def test_enums_and_literals_list_their_values() -> None:
    assert messages(AgentCreateRequest, {"name": "bot", "owner": "alice", "risk_tier": "extreme"}) == [
        ("risk_tier", "risk_tier must be one of: low, medium, high, critical")
    ]
    assert messages(UserUpdateRequest, {"status": "gone"}) == [("status", "status must be one of: active, disabled")]

    class Options(BaseModel):
        semantic: Literal["execute_all", "deny_on_first_deny"]

    assert messages(Options, {"semantic": "x"}) == [
        ("semantic", "semantic must be one of: execute_all, deny_on_first_deny")
    ]


def test_booleans_and_times() -> None:
    class Flags(BaseModel):
        model_config = ConfigDict(extra="forbid")
        strict: StrictBool = False
        lax: bool = False
        at: datetime | None = None

    assert messages(Flags, {"strict": "yes"}) == [("strict", "strict must be true or false")]
    assert messages(Flags, {"lax": "perhaps"}) == [("lax", "lax must be true or false")]
    assert messages(Flags, {"at": "tomorrow"}) == [("at", "at must be a date and time such as 2026-01-31T09:00:00Z")]
    assert messages(AgentUpdateRequest, {"review_due_at": "2026-01-01T00:00:00"}) == [
        (
            "review_due_at",
            "review_due_at must include a time zone, such as 2026-01-31T09:00:00Z or 2026-01-31T10:00:00+01:00",
        )
    ]

    class Due(BaseModel):
        at: AwareDatetime

    assert messages(Due, {"at": 5.5e300}) == [("at", "at must be a date and time such as 2026-01-31T09:00:00Z")]


def test_a_union_is_one_problem_for_its_field() -> None:
    # no branch fits: every kind the field takes is named
    assert messages(AgentCreateRequest, {"name": "bot", "owner": "alice", "attributes": {"x": 1.5}}) == [
        ("attributes.x", "attributes.x must be true or false, a whole number, a string or a list of strings")
    ]
    # one branch got further: its own problem is the one to tell
    assert messages(AgentCreateRequest, {"name": "bot", "owner": "alice", "attributes": {"x": "y" * 300}}) == [
        ("attributes.x", "attributes.x must be at most 256 characters long")
    ]
    assert messages(AgentCreateRequest, {"name": "bot", "owner": "alice", "attributes": {"x": ["a", 1]}}) == [
        ("attributes.x[1]", "attributes.x[1] must be a string")
    ]
    assert messages(AgentCreateRequest, {"name": "bot", "owner": "alice", "attributes": {"n": 2**64}}) == [
        ("attributes.n", "attributes.n must be at most 9223372036854775807")
    ]
    # a key that looks like a branch tag is still a key
    assert messages(AgentCreateRequest, {"name": "bot", "owner": "alice", "attributes": {"bool": 1.5}}) == [
        ("attributes.bool", "attributes.bool must be true or false, a whole number, a string or a list of strings")
    ]


def test_an_unregistered_pattern_and_other_errors_still_read_as_sentences() -> None:
    class Odd(BaseModel):
        code: Annotated[str, Field(pattern=r"^[Q]{3}$")]
        ident: pydantic.UUID4 | None = None
        ratio: Annotated[float, Field(multiple_of=0.5)] = 0.5

    assert messages(Odd, {"code": "x"}) == [("code", "code must be in the expected format (see /openapi.json)")]
    [(field, message)] = messages(Odd, {"code": "QQQ", "ident": "nope"})
    assert field == "ident" and message.startswith("ident must be a valid UUID")
    assert messages(Odd, {"code": "QQQ", "ratio": 0.3}) == [("ratio", "ratio must be a multiple of 0.5")]

    class Checked(BaseModel):
        n: int

        @pydantic.field_validator("n")
        @classmethod
        def _even(cls, v: int) -> int:
            if v % 2:
                raise ValueError("must be even")
            return v

    assert messages(Checked, {"n": 3}) == [("n", "n: must be even")]


def test_one_line_joins_three_and_counts_the_rest() -> None:
    found = problems(AgentCreateRequest, {"name": "X", "owner": "Y", "team": "Z", "environment": "W", "risk_tier": "V"})
    text = one_line(found)
    assert text.count("; ") == 2 and text.endswith(" (and 2 more)")


def test_a_location_can_be_named_by_the_caller() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        UserCreateRequest.model_validate({"email": "a@b.c"})
    [problem] = explain(caught.value.errors(), name=lambda loc: "--" + str(loc[-1]).replace("_", "-"))
    assert (problem.field, problem.message) == ("id", "--id is required")


def test_request_locations_leave_out_where_in_the_request() -> None:
    errors: list[dict[str, Any]] = [
        {"type": "missing", "loc": ("query", "limit"), "msg": "Field required"},
        {"type": "model_attributes_type", "loc": ("body",), "msg": "Input should be a valid dictionary"},
        {"type": "string_pattern_mismatch", "loc": ("path", "name"), "msg": "", "ctx": {"pattern": "^$"}},
    ]
    assert [(p.field, p.message) for p in explain(errors, request=True)] == [
        ("limit", "limit is required"),
        ("body", "the request body must be a JSON object"),
        ("name", "name must be in the expected format (see /openapi.json)"),
    ]


def test_json_problems_give_line_and_column() -> None:
    cases = {
        '{"name": "bot",\n "owner" "alice"}': "a ':' was expected at line 2, column 10",
        '{"name": "bot",}': "a field name in double quotes was expected at line 1, column 16",
        '{"name": "bot': "a string is not closed at line 1, column 10",
        '{"name": "bot"} x': "there is more text after the JSON value at line 1, column 17",
        "": "a value was expected at line 1, column 1",
        '{"a": [1 2]}': "a ',' was expected at line 1, column 10",
    }
    for text, expected in cases.items():
        with pytest.raises(json.JSONDecodeError) as caught:
            json.loads(text)
        assert json_problem(caught.value.msg, caught.value.doc, caught.value.pos) == expected
        assert json_problem(str(caught.value), caught.value.doc, caught.value.pos) == expected


def test_a_pattern_has_one_description() -> None:
    assert rule(r"^unique-test-pattern$", "a test pattern") == r"^unique-test-pattern$"
    assert pattern_words(r"^unique-test-pattern$") == "a test pattern"
    assert rule(r"^unique-test-pattern$", "a test pattern") == r"^unique-test-pattern$"
    with pytest.raises(ValueError, match="already described"):
        rule(r"^unique-test-pattern$", "other words")


def test_a_validator_of_the_whole_input_says_its_own_sentence() -> None:
    class Pages(BaseModel):
        default: int = 50
        most: int = 200

        @pydantic.model_validator(mode="after")
        def _fits(self) -> Pages:
            if self.default > self.most:
                raise ValueError("default must not exceed most")
            return self

    with pytest.raises(pydantic.ValidationError) as caught:
        Pages(default=500)
    [problem] = explain(caught.value.errors(), whole="the settings", name=lambda loc: f"<{loc}>")
    assert (problem.field, problem.message) == ("body", "default must not exceed most")
