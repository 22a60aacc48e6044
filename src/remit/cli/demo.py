"""``remit demo``: a fresh local estate with realistic data, a server on it, and what to try next."""

import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel
from rich.text import Text

from remit.cli import output
from remit.cli.serve import Host, Port, run_server
from remit.cli.state import state

TOKEN_FILE = "admin-token"  # noqa: S105 - a file name
DEFAULT_HOME = Path(".remit")


def _next_steps(home: Path, host: str, port: int, token_file: Path, serving: bool, agent: str) -> Text:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - naming, not binding
    url = f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"
    token = f"$(cat {shlex.quote(str(token_file))})"
    env_home = "" if home == DEFAULT_HOME else f"REMIT_HOME={shlex.quote(str(home))} "
    lines = [
        ("The API" + ("" if serving else " (start it with `remit serve`)"), ""),
        ("  ", f'curl -H "Authorization: Bearer {token}" {url}/v1/agents'),
        ("  OpenAPI docs: ", f"{url}/docs"),
        ("The CLI against the server", ""),
        ("  ", f"REMIT_URL={url} REMIT_TOKEN={token} remit agent list"),
        ("The CLI on the local estate directly", ""),
        ("  ", f"{env_home}remit agent show {agent}"),
        ("  ", f"{env_home}remit role show ticket-queue-reader"),
        ("  ", f"{env_home}remit agent list --status quarantined"),
        ("  ", f"{env_home}remit agent suspend refund-processor --reason 'trying it out'"),
        ("  ", f"{env_home}remit events --target-id refund-processor"),
    ]
    body = Text()
    for label, command in lines:
        body.append(label, style="bold" if not label.startswith(" ") else "")
        body.append(command + "\n", style="cyan")
    return body


def demo(
    ctx: typer.Context,
    host: Host = None,
    port: Port = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Set up and seed, but do not start the server.")] = False,
) -> None:
    """Set up a demo estate in REMIT_HOME (default ./.remit): owners, apps, MCP tools, roles, a dozen agents; serve it.

    Seeds only a database without agents; writes the admin token to <home>/admin-token (mode 0600).
    """
    from remit.cli.home import bootstrap_token, has_admin_token, local_principal, open_estate
    from remit.demo.estate import SUMMARISER, has_agents, seed

    given = {"host": host, "port": port}
    settings = state(ctx).settings(**{k: v for k, v in given.items() if v is not None})
    host, port = settings.host, settings.port
    remit = open_estate(settings, create=True)
    out = output.console()
    token_file = settings.home / TOKEN_FILE
    try:
        principal = local_principal()
        if not has_admin_token(remit):
            bootstrap_token(remit, name="demo", file=token_file)
            out.print(Text(f"initialised {settings.home}; admin token written to {token_file} (mode 0600)"))
        elif not token_file.is_file():
            out.print(Text(f"{settings.home} has admin tokens already; use yours where {token_file} is named below"))
        if has_agents(remit, principal):
            out.print(Text(f"{settings.home} already holds agents; not seeding again", style="yellow"))
        else:
            s = seed(remit, principal)
            out.print(
                Text(
                    f"seeded {s.agents} agents, {s.users} users, {s.roles} roles and {s.resources} resources "
                    f"(suspended: {', '.join(s.suspended)}; quarantined: {', '.join(s.quarantined)})",
                    style="green",
                )
            )
        steps = _next_steps(settings.home, host, port, token_file, not no_serve, SUMMARISER)
        width = max(out.width, max(len(line) for line in steps.plain.splitlines()) + 4)
        out.print(Panel(steps, title="Try next", expand=False), width=width)
    except BaseException:
        remit.close()
        raise
    if no_serve:
        remit.close()
        return
    run_server(settings, host, port, remit=remit)
