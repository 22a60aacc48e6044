"""Policy test cases: a YAML file of requests with the decision (and, optionally, the policy ids) each must get.

``CaseFile`` is the file's shape; ``cases.schema.json`` next to this module is its JSON Schema, generated from
these models (``schema_document``) for editors (``# yaml-language-server: $schema=...``) and users' own tooling.
``run`` decides every case through any evaluator (the live engine, an in-memory one, or a server) and reports
each mismatch. Example::

    cases:
      - name: summariser may read tickets
        principal: {type: agent, id: support-ticket-summariser}
        action: call_tool
        resource: {type: tool, id: helpdesk.list_tickets}
        expect: allow
        policies: [role:ticket-queue-reader#0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from remit.errors import ValidationError
from remit.explain import explain
from remit.policy.compile import cedar_type
from remit.policy.model import AuthzRequest, Decision, Effect, EntityRef

SCHEMA_FILE = Path(__file__).with_name("cases.schema.json")
MAX_FILE_BYTES = 4 * 1024 * 1024

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class CaseEntity(_Model):
    """A principal or resource, as in AuthZEN: a type (``agent``, ``tool``, or any Cedar type) and an id."""

    type: Name
    """``agent``, ``user``, ``app``, ``endpoint``, ``mcp_server``, ``tool``, ``dataset``, or a Cedar type."""
    id: Name
    properties: dict[str, Any] | None = None
    """Attributes merged over the stored ones for this request (AuthZEN ``properties``)."""

    def ref(self) -> EntityRef:
        return EntityRef(cedar_type(self.type), self.id)


class Case(_Model):
    """One request and what it must get."""

    name: Name
    principal: CaseEntity
    action: Name
    """The action's name, e.g. ``call_tool``."""
    resource: CaseEntity
    context: dict[str, Any] = Field(default_factory=dict)
    expect: Effect
    policies: list[Name] | None = None
    """The exact ids of the policies that determine the decision; omit to check only the decision."""

    def request(self) -> AuthzRequest:
        return AuthzRequest(
            principal=self.principal.ref(),
            action=self.action,
            resource=self.resource.ref(),
            context=dict(self.context),
            principal_attrs=self.principal.properties,
            resource_attrs=self.resource.properties,
        )


class CaseFile(_Model):
    """A file of policy test cases."""

    description: str = ""
    cases: list[Case] = Field(min_length=1)


class CaseFileError(ValidationError):
    """A case file that cannot be read, is not YAML, or does not fit the schema; names the case and field."""

    code = "invalid_case_file"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an evaluator decided for one case."""

    effect: Effect  #: what the policies decided (in log-only mode too)
    policies: tuple[str, ...] | None  #: the determining policy ids; None when the evaluator does not report them
    detail: str = ""  #: why, for people: the deny code, evaluation errors

    @classmethod
    def of(cls, decision: Decision) -> Outcome:
        detail = [decision.deny_code.value] if decision.deny_code else []
        detail.extend(decision.errors)
        return cls(decision.effect, decision.reasons, "; ".join(detail))


Decide = Callable[[AuthzRequest], Outcome]


@dataclass(frozen=True, slots=True)
class CaseResult:
    index: int
    case: Case
    got: Outcome
    mismatches: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.mismatches

    @property
    def ids_checked(self) -> bool:
        return self.case.policies is not None and self.got.policies is not None

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.case.name,
            "passed": self.passed,
            "expected": {"decision": self.case.expect.value, "policies": self.case.policies},
            "got": {
                "decision": self.got.effect.value,
                "policies": None if self.got.policies is None else list(self.got.policies),
                "detail": self.got.detail,
            },
            "policies_checked": self.ids_checked,
            "mismatches": list(self.mismatches),
        }


def load(text: str, *, source: str = "") -> CaseFile:
    """Parse and check a case file's text; ``CaseFileError`` says where it is wrong (in ``source``, if named)."""
    at = f"{source}: " if source else ""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise CaseFileError(f"{at}not valid YAML{where}: {problem}") from exc
    if not isinstance(data, dict):
        raise CaseFileError(f"{at}expected a mapping with a `cases` list", field="cases")
    try:
        return CaseFile.model_validate(data)
    except pydantic.ValidationError as exc:
        first = explain(exc.errors(), model=CaseFile, data=data, whole="the file")[0]
        field = first.field if first.loc else "cases"
        raise CaseFileError(f"{at}{first.message}{_case_name(data, first.loc)}", field=field) from None


def load_file(path: Path) -> CaseFile:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CaseFileError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise CaseFileError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CaseFileError(f"{path}: not UTF-8 text") from exc
    return load(text, source=str(path))


def run(cases: Sequence[Case], decide: Decide) -> list[CaseResult]:
    """Decide every case; a result lists what did not match (nothing when it passed)."""
    results: list[CaseResult] = []
    for index, case in enumerate(cases):
        got = decide(case.request())
        mismatches: list[str] = []
        if got.effect is not case.expect:
            mismatches.append(f"expected {case.expect.value}, got {got.effect.value}")
        if case.policies is not None and got.policies is not None and set(case.policies) != set(got.policies):
            mismatches.append(f"expected policies {_ids(case.policies)}, got {_ids(got.policies)}")
        results.append(CaseResult(index, case, got, tuple(mismatches)))
    return results


def schema_document() -> dict[str, Any]:
    """The JSON Schema of a case file (what ``cases.schema.json`` holds)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **CaseFile.model_json_schema(),
        "title": "Remit policy test cases",
    }


def _case_name(data: dict[str, Any], loc: Sequence[int | str]) -> str:
    """`` (case "name")`` when the error is inside a case that has a readable name."""
    if len(loc) < 2 or loc[0] != "cases" or not isinstance(loc[1], int):
        return ""
    cases = data.get("cases")
    case = cases[loc[1]] if isinstance(cases, list) and loc[1] < len(cases) else None
    name = case.get("name") if isinstance(case, dict) else None
    return f' (case "{name}")' if isinstance(name, str) and name else ""


def _ids(ids: Sequence[str]) -> str:
    return "[" + ", ".join(sorted(ids)) + "]" if ids else "none"
