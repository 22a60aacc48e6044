"""A real Remit HTTP server on 127.0.0.1 (uvicorn in a thread) over the store under test, and clients for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from remit.admin.access import AdminPrincipal, AdminRole
from remit.api.app import create_app
from remit.container import Remit
from remit.registry.service import UserDraft
from tests.servers import uvicorn_serving


@dataclass
class LiveServer:
    url: str
    remit: Remit
    admin_token: str

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


@pytest.fixture
def live(remit: Remit) -> Iterator[LiveServer]:
    """uvicorn serving ``create_app`` on an ephemeral loopback port; stopped after the test."""
    with serve(remit) as server:
        yield server


@contextmanager
def serve(remit: Remit) -> Iterator[LiveServer]:
    """Serve ``remit`` until the block ends (the ``live`` fixture; longer-lived servers use it directly)."""
    with uvicorn_serving(create_app(remit.settings, remit=remit), lifespan="on") as port:
        _, secret = remit.admin_tokens.bootstrap("test:setup")
        yield LiveServer(url=f"http://127.0.0.1:{port}", remit=remit, admin_token=secret)


@pytest.fixture
def admin_client(live: LiveServer) -> Iterator[httpx.Client]:
    with live.client(live.admin_token) as client:
        yield client


TokenFactory = Callable[..., str]


@pytest.fixture
def mint(live: LiveServer) -> TokenFactory:
    """``mint(AdminRole.OWNER, user_id="alice")`` -> a bearer value for a new admin token."""

    def _mint(role: AdminRole, user_id: str | None = None) -> str:
        admin = AdminPrincipal(actor="test:setup", role=AdminRole.ADMIN)
        _, secret = live.remit.admin_tokens.create(admin, name=f"{role.value} for tests", role=role, user_id=user_id)
        return secret

    return _mint


@pytest.fixture
def users(live: LiveServer) -> list[str]:
    """Two active owners, alice and bob."""
    admin = AdminPrincipal(actor="test:setup", role=AdminRole.ADMIN)
    for uid in ("alice", "bob"):
        live.remit.registry.create_user(admin, UserDraft(id=uid, email=f"{uid}@example.org", display_name=uid.title()))
    return ["alice", "bob"]
