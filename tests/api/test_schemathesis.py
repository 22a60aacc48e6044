"""Property-based API testing with schemathesis against ``/openapi.json`` of a live server.

Each operation gets a bounded number of generated requests, valid and invalid. None may produce a 5xx,
and every response must match the documented status codes, content type and schema.
"""

from __future__ import annotations

from collections.abc import Iterator
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


@pytest.fixture
def api_schema(live: LiveServer) -> Iterator[Any]:
    admin = AdminPrincipal(actor="test:setup", role=AdminRole.ADMIN)
    registry = live.remit.registry
    registry.create_user(admin, UserDraft(id="alice", email="alice@example.org"))
    registry.create_agent(admin, AgentDraft(name="bot", owner="alice"))
    registry.create_resource(admin, ResourceDraft(id="helpdesk", kind=ResourceKind.MCP_SERVER))
    registry.create_resource(admin, ResourceDraft(id="get_ticket", kind=ResourceKind.TOOL, parent="helpdesk"))
    registry.create_role(admin, RoleDraft(name="reader", permissions=(Permission(("read",), "helpdesk"),)))
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    schema.config.update(base_url=live.url, headers={"Authorization": f"Bearer {live.admin_token}"})
    yield schema


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
            # Schema-valid is not always acceptable: an owner that does not exist is a documented 422.
            case.call_and_validate(headers=headers, excluded_checks=[checks.positive_data_acceptance])

        try:
            run()
        except Unsatisfiable:
            # No invalid input exists (an operation without parameters or body): nothing to test.
            inputs = [p for p in operation.iter_parameters() if p.name != "Authorization"]
            assert mode is GenerationMode.NEGATIVE and not inputs, operation.label
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label} [{mode.value}]: {str(exc).strip()[:2000]}")
    return failures


EXAMPLES = 15


def test_valid_requests_conform(api_schema: Any, live: LiveServer) -> None:
    failures = _failures(api_schema, live, GenerationMode.POSITIVE)
    assert not failures, "\n\n".join(failures)


def test_invalid_requests_are_refused_cleanly(api_schema: Any, live: LiveServer) -> None:
    failures = _failures(api_schema, live, GenerationMode.NEGATIVE)
    assert not failures, "\n\n".join(failures)
