"""``remit serve``: run the HTTP API (uvicorn) on the estate of ``REMIT_HOME`` or ``REMIT_DATABASE_URL``."""

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from remit.cli import output
from remit.cli.state import state
from remit.errors import ConfigurationError

if TYPE_CHECKING:
    from remit.container import Remit
    from remit.settings import Settings

Host = Annotated[str | None, typer.Option("--host", help="Address to bind (default: settings, 127.0.0.1).")]
Port = Annotated[int | None, typer.Option("--port", min=1, max=65535, help="Port (default: settings, 8400).")]


def run_server(settings: "Settings", host: str, port: int, remit: "Remit | None" = None) -> None:
    """Serve the API until interrupted; open the estate unless given one (closed on the way out either way)."""
    import uvicorn

    from remit.cli.home import has_admin_token, open_estate

    try:
        from remit.api.app import create_app
    except ImportError as exc:
        raise ConfigurationError(f"the HTTP API cannot be loaded ({exc})") from exc
    if remit is None:
        remit = open_estate(settings, create=settings.migrate_on_start)
    try:
        if not has_admin_token(remit):
            output.console(err=True).print(
                Text("no admin token yet: run `remit init` to mint one, or the API refuses every call", style="yellow")
            )
        app = create_app(settings, remit=remit)
        tls = _tls_options(settings, remit)
        scheme = "https" if tls else "http"
        output.console(err=True).print(Text(f"Remit API on {scheme}://{host}:{port} (docs: /docs)", style="green"))
        uvicorn.run(app, host=host, port=port, log_level="info", factory=False, **tls)
    finally:
        remit.close()


def _tls_options(settings: "Settings", remit: "Remit") -> dict[str, Any]:
    """uvicorn's TLS options (``api.tls_*``); client certificates chain to Remit's CA unless another file is set."""
    from remit.api.tls import server_options
    from remit.errors import NotFound

    if settings.api.tls_cert_file is None:
        return {}
    try:
        ca_pem: str | None = remit.certificates.ca().certificate_pem
    except NotFound:
        ca_pem = None
    if ca_pem is None and settings.api.tls_client_ca_file is None:
        output.console(err=True).print(
            Text("no CA yet (`remit ca init`): agents' client certificates are not asked for", style="yellow")
        )
    return server_options(settings, ca_pem)


def serve(ctx: typer.Context, host: Host = None, port: Port = None) -> None:
    """Run the HTTP API server (always local: it serves this machine's REMIT_HOME or REMIT_DATABASE_URL)."""
    given = {"host": host, "port": port}
    settings = state(ctx).settings(**{k: v for k, v in given.items() if v is not None})
    run_server(settings, settings.host, settings.port)
