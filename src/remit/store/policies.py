"""SQL for policy versions, entity sets, the control row and the registry snapshot (mixed into ``SqlTx``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from remit.paging import Page, PageRequest
from remit.policy.compile import RegistrySnapshot
from remit.policy.model import Mode, OnError
from remit.policy.versions import Control, EntitySet, PolicyVersion
from remit.registry.models import Agent, Resource, Role, User
from remit.store.tables import ControlRow, EntitySetRow, PolicyVersionRow

CONTROL_ID = 1


class PolicyQueries:
    s: Session

    # -- implemented by SqlTx --
    def _all_agents(self) -> list[Agent]:  # pragma: no cover
        raise NotImplementedError

    def _all_users(self) -> list[User]:  # pragma: no cover
        raise NotImplementedError

    def _all_roles(self) -> list[Role]:  # pragma: no cover
        raise NotImplementedError

    def _all_resources(self) -> list[Resource]:  # pragma: no cover
        raise NotImplementedError

    def snapshot(self) -> RegistrySnapshot:
        return RegistrySnapshot(
            agents=self._all_agents(),
            users=self._all_users(),
            roles=self._all_roles(),
            resources=self._all_resources(),
        )

    def _control_row(self) -> ControlRow:
        row = self.s.get(ControlRow, CONTROL_ID)
        if row is None:  # the migration creates it; a truncated test database may not have it
            row = ControlRow(id=CONTROL_ID, revision=0, mode=Mode.ENFORCE.value, updated_at=datetime.now(UTC))
            self.s.add(row)
            self.s.flush()
        return row

    def control(self) -> Control:
        return _control(self._control_row())

    def revision(self) -> int:
        value = self.s.scalar(select(ControlRow.revision).where(ControlRow.id == CONTROL_ID))
        return int(value or 0)

    def bump(self) -> None:
        self._control_row()
        self.s.execute(update(ControlRow).where(ControlRow.id == CONTROL_ID).values(revision=ControlRow.revision + 1))

    def set_control(
        self, *, active_policy_version: int | None, active_entities_version: int | None, mode: Mode, at: datetime
    ) -> Control:
        row = self._control_row()
        row.active_policy_version = active_policy_version
        row.active_entities_version = active_entities_version
        row.mode = mode.value
        row.updated_at = at
        self.s.flush()
        self.bump()
        self.s.refresh(row)
        return _control(row)

    def insert_policy_version(self, version: PolicyVersion) -> None:
        self.s.add(
            PolicyVersionRow(
                version=version.version,
                policies=version.policies,
                schema_fragment=version.schema_fragment,
                on_error=version.on_error.value,
                digest=version.digest,
                comment=version.comment,
                created_at=version.created_at,
                created_by=version.created_by,
            )
        )
        self.s.flush()

    def get_policy_version(self, version: int) -> PolicyVersion | None:
        row = self.s.get(PolicyVersionRow, version)
        return None if row is None else _version(row)

    def latest_policy_version(self) -> int:
        return int(self.s.scalar(select(func.max(PolicyVersionRow.version))) or 0)

    def list_policy_versions(self, page: PageRequest) -> Page[PolicyVersion]:
        """Newest first."""
        q = select(PolicyVersionRow)
        if page.after is not None:
            q = q.where(PolicyVersionRow.version < int(page.after))
        rows = list(self.s.scalars(q.order_by(PolicyVersionRow.version.desc()).limit(page.limit + 1)).all())
        nxt = str(rows[page.limit - 1].version) if len(rows) > page.limit else None
        return Page(items=tuple(_version(r) for r in rows[: page.limit]), next_after=nxt)

    def insert_entity_set(self, entity_set: EntitySet) -> None:
        self.s.add(
            EntitySetRow(
                version=entity_set.version,
                entities={"entities": entity_set.entities},
                comment=entity_set.comment,
                created_at=entity_set.created_at,
                created_by=entity_set.created_by,
            )
        )
        self.s.flush()

    def get_entity_set(self, version: int) -> EntitySet | None:
        row = self.s.get(EntitySetRow, version)
        if row is None:
            return None
        items: list[dict[str, Any]] = list(row.entities.get("entities", []))
        return EntitySet(row.version, items, row.comment, row.created_at, row.created_by)

    def latest_entity_set(self) -> int:
        return int(self.s.scalar(select(func.max(EntitySetRow.version))) or 0)


def _control(row: ControlRow) -> Control:
    return Control(
        revision=row.revision,
        active_policy_version=row.active_policy_version,
        active_entities_version=row.active_entities_version,
        mode=Mode(row.mode),
        updated_at=row.updated_at,
    )


def _version(row: PolicyVersionRow) -> PolicyVersion:
    return PolicyVersion(
        version=row.version,
        policies=row.policies,
        schema_fragment=row.schema_fragment,
        on_error=OnError(row.on_error),
        digest=row.digest,
        comment=row.comment,
        created_at=row.created_at,
        created_by=row.created_by,
    )
