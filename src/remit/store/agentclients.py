"""Agents' OAuth client metadata: ``agent_clients`` rows, in the registry store's transactions."""

from __future__ import annotations

from remit.store.scoped import ScopedStore, ScopedTx
from remit.store.tables import AgentClientRow
from remit.tokens.clients import AgentClient


class AgentClientTx(ScopedTx):
    """The client metadata queries of one transaction."""

    def get(self, agent: str) -> AgentClient | None:
        row = self._s.get(AgentClientRow, agent)
        if row is None:
            return None
        return AgentClient(
            agent=row.agent,
            dpop_bound_access_tokens=row.dpop_bound_access_tokens,
            jwks_uri=row.jwks_uri,
            updated_at=row.updated_at,
            updated_by=row.updated_by,
        )

    def put(self, client: AgentClient) -> None:
        """Insert or replace the agent's row."""
        if client.updated_at is None or client.updated_by is None:
            raise ValueError("a stored client records when and by whom it was changed")
        row = self._s.get(AgentClientRow, client.agent)
        if row is None:
            row = AgentClientRow(agent=client.agent)
            self._s.add(row)
        row.dpop_bound_access_tokens = client.dpop_bound_access_tokens
        row.jwks_uri = client.jwks_uri
        row.updated_at = client.updated_at
        row.updated_by = client.updated_by
        self._s.flush()


class AgentClientStore(ScopedStore[AgentClientTx]):
    """``agent_clients`` over the registry's ``SqlStore``."""

    scope = AgentClientTx
