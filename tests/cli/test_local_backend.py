"""The local backend wires the registry alone for a registry command, and the whole of Remit on top of it."""

from __future__ import annotations

from pathlib import Path

from remit.cli.backend import PageArgs
from remit.cli.local import LocalBackend
from remit.registry.ports import AgentFilter
from remit.settings import load_settings


def test_the_container_is_wired_on_the_registry_when_first_needed(initialised: Path, home: Path) -> None:
    backend = LocalBackend(load_settings(home=home))
    try:
        assert backend.list_agents(AgentFilter(), PageArgs())["items"] == []
        assert backend._wired is None  # a registry command: no token service, policy engine or audit log
        assert [t["name"] for t in backend.list_admin_tokens(PageArgs())["items"]] == ["bootstrap"]
        remit = backend._wired
        assert remit is not None
        # one engine, one store, one registry: the container is built on what was open
        assert remit.registry is backend._registry and remit.engine is backend._base.engine
        assert remit.store is backend._base.store and remit.clock is backend._base.clock
    finally:
        backend.close()
