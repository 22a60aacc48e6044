"""An in-memory engine over policy text that is not stored: for testing policies before they are applied.

The text is checked as ``PolicyService.apply`` would check it (parse, reserved ids, the registry's schema plus
a fragment), the extra entities as ``apply_entities`` would; nothing is written anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from remit.policy import cedar
from remit.policy.compile import RegistrySnapshot, base_schema, merge_schema
from remit.policy.engine import PolicyEngine
from remit.policy.errors import PolicyValidationError
from remit.policy.model import Mode, OnError
from remit.policy.service import GENERATED_PREFIX, _check_entities
from remit.policy.state import PolicyInputs, compile_state
from remit.registry.models import Role

EMPTY_REGISTRY = RegistrySnapshot(agents=(), users=(), roles=(), resources=())


def schema_for(snapshot: RegistrySnapshot, fragment: dict[str, Any] | None) -> dict[str, Any]:
    """The schema a write would validate against: the registry's, with the roles' actions, plus ``fragment``."""
    if fragment is not None and not isinstance(fragment, dict):
        raise PolicyValidationError("schema must be a Cedar JSON schema object")
    try:
        return merge_schema(base_schema(snapshot, _role_actions(snapshot.roles)), fragment)
    except (ValueError, TypeError, AttributeError) as exc:
        raise PolicyValidationError(f"schema: {exc}") from exc


def build_engine(
    policies: str,
    *,
    snapshot: RegistrySnapshot = EMPTY_REGISTRY,
    schema_fragment: dict[str, Any] | None = None,
    extra_entities: Any = None,
    on_error: OnError = OnError.DENY,
) -> PolicyEngine:
    """Check ``policies`` and ``extra_entities`` (a Cedar JSON entity list, as read) and compile an engine over
    them and the registry ``snapshot``.

    Raises:
        PolicySyntaxError: the text does not parse (with line and column).
        PolicyValidationError: a reserved id, a schema problem, or unreadable entities.
    """
    parsed = cedar.parse(policies)
    for policy in parsed:
        if policy.id.startswith(GENERATED_PREFIX):
            raise PolicyValidationError(
                f"policy id {policy.id!r}: ids starting with {GENERATED_PREFIX!r} are reserved for role policies"
            )
    problems = cedar.validate(parsed, schema_for(snapshot, schema_fragment)) if parsed else []
    if problems:
        head = problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
        raise PolicyValidationError(head, problems)
    # NOTE: the service's own entity check, so that a file accepted here is accepted by `remit entities apply`
    entities = _check_entities(extra_entities) if extra_entities is not None else []
    inputs = PolicyInputs(
        version=0,
        revision=0,
        mode=Mode.ENFORCE,
        on_error=on_error,
        policies=policies,
        snapshot=snapshot,
        extra_entities=entities,
    )
    return PolicyEngine(compile_state(inputs))


def _role_actions(roles: Sequence[Role]) -> list[str]:
    return [action for role in roles for perm in role.permissions for action in perm.actions]
