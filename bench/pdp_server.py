"""The HTTP side of ``bench/pdp.py``: Remit's app on one uvicorn worker, plus baseline routes on the same app.

Run by ``bench/pdp.py`` as a subprocess (``python bench/pdp_server.py --home DIR``); it binds 127.0.0.1 on an
ephemeral port, prints ``PORT <n>`` on stdout once it is ready to serve, and serves until terminated.

* ``POST /access/v1/evaluation``: Remit's AuthZEN endpoint, as ``remit serve`` runs it, with the audit log off
  (the container has no decision recorder; ``bench/audit.py`` measures what durable logging adds).
* ``POST /bench/raw``: the minimal endpoint: reads the same AuthZEN body, makes the same bare
  ``cedarpy.is_authorized`` call as the in-process baseline (the full policy set and the full entity set, both
  parsed once), returns ``{"decision": bool}``.
* ``POST /bench/noop``: returns a small JSON object.
* ``POST /bench/authzen-token-once`` (diagnostic, no target): the AuthZEN endpoint's own work (the same body
  checks, ``AuthZen.evaluation``, the same response) with the caller's bearer token checked once at start-up
  instead of on every request, routed after all of Remit's routers as the AuthZEN route is: the difference from
  the real endpoint is what the per-request token check costs.
* ``POST /bench/authzen-token-once-first`` (diagnostic, no target): the same, routed first.

The baselines are plain Starlette routes on Remit's FastAPI app, so they pass through the same server, event
loop and middleware as the AuthZEN endpoint. They are put first in the route list: a minimal endpoint does not
wait for the router to try a dozen others (with FastAPI's included routers that costs more than a decision).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import cedarpy
from common import serve_announcing_port
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from remit.api.app import create_app
from remit.container import Remit
from remit.policy.authzen import AuthZen, InvalidAuthZenRequest, parse_json
from remit.policy.compile import cedar_type
from remit.settings import load_settings

NOOP_BODY = b'{"decision":true}'


def build_app(home: Path, token: str) -> Any:
    settings = load_settings(home=home)
    # The audit log off (no decision recorder), as ``bench/audit_server.py --record off``: what durable logging
    # costs is measured by ``bench/audit.py``; here the decision path alone is compared with its baselines.
    remit = dataclasses.replace(Remit.from_settings(settings), decision_recorder=None)  # type: ignore[arg-type]
    remit.refresher.refresh(force=True)
    state = remit.pdp.state
    assert state is not None
    # The raw baseline's handles: every policy and every entity, parsed once.
    policy_text = json.dumps(
        {"staticPolicies": {p.id: p.est for p in state.index.policies}, "templates": {}, "templateLinks": []}
    )
    policies = cedarpy.PolicySet.from_json_str(policy_text)
    entities = cedarpy.Entities.from_json_str(json.dumps(list(state.stored.values())))

    async def noop(_request: Request) -> Response:
        return Response(NOOP_BODY, media_type="application/json")

    async def raw(request: Request) -> Response:
        body = await request.json()
        subject, resource = body["subject"], body["resource"]
        cedar_request = {
            "principal": {"type": cedar_type(subject["type"]), "id": subject["id"]},
            "action": {"type": "Action", "id": body["action"]["name"]},
            "resource": {"type": cedar_type(resource["type"]), "id": resource["id"]},
            "context": body.get("context") or {},
        }
        result = cedarpy.is_authorized(cedar_request, policies, entities)
        return JSONResponse({"decision": result.allowed})

    principal = remit.admin_tokens.authenticate(token)

    async def authzen_token_once(request: Request) -> Response:
        if request.headers.get("content-type", "").split(";", 1)[0].strip().lower() != "application/json":
            raise InvalidAuthZenRequest("send JSON", field="Content-Type")
        body = parse_json(await request.body())
        return JSONResponse(AuthZen(remit.pdp).evaluation(principal, body))

    app = create_app(settings, remit=remit)
    app.router.routes[0:0] = [
        Route("/bench/noop", noop, methods=["POST"]),
        Route("/bench/raw", raw, methods=["POST"]),
        Route("/bench/authzen-token-once-first", authzen_token_once, methods=["POST"]),
    ]
    app.add_route("/bench/authzen-token-once", authzen_token_once, methods=["POST"])  # after Remit's routers
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args()
    token = sys.stdin.readline().strip()  # the PEP token, not on the command line
    app = build_app(args.home, token)
    serve_announcing_port(app)


if __name__ == "__main__":
    main()
