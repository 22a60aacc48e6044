"""Property-based API testing with schemathesis against ``/openapi.json`` of a live server.

Three kinds of generated requests, each bounded so that the suite stays fast:

* fuzzing, valid and invalid inputs: a bounded number of generated requests per operation, in each mode;
* the coverage phase: for every operation, the boundary values of each parameter and body member, and the negative
  data that breaks each constraint in turn (a missing required member, a wrong type, a value out of range, a
  string off its pattern), and every method the path does not document;
* the stateful phase: sequences of calls chained through the links schemathesis infers from the document (an
  agent created, then read, changed, suspended; a role created, then given members).

None may produce a 5xx, and every response must match the documented status codes, content type and schema. The
one check left out is ``positive_data_acceptance``: schema-valid is not always acceptable (an owner that does not
exist, a resource a permission names that is not registered, a CSR that is not PEM are documented 4xx answers).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from remit.admin.access import AdminPrincipal, AdminRole
from remit.registry.models import Permission, ResourceKind
from remit.registry.service import AgentDraft, ResourceDraft, RoleDraft, UserDraft
from tests.api.conftest import LiveServer

#: generated requests per operation and mode (fuzzing)
EXAMPLES = 15
#: the CLI's ``--max-examples``: the stateful phase's scenarios (the coverage phase generates what the schema defines)
STATEFUL_EXAMPLES = 10

#: schema-valid is not always acceptable: see the module docstring
EXCLUDED = [checks.positive_data_acceptance]


def _seed(live: LiveServer) -> None:
    """An estate for generated requests to find: a user, an agent, an MCP server with a tool, a role."""
    admin = AdminPrincipal(actor="test:setup", role=AdminRole.ADMIN)
    registry = live.remit.registry
    registry.create_user(admin, UserDraft(id="alice", email="alice@example.org"))
    registry.create_agent(admin, AgentDraft(name="bot", owner="alice"))
    registry.create_resource(admin, ResourceDraft(id="helpdesk", kind=ResourceKind.MCP_SERVER))
    registry.create_resource(admin, ResourceDraft(id="get_ticket", kind=ResourceKind.TOOL, parent="helpdesk"))
    registry.create_role(admin, RoleDraft(name="reader", permissions=(Permission(("read",), "helpdesk"),)))


@pytest.fixture
def api_schema(live: LiveServer) -> Iterator[Any]:
    _seed(live)
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    schema.config.update(base_url=live.url, headers={"Authorization": f"Bearer {live.admin_token}"})
    yield schema


# -- fuzzing ----------------------------------------------------------------------------------------------------


def _failures(schema: Any, live: LiveServer, mode: GenerationMode) -> list[str]:
    """Run every operation with generated cases; return a line per failing operation."""
    headers = {"Authorization": f"Bearer {live.admin_token}"}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, excluded_checks=EXCLUDED)

        try:
            run()
        except Unsatisfiable:
            # No invalid input exists (an operation without parameters or body): nothing to test.
            inputs = [p for p in operation.iter_parameters() if p.name != "Authorization"]
            assert mode is GenerationMode.NEGATIVE and not inputs, operation.label
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label} [{mode.value}]: {str(exc).strip()[:2000]}")
    return failures


def test_valid_requests_conform(api_schema: Any, live: LiveServer) -> None:
    failures = _failures(api_schema, live, GenerationMode.POSITIVE)
    assert not failures, "\n\n".join(failures)


def test_invalid_requests_are_refused_cleanly(api_schema: Any, live: LiveServer) -> None:
    failures = _failures(api_schema, live, GenerationMode.NEGATIVE)
    assert not failures, "\n\n".join(failures)


# -- the coverage and stateful phases, as the schemathesis CLI runs them ------------------------------------------


def test_boundaries_negative_data_and_call_sequences_conform(live: LiveServer, tmp_path: Path) -> None:
    """The coverage phase (boundary values, the negative data that breaks each constraint in turn, every method a
    path does not document) and the stateful phase (chains of calls through the links schemathesis infers), run by
    schemathesis' own engine, its CLI. Its Python runners do not fit here: the lazy pytest loader fails on pytest 9
    (``Function._nodeid``), and a state machine that Hypothesis replays against a server whose state has moved on
    is refused as flaky (``FlakyStrategyDefinition``); the CLI runs each scenario once, as a client would."""
    _seed(live)
    report = tmp_path / "schemathesis.json"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{live.url}/openapi.json",
        "--header",
        f"Authorization: Bearer {live.admin_token}",
        "--phases",
        "coverage,stateful",
        "--mode",
        "all",
        "--max-examples",
        str(STATEFUL_EXAMPLES),
        "--seed",
        "1",
        "--exclude-checks",
        ",".join(check.__name__ for check in EXCLUDED),
        "--generation-database",
        "none",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--wait-for-schema",
        "10",
        "--no-color",
    ]
    # the CLI writes its caches in its working directory: the test's own
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    output = done.stdout[-20_000:] + done.stderr[-5_000:]
    assert report.exists(), output
    result = json.loads(report.read_text(encoding="utf-8"))
    assert result["failures"] == [] and result["errors"] == [], output
    assert done.returncode == 0, output
    phases = result["phases"]
    assert (phases["coverage"]["status"], phases["stateful"]["status"]) == ("success", "success"), phases
    assert result["operations"]["tested"] == result["operations"]["total"] > 80
    assert result["test_cases"]["generated"] > 1000
