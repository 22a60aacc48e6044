"""Policy administration: versioned policy sets validated on write, activation and rollback, the enforcement
mode, extra entities; and ``load`` for the engine.

Every change is a new version and a change event; nothing is edited in place.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from typing import Any

from remit.admin.access import Act, AdminPrincipal, authorize
from remit.audit.events import ChangeEvent
from remit.clock import Clock
from remit.errors import Conflict, NotFound, ValidationError
from remit.ids import new_id
from remit.paging import Page, PageRequest
from remit.policy import cedar
from remit.policy.compile import RESOURCE_TYPES, base_schema, merge_schema
from remit.policy.errors import PolicyValidationError
from remit.policy.model import Mode, OnError
from remit.policy.ports import PolicyStore, PolicyTx
from remit.policy.state import PolicyInputs, parse_entity
from remit.policy.versions import Control, EntitySet, PolicyVersion

MAX_POLICY_BYTES = 4 * 1024 * 1024
MAX_ENTITIES = 100_000
#: entity types the registry owns; extra entities may not define them
REGISTRY_TYPES = frozenset({"Agent", "User", "Role", *RESOURCE_TYPES.values()})
GENERATED_PREFIX = "role:"


@dataclass(frozen=True, slots=True)
class PolicyStatus:
    control: Control
    active: PolicyVersion | None
    entities_count: int


class PolicyService:
    def __init__(self, store: PolicyStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    # -- policy versions ----------------------------------------------------------------------------------

    def apply(
        self,
        p: AdminPrincipal,
        policies: str,
        *,
        schema_fragment: dict[str, Any] | None = None,
        on_error: OnError = OnError.DENY,
        comment: str = "",
        activate: bool = True,
    ) -> PolicyVersion:
        """Validate and store a new version (and make it the active one unless told not to)."""
        authorize(p, Act.POLICY_WRITE)
        if len(policies.encode("utf-8")) > MAX_POLICY_BYTES:
            raise ValidationError(f"policy text is larger than {MAX_POLICY_BYTES} bytes", field="policies")
        if "\x00" in policies or "\x00" in comment:
            raise ValidationError("NUL characters are not allowed", field="policies")
        parsed = cedar.parse(policies)
        for policy in parsed:
            if policy.id.startswith(GENERATED_PREFIX):
                raise ValidationError(
                    f"policy id {policy.id!r}: ids starting with {GENERATED_PREFIX!r} are reserved for role policies",
                    field="policies",
                )
        now = self._clock.now()
        with self._store.transaction() as tx:
            if parsed or schema_fragment is not None:  # an empty set with a broken schema is still refused
                self._validate(tx, parsed, schema_fragment)
            number = tx.latest_policy_version() + 1
            version = PolicyVersion(
                version=number,
                policies=policies,
                schema_fragment=schema_fragment,
                on_error=on_error,
                digest=hashlib.sha256(policies.encode("utf-8")).hexdigest(),
                comment=comment.strip()[:1000],
                created_at=now,
                created_by=p.actor,
            )
            tx.insert_policy_version(version)
            before = tx.control()
            if activate:
                tx.set_control(
                    active_policy_version=number,
                    active_entities_version=before.active_entities_version,
                    mode=before.mode,
                    at=now,
                )
            extra = {"activated": activate, "policies": len(parsed), "on_error": on_error.value}
            self._event(tx, p, "policy.apply", str(number), None, _summary(version), extra=extra)
        return version

    def validate(self, p: AdminPrincipal, policies: str, schema_fragment: dict[str, Any] | None = None) -> int:
        """Check without storing; the number of policies, or the error a write would give."""
        authorize(p, Act.POLICY_READ)
        parsed = cedar.parse(policies)
        with self._store.transaction(readonly=True) as tx:
            self._validate(tx, parsed, schema_fragment)
        return len(parsed)

    def schema(self, p: AdminPrincipal, schema_fragment: dict[str, Any] | None = None) -> dict[str, Any]:
        """The Cedar JSON schema policies are validated against: the registry's, plus a fragment."""
        authorize(p, Act.POLICY_READ)
        with self._store.transaction(readonly=True) as tx:
            return self._schema(tx, schema_fragment)

    def _schema(self, tx: PolicyTx, fragment: dict[str, Any] | None) -> dict[str, Any]:
        snapshot = tx.snapshot()
        role_actions = [a for role in snapshot.roles for perm in role.permissions for a in perm.actions]
        try:
            return merge_schema(base_schema(snapshot, role_actions), fragment)
        except (ValueError, TypeError, AttributeError) as exc:
            raise PolicyValidationError(f"schema: {exc}") from exc

    def _validate(self, tx: PolicyTx, parsed: list[cedar.ParsedPolicy], fragment: dict[str, Any] | None) -> None:
        if fragment is not None and not isinstance(fragment, dict):
            raise PolicyValidationError("schema must be a Cedar JSON schema object")
        problems = cedar.validate(parsed, self._schema(tx, fragment))
        if problems:
            head = problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
            raise PolicyValidationError(head, problems)

    def get(self, p: AdminPrincipal, version: int | None = None) -> PolicyVersion:
        """A version, or the active one."""
        authorize(p, Act.POLICY_READ)
        with self._store.transaction(readonly=True) as tx:
            number = version if version is not None else tx.control().active_policy_version
            found = tx.get_policy_version(number) if number else None
            if found is None:
                raise NotFound("no such policy version" if version is not None else "no policy version is active")
            return found

    def list(self, p: AdminPrincipal, page: PageRequest) -> Page[PolicyVersion]:
        authorize(p, Act.POLICY_READ)
        with self._store.transaction(readonly=True) as tx:
            return tx.list_policy_versions(page)

    def status(self, p: AdminPrincipal) -> PolicyStatus:
        authorize(p, Act.POLICY_READ)
        with self._store.transaction(readonly=True) as tx:
            control = tx.control()
            active = tx.get_policy_version(control.active_policy_version) if control.active_policy_version else None
            entity_set = tx.get_entity_set(control.active_entities_version) if control.active_entities_version else None
            return PolicyStatus(control, active, len(entity_set.entities) if entity_set else 0)

    def diff(self, p: AdminPrincipal, old: int, new: int | None = None) -> str:
        """A unified diff of two versions' policy text (``new`` defaults to the active one)."""
        a = self.get(p, old)
        b = self.get(p, new)
        lines = difflib.unified_diff(
            a.policies.splitlines(keepends=True),
            b.policies.splitlines(keepends=True),
            fromfile=f"version {a.version}",
            tofile=f"version {b.version}",
        )
        return "".join(lines)

    def activate(self, p: AdminPrincipal, version: int, *, reason: str = "") -> Control:
        authorize(p, Act.POLICY_WRITE)
        with self._store.transaction() as tx:
            if tx.get_policy_version(version) is None:
                raise NotFound("no such policy version", field="version")
            before = tx.control()
            if before.active_policy_version == version:
                return before
            after = tx.set_control(
                active_policy_version=version,
                active_entities_version=before.active_entities_version,
                mode=before.mode,
                at=self._clock.now(),
            )
            self._event(tx, p, "policy.activate", str(version), _control(before), _control(after), reason=reason)
            return after

    def rollback(self, p: AdminPrincipal, to: int | None = None, *, reason: str = "") -> Control:
        """Activate ``to``, or the newest version older than the active one."""
        authorize(p, Act.POLICY_WRITE)
        with self._store.transaction(readonly=True) as tx:
            active = tx.control().active_policy_version
            target = to
            if target is None:
                if not active or active <= 1:
                    raise Conflict("there is no earlier policy version to roll back to")
                target = active - 1
        return self.activate(p, target, reason=reason or "rollback")

    def set_mode(self, p: AdminPrincipal, mode: Mode, *, reason: str) -> Control:
        """Enforce or log-only. Its own permission; always recorded with the reason."""
        authorize(p, Act.POLICY_MODE)
        if not reason.strip():
            raise ValidationError("switching the enforcement mode needs a reason", field="reason")
        with self._store.transaction() as tx:
            before = tx.control()
            if before.mode is mode:
                return before
            after = tx.set_control(
                active_policy_version=before.active_policy_version,
                active_entities_version=before.active_entities_version,
                mode=mode,
                at=self._clock.now(),
            )
            self._event(tx, p, "policy.mode", mode.value, _control(before), _control(after), reason=reason.strip())
            return after

    # -- extra entities -----------------------------------------------------------------------------------

    def apply_entities(self, p: AdminPrincipal, items: Any, *, comment: str = "") -> EntitySet:
        """Replace the extra entities (Cedar JSON entity format) with a new version."""
        authorize(p, Act.POLICY_WRITE)
        entities = _check_entities(items)
        now = self._clock.now()
        with self._store.transaction() as tx:
            number = tx.latest_entity_set() + 1
            entity_set = EntitySet(number, entities, comment.strip()[:1000], now, p.actor)
            tx.insert_entity_set(entity_set)
            before = tx.control()
            tx.set_control(
                active_policy_version=before.active_policy_version,
                active_entities_version=number,
                mode=before.mode,
                at=now,
            )
            self._event(tx, p, "entities.apply", str(number), None, {"version": number, "count": len(entities)})
            return entity_set

    def entities(self, p: AdminPrincipal) -> EntitySet | None:
        authorize(p, Act.POLICY_READ)
        with self._store.transaction(readonly=True) as tx:
            version = tx.control().active_entities_version
            return tx.get_entity_set(version) if version else None

    # -- for the engine -----------------------------------------------------------------------------------

    def revision(self) -> int:
        with self._store.transaction(readonly=True) as tx:
            return tx.revision()

    def load(self) -> PolicyInputs:
        """Everything the engine compiles, read in one transaction (a consistent view)."""
        with self._store.transaction(readonly=True) as tx:
            control = tx.control()
            version = tx.get_policy_version(control.active_policy_version) if control.active_policy_version else None
            entity_set = tx.get_entity_set(control.active_entities_version) if control.active_entities_version else None
            return PolicyInputs(
                version=version.version if version else 0,
                revision=control.revision,
                mode=control.mode,
                on_error=version.on_error if version else OnError.DENY,
                policies=version.policies if version else "",
                snapshot=tx.snapshot(),
                extra_entities=entity_set.entities if entity_set else (),
                schema_fragment=version.schema_fragment if version else None,
            )

    def _event(
        self,
        tx: PolicyTx,
        p: AdminPrincipal,
        action: str,
        target_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        *,
        reason: str = "",
        extra: dict[str, Any] | None = None,
    ) -> None:
        tx.add_event(
            ChangeEvent(
                id=new_id("evt"),
                at=self._clock.now(),
                actor=p.actor,
                action=action,
                target_type="policy",
                target_id=target_id,
                before=before,
                after=after,
                reason=reason,
                extra=extra or {},
            )
        )


def _summary(v: PolicyVersion) -> dict[str, Any]:
    return {"version": v.version, "digest": v.digest, "comment": v.comment, "on_error": v.on_error.value}


def _control(c: Control) -> dict[str, Any]:
    return {
        "active_policy_version": c.active_policy_version,
        "active_entities_version": c.active_entities_version,
        "mode": c.mode.value,
    }


def _check_entities(items: Any) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        raise PolicyValidationError("entities must be a JSON array in Cedar's entity format", field="entities")
    if len(items) > MAX_ENTITIES:
        raise PolicyValidationError(f"at most {MAX_ENTITIES} entities", field="entities")
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(items):
        where = f"entities[{i}]"
        try:
            entity = parse_entity(item)
        except (KeyError, TypeError, AttributeError) as exc:
            raise PolicyValidationError(f"{where}: needs uid {{type, id}}, attrs and parents", field=where) from exc
        if entity.uid.type in REGISTRY_TYPES:
            raise PolicyValidationError(
                f"{where}: {entity.uid.type} entities come from the registry; register them there instead",
                field=where,
            )
        if (entity.uid.type, entity.uid.id) in seen:
            raise PolicyValidationError(f"{where}: {entity.uid} appears twice", field=where)
        seen.add((entity.uid.type, entity.uid.id))
    cedar.check_entities(items)
    return items
