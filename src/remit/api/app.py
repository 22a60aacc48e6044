"""The HTTP API application factory: ``create_app(settings)`` builds everything once; nothing at import time."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from remit import __version__
from remit.api import accesslog, problems
from remit.api.deps import page_size_in_openapi
from remit.api.limits import BodySizeLimit
from remit.api.methods import RouteTable
from remit.api.request_id import RequestIdEcho
from remit.api.routes import (
    access_tokens,
    admin,
    agent_clients,
    agent_keys,
    agents,
    api_keys,
    audit,
    authzen,
    certificates,
    health,
    home,
    keys,
    metrics,
    oauth,
    policies,
    registration,
    resources,
    roles,
    users,
)
from remit.container import Remit
from remit.policy.refresh import SERVER_GC_THRESHOLDS, settle_heap
from remit.settings import Settings


def create_app(settings: Settings, *, remit: Remit | None = None) -> FastAPI:
    """Build the app. Pass ``remit`` to share an already wired container (tests, the CLI); the app then
    leaves closing it to the caller."""
    owned = remit is None
    wired = remit or Remit.from_settings(settings, migrate_schema=settings.migrate_on_start)
    try:
        # A key-encryption key that cannot work fails here, as a clear error, not in every request or in the server's
        # start-up hook (which would print a traceback).
        wired.signing_keys.prepare()
    except BaseException:
        if owned:
            wired.close()
        raise

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Compile the policy state before the first request, then follow changes made by any server or the CLI.
        thresholds = gc.get_threshold()
        gc.set_threshold(*SERVER_GC_THRESHOLDS)
        wired.refresher.on_compiled = settle_heap
        wired.refresher.refresh(force=True)
        wired.refresher.start()
        # replays the async spool, if any, before the first request; commits on this event loop
        wired.audit_log.start(loop=asyncio.get_running_loop())
        try:
            yield
        finally:
            wired.refresher.stop()
            wired.refresher.on_compiled = None
            gc.unfreeze()  # the collector as it was (a process that goes on, such as a test run)
            gc.set_threshold(*thresholds)
            wired.audit_log.stop()
            if owned:
                wired.close()

    app = FastAPI(
        title="Remit",
        version=__version__,
        summary=(
            "Access management for AI agents: the agent registry and admin API, the policy decision point "
            "(OpenID AuthZEN), the OAuth 2.0 token service and the audit log."
        ),
        lifespan=lifespan,
        # Swagger UI and ReDoc are served by remit.api.routes.home with assets of their own, not from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.remit = wired
    build_openapi = app.openapi
    # a listing's `limit` says this deployment's maximum, the one the API enforces and its message names
    app.openapi = lambda: page_size_in_openapi(build_openapi(), settings.api.max_page_size)  # type: ignore[method-assign]
    problems.install(app)
    accesslog.install()  # uvicorn's access lines: no credential from a query string
    # The decision endpoints first: the router tries routes in order, and they carry the traffic.
    for module in (
        authzen,
        health,
        agents,
        agent_keys,
        certificates,
        api_keys,
        agent_clients,
        users,
        roles,
        resources,
        admin,
        policies,
        metrics,
        audit,
        keys,
        access_tokens,
        oauth,
        registration,
    ):
        app.include_router(module.router)
    home.install(app)
    # A 405 names every method of the path, and a literal path is never taken by a route with a parameter: the
    # guards go after the decision routes, which stay first.
    table = RouteTable(app.routes)
    app.router.routes[0:0] = [*authzen.fast_routes(), *table.guards()]
    app.state.route_table = table
    app.add_middleware(BodySizeLimit, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(RequestIdEcho)
    return app
