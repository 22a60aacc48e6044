"""The server's front door: ``GET /`` points to what is here, and the API docs are served with their own assets.

Swagger UI and ReDoc are FastAPI's own pages (``fastapi.openapi.docs``), given script and style sheet URLs on this
server instead of a CDN: deployments often have no way out to the internet. The assets come from the
``fastapi-offline`` package, which ships them and nothing else we use.
"""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from remit import __version__

DOCS = "/docs"
REDOC = "/redoc"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
#: where the Swagger UI and ReDoc scripts, style sheet and icon are served from
ASSETS = "/docs/assets"

#: what ``GET /`` points to: (name, path, what it is)
LINKS: tuple[tuple[str, str, str], ...] = (
    ("docs", DOCS, "the API, interactive (Swagger UI)"),
    ("redoc", REDOC, "the API, to read (ReDoc)"),
    ("openapi", "/openapi.json", "the OpenAPI document"),
    ("authzen_configuration", "/.well-known/authzen-configuration", "AuthZEN policy decision point metadata"),
    ("oauth_authorization_server", "/.well-known/oauth-authorization-server", "OAuth 2.0 server metadata"),
    ("jwks", "/.well-known/jwks.json", "the token signing keys"),
    ("health", "/healthz", "liveness"),
    ("ready", "/readyz", "readiness: the store answers"),
)

router = APIRouter(include_in_schema=False)


def asset_directory() -> Path:
    """The folder of Swagger UI's and ReDoc's files inside the installed ``fastapi-offline`` package."""
    return Path(str(resources.files("fastapi_offline") / "static"))


def install(app: FastAPI) -> None:
    """Serve the docs' assets and add the front-door routes."""
    app.mount(ASSETS, StaticFiles(directory=asset_directory()), name="docs-assets")
    app.include_router(router)


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept


@router.get("/", response_model=None)
def index(request: Request) -> JSONResponse | HTMLResponse:
    """What this server is and where to go next: JSON, or a small page for a browser."""
    root = request.scope.get("root_path", "")
    if not _wants_html(request):
        return JSONResponse(
            {
                "name": "Remit",
                "version": __version__,
                "description": "Access management for AI agents",
                "links": {name: f"{root}{path}" for name, path, _ in LINKS},
            }
        )
    items = "\n".join(
        f'    <li><a href="{html.escape(root + path)}">{html.escape(path)}</a>: {html.escape(what)}</li>'
        for _, path, what in LINKS
    )
    page = (
        '<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8"><title>Remit</title></head>\n<body>\n'
        f"  <h1>Remit {html.escape(__version__)}</h1>\n  <p>Access management for AI agents.</p>\n"
        f"  <ul>\n{items}\n  </ul>\n</body>\n</html>\n"
    )
    return HTMLResponse(page)


@router.get(DOCS)
def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=f"{root}/openapi.json",
        title="Remit API",
        oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT}",
        swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
    )


@router.get(OAUTH2_REDIRECT)
def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get(REDOC)
def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_redoc_html(
        openapi_url=f"{root}/openapi.json",
        title="Remit API",
        redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
        with_google_fonts=False,
    )
