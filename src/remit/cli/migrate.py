"""``remit keys migrate``: walk an owner's agents off legacy static API keys onto a key pair (``private_key_jwt``).

For each of the owner's agents that still holds unrevoked legacy keys: make an Ed25519 key pair here, write the
private half to ``<out>/<agent>.pem`` (mode 0600, never sent anywhere), register the public half as an agent key,
then revoke the legacy keys. Works locally and against a server (``--url``), as an admin or as the owner.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from remit.cli import output
from remit.cli.backend import Backend, Json, PageArgs, collect
from remit.cli.options import AsJson
from remit.cli.state import backend
from remit.errors import RemitError, ValidationError

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(slots=True)
class Step:
    """One agent to migrate, and what became of it."""

    agent: str
    status: str
    legacy: list[Json]  #: its unrevoked legacy keys
    key_file: Path
    kid: str | None = None
    revoked: list[str] = field(default_factory=list)
    error: str | None = None

    def report(self) -> Json:
        return {
            "agent": self.agent,
            "legacy_keys": [k["id"] for k in self.legacy],
            "revoked": self.revoked,
            "kid": self.kid,
            "private_key_file": str(self.key_file) if self.kid else None,
            "error": self.error,
        }


def migrate(
    ctx: typer.Context,
    owner: Annotated[str, typer.Option("--owner", help="The user whose agents to migrate.")],
    out: Annotated[
        Path, typer.Option("--out", help="Where the private keys are written (created with mode 0700).")
    ] = Path("remit-keys"),
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Migrate every agent without asking.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be done; change nothing.")] = False,
    as_json: AsJson = False,
) -> None:
    """Move an owner's agents from legacy API keys to a key pair (private_key_jwt), and revoke the legacy keys."""
    b = backend(ctx)
    b.get_user(owner)  # an unknown owner is an error, not an empty plan
    plan = _plan(b, owner, out)
    if not plan:
        if as_json:
            output.emit_json([])
        else:
            output.note(f"no agent of {owner} holds an unrevoked legacy API key: nothing to migrate")
        return
    if not as_json or dry_run:
        _show(plan, dry_run=dry_run, as_json=as_json)
    if dry_run:
        return
    chosen = [s for s in plan if yes or typer.confirm(f"Migrate agent {s.agent}?", default=False)]
    taken = [s.key_file for s in chosen if s.key_file.exists()]
    if taken:
        raise ValidationError(f"{taken[0]} exists: move it away or choose another --out", field="out")
    if chosen:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
        _run(b, chosen)
    if as_json:
        output.emit_json([s.report() for s in chosen])
    else:
        _tell(chosen)
    if any(s.error for s in chosen):
        raise typer.Exit(1)


def _plan(b: Backend, owner: str, out: Path) -> list[Step]:
    from remit.registry.ports import AgentFilter

    agents = collect(lambda p: b.list_agents(AgentFilter(owner=owner), p), PageArgs(), True)["items"]
    plan: list[Step] = []
    for agent in agents:
        legacy = [k for k in b.list_api_keys(agent["name"])["items"] if k["revoked_at"] is None]
        if legacy:
            plan.append(Step(agent["name"], agent["status"], legacy, out / f"{agent['name']}.pem"))
    return plan


def _show(plan: list[Step], *, dry_run: bool, as_json: bool) -> None:
    if as_json:  # a dry run with --json: the plan
        output.emit_json([{**s.report(), "private_key_file": str(s.key_file)} for s in plan])
        return
    table = Table(title=f"Agents to migrate ({len(plan)})", title_justify="left", header_style="bold")
    for name in ("agent", "status", "legacy keys", "uses", "last used", "private key file"):
        table.add_column(name, overflow="fold")
    for s in plan:
        last = max((str(k["last_used_at"]) for k in s.legacy if k["last_used_at"]), default=None)
        uses = sum(int(k["use_count"]) for k in s.legacy)
        ids = ", ".join(k["id"] for k in s.legacy)
        table.add_row(s.agent, output.status(s.status), ids, str(uses), output.text(last), str(s.key_file))
    output.console().print(table)
    if dry_run:
        output.note("dry run: nothing was changed")


def _run(b: Backend, steps: list[Step]) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from remit.tokens import jose  # brings cryptography: only this command needs it

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=output.console(err=True), transient=True) as progress:
        task = progress.add_task("migrating", total=len(steps))
        for s in steps:
            progress.update(task, description=f"agent {s.agent}")
            try:
                key = jose.SigningKey.generate("EdDSA")
                write_private(s.key_file, key.private_pem())
                try:
                    s.kid = str(b.add_agent_key(s.agent, key.public_key.to_jwk())["kid"])
                except BaseException:
                    s.key_file.unlink(missing_ok=True)  # never registered: the file would only mislead
                    raise
                for legacy in s.legacy:
                    b.revoke_api_key(s.agent, legacy["id"])
                    s.revoked.append(legacy["id"])
            except (RemitError, OSError) as exc:
                s.error = getattr(exc, "message", None) or str(exc)
            progress.advance(task)


def write_private(path: Path, pem: bytes) -> None:
    """Create ``path`` with mode 0600 (never over an existing file), holding the private key."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


def _tell(steps: list[Step]) -> None:
    out = output.console()
    for s in steps:
        if s.error is not None:
            done = f" (legacy keys revoked: {', '.join(s.revoked)})" if s.revoked else ""
            out.print(Text(f"agent {s.agent}: failed: {s.error}{done}", style="red"))
            continue
        out.print(Text(f"agent {s.agent}: migrated; legacy keys revoked: {', '.join(s.revoked)}", style="green"))
        out.print(Text(_instructions(s), style=""), soft_wrap=True)


def _instructions(s: Step) -> str:
    lines: list[Any] = [
        "  The agent must now authenticate with private_key_jwt (RFC 7523) instead of its API key:",
        f"  - private key: {s.key_file} (Ed25519, alg EdDSA; keep it secret, mode 0600)",
        f"  - sign each client assertion with header kid {s.kid}, claims iss = sub = {s.agent}, "
        "aud = the token endpoint (<issuer>/oauth/token), a fresh jti, exp at most 5 minutes away",
        f"  - send client_assertion_type={ASSERTION_TYPE} and client_assertion=<the JWT> to /oauth/token, "
        "and no client secret",
        f"  Or, for mutual TLS, issue it a client certificate from the agent's own key: remit agent cert issue "
        f"{s.agent} --csr FILE",
    ]
    return "\n".join(lines)
