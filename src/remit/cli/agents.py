"""``remit agent``: register agents, list and show them, change their attributes and lifecycle status."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from remit.cli import output
from remit.cli.backend import Json, collect
from remit.cli.options import All, AsJson, Attrs, Cursor, Limit, page
from remit.cli.parsing import attributes, duration
from remit.cli.state import backend
from remit.registry.models import AgentAction, AgentStatus, RiskTier

app = typer.Typer(help="Agents: non-human identities, each with a named human owner.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="The agent's name (lowercase letters, digits, '.', '_', '-').")]
Reason = Annotated[str, typer.Option("--reason", help="Why; recorded in the audit trail.")]


def show(data: Json, as_json: bool, title: str | None = None) -> None:
    output.details(
        data,
        as_json=as_json,
        title=title or f"agent {data['name']}",
        fields=[
            ("id", data["id"]),
            ("owner", data["owner"]),
            ("status", output.status(data["status"])),
            ("status reason", data["status_reason"]),
            ("purpose", data["purpose"]),
            ("team", data["team"]),
            ("environment", data["environment"]),
            ("risk tier", data["risk_tier"]),
            ("clearance", data["clearance"]),
            ("roles", data["roles"]),
            ("attributes", data["attributes"]),
            ("created", data["created_at"]),
            ("review due", data["review_due_at"]),
            ("last seen", data["last_seen_at"]),
        ],
    )


@app.command("create")
def create(
    ctx: typer.Context,
    name: Name,
    owner: Annotated[str, typer.Option("--owner", help="User id of the accountable human (must be active).")],
    purpose: Annotated[str, typer.Option("--purpose", help="What the agent is for.")] = "",
    team: Annotated[str, typer.Option("--team")] = "",
    environment: Annotated[str, typer.Option("--environment")] = "production",
    risk_tier: Annotated[RiskTier, typer.Option("--risk-tier")] = RiskTier.MEDIUM,
    clearance: Annotated[int, typer.Option("--clearance", help="0 to 10.")] = 0,
    attr: Attrs = None,
    as_json: AsJson = False,
) -> None:
    """Register an agent."""
    from remit.api.schemas.agents import AgentCreateRequest

    req = AgentCreateRequest(
        name=name,
        owner=owner,
        purpose=purpose,
        team=team,
        environment=environment,
        risk_tier=risk_tier,
        clearance=clearance,
        attributes=attributes(attr),
    )
    show(backend(ctx).create_agent(req), as_json, title=f"registered agent {name}")


@app.command("list")
def list_(
    ctx: typer.Context,
    owner: Annotated[str | None, typer.Option("--owner", help="Only agents of this user.")] = None,
    status: Annotated[AgentStatus | None, typer.Option("--status")] = None,
    team: Annotated[str | None, typer.Option("--team")] = None,
    environment: Annotated[str | None, typer.Option("--environment")] = None,
    risk_tier: Annotated[RiskTier | None, typer.Option("--risk-tier")] = None,
    role: Annotated[str | None, typer.Option("--role", help="Only members of this role.")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
    all_: All = False,
    as_json: AsJson = False,
) -> None:
    """List agents, by name."""
    from remit.registry.ports import AgentFilter

    where = AgentFilter(owner=owner, status=status, team=team, environment=environment, risk_tier=risk_tier, role=role)
    b = backend(ctx)
    result = collect(lambda p: b.list_agents(where, p), page(limit, cursor), all_)
    output.listing(
        result,
        as_json=as_json,
        title="Agents",
        columns=["name", "owner", "status", "team", "environment", "risk", "roles"],
        row=lambda a: [
            a["name"],
            a["owner"],
            output.status(a["status"]),
            a["team"],
            a["environment"],
            a["risk_tier"],
            a["roles"],
        ],
    )


@app.command("show")
def show_(ctx: typer.Context, name: Name, as_json: AsJson = False) -> None:
    """Show one agent."""
    show(backend(ctx).get_agent(name), as_json)


@app.command("update")
def update(
    ctx: typer.Context,
    name: Name,
    owner: Annotated[str | None, typer.Option("--owner", help="Transfer to another active user.")] = None,
    purpose: Annotated[str | None, typer.Option("--purpose")] = None,
    team: Annotated[str | None, typer.Option("--team")] = None,
    environment: Annotated[str | None, typer.Option("--environment")] = None,
    risk_tier: Annotated[RiskTier | None, typer.Option("--risk-tier")] = None,
    clearance: Annotated[int | None, typer.Option("--clearance")] = None,
    attr: Attrs = None,
    unset_attr: Annotated[list[str] | None, typer.Option("--unset-attr", metavar="KEY")] = None,
    as_json: AsJson = False,
) -> None:
    """Change an agent's attributes; options not given stay as they are (--attr adds or replaces one)."""
    from remit.api.schemas.agents import AgentUpdateRequest

    b = backend(ctx)
    fields: dict[str, object] = {
        k: v
        for k, v in {
            "owner": owner,
            "purpose": purpose,
            "team": team,
            "environment": environment,
            "risk_tier": risk_tier,
            "clearance": clearance,
        }.items()
        if v is not None
    }
    if attr or unset_attr:
        merged = dict(b.get_agent(name)["attributes"])
        merged.update(attributes(attr))
        for key in unset_attr or []:
            merged.pop(key, None)
        fields["attributes"] = merged
    if not fields:
        raise typer.BadParameter("name at least one thing to change", param_hint="options")
    show(b.update_agent(name, AgentUpdateRequest.model_validate(fields)), as_json, title=f"updated agent {name}")


def _status(ctx: typer.Context, name: str, verb: AgentAction, reason: str, as_json: bool) -> None:
    from remit.api.schemas.common import StatusChangeRequest

    data = backend(ctx).change_agent_status(name, verb, StatusChangeRequest(reason=reason))
    if as_json:
        output.emit_json(data)
    else:
        output.done(f"agent {name} is now {data['status']} ({data['status_reason']})")


@app.command("suspend")
def suspend(ctx: typer.Context, name: Name, reason: Reason, as_json: AsJson = False) -> None:
    """Suspend an agent: every request it makes is refused until it is resumed."""
    _status(ctx, name, AgentAction.SUSPEND, reason, as_json)


@app.command("resume")
def resume(ctx: typer.Context, name: Name, reason: Reason, as_json: AsJson = False) -> None:
    """Make a suspended or quarantined agent active again."""
    _status(ctx, name, AgentAction.RESUME, reason, as_json)


@app.command("quarantine")
def quarantine(ctx: typer.Context, name: Name, reason: Reason, as_json: AsJson = False) -> None:
    """Quarantine an agent (a security response; only an admin lifts it)."""
    _status(ctx, name, AgentAction.QUARANTINE, reason, as_json)


@app.command("retire")
def retire(ctx: typer.Context, name: Name, reason: Reason, as_json: AsJson = False) -> None:
    """Retire an agent for good; its name and id are never reused."""
    _status(ctx, name, AgentAction.RETIRE, reason, as_json)


# -- keys (private_key_jwt) -------------------------------------------------------------------------------------

keys_app = typer.Typer(help="An agent's public keys for the token endpoint (private_key_jwt).", no_args_is_help=True)
app.add_typer(keys_app, name="key")


@keys_app.command("add")
def key_add(
    ctx: typer.Context,
    name: Name,
    jwk: Annotated[
        Path, typer.Option("--jwk", help="A file holding the public JWK (Ed25519, P-256, or RSA >= 2048 bits).")
    ],
    as_json: AsJson = False,
) -> None:
    """Register a public key: the agent signs its client assertions with the private half."""
    try:
        document = json.loads(jwk.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise typer.BadParameter(f"cannot read a JSON JWK from {jwk}: {exc}", param_hint="--jwk") from exc
    if not isinstance(document, dict):
        raise typer.BadParameter("the file must hold one JWK (a JSON object)", param_hint="--jwk")
    data = backend(ctx).add_agent_key(name, document)
    if as_json:
        output.emit_json(data)
    else:
        output.done(f"key {data['kid']} ({data['alg']}) added to agent {name}")


@keys_app.command("generate")
def key_generate(
    ctx: typer.Context,
    name: Name,
    out: Annotated[
        Path,
        typer.Option("--out", help="Where to write the private key (PEM, mode 0600); an existing file is refused."),
    ],
    alg: Annotated[str, typer.Option("--alg", help="EdDSA (Ed25519) or ES256 (P-256).")] = "EdDSA",
    as_json: AsJson = False,
) -> None:
    """Make a key pair here, write the private key to --out (mode 0600) and register the public key: what an agent
    needs for `remit token issue` or its own client assertions. The private key never leaves this machine."""
    from remit.cli.migrate import write_private
    from remit.tokens import jose  # brings cryptography: only this command needs it

    if alg not in ("EdDSA", "ES256"):
        raise typer.BadParameter("choose EdDSA or ES256", param_hint="--alg")
    key = jose.SigningKey.generate(alg)
    try:
        write_private(out, key.private_pem())
    except FileExistsError as exc:
        raise typer.BadParameter(f"{out} exists; choose another file", param_hint="--out") from exc
    except OSError as exc:
        raise typer.BadParameter(f"cannot write {out}: {exc.strerror}", param_hint="--out") from exc
    try:
        data = backend(ctx).add_agent_key(name, key.public_key.to_jwk())
    except BaseException:
        out.unlink(missing_ok=True)  # never registered: the file would only mislead
        raise
    if as_json:
        output.emit_json({**data, "private_key_file": str(out)})
    else:
        output.done(f"key {data['kid']} ({data['alg']}) added to agent {name}; its private key is in {out}")


@keys_app.command("list")
def key_list(ctx: typer.Context, name: Name, as_json: AsJson = False) -> None:
    """The agent's keys, oldest first, revoked ones included."""
    output.listing(
        backend(ctx).list_agent_keys(name),
        as_json=as_json,
        title=f"Keys of agent {name}",
        columns=["kid", "alg", "status", "created", "created by", "revoked"],
        row=lambda k: [k["kid"], k["alg"], k["status"], k["created_at"], k["created_by"], k["revoked_at"]],
    )


@keys_app.command("revoke")
def key_revoke(
    ctx: typer.Context,
    name: Name,
    kid: Annotated[str, typer.Argument(help="The key's kid (its RFC 7638 thumbprint).")],
    as_json: AsJson = False,
) -> None:
    """Revoke a key: client assertions it signs are refused from now on."""
    data = backend(ctx).revoke_agent_key(name, kid)
    if as_json:
        output.emit_json(data)
    else:
        output.done(f"key {kid} of agent {name} is revoked")


# -- client certificates (mutual TLS) ---------------------------------------------------------------------------

certs_app = typer.Typer(
    help="An agent's client certificates from Remit's CA (mutual TLS at the token endpoint).", no_args_is_help=True
)
app.add_typer(certs_app, name="cert")


@certs_app.command("issue")
def cert_issue(
    ctx: typer.Context,
    name: Name,
    csr: Annotated[Path, typer.Option("--csr", help="A file holding the agent's PEM certificate signing request.")],
    valid_for: Annotated[
        str | None, typer.Option("--valid-for", help="e.g. 24h (default: tokens.certificate_hours).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the certificate (PEM) to this file.")] = None,
    as_json: AsJson = False,
) -> None:
    """Sign a client certificate for an active agent. The agent's private key never leaves it: only its CSR."""
    from remit.api.schemas.certificates import CertificateIssueRequest
    from remit.cli.parsing import duration

    try:
        text = csr.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"cannot read {csr}: {exc}", param_hint="--csr") from exc
    seconds = int(duration(valid_for, "--valid-for").total_seconds()) if valid_for is not None else None
    data = backend(ctx).issue_agent_certificate(name, CertificateIssueRequest(csr=text, valid_for_seconds=seconds))
    if out is not None:
        out.write_text(data["certificate"], encoding="ascii")
    if as_json:
        output.emit_json(data)
    elif out is None:
        output.console().print(data["certificate"], end="", markup=False, highlight=False, soft_wrap=True)
    else:
        output.done(f"certificate {data['serial']} for agent {name}, valid until {data['not_after']}, in {out}")


@certs_app.command("list")
def cert_list(ctx: typer.Context, name: Name, as_json: AsJson = False) -> None:
    """The agent's certificates, oldest first, revoked and expired ones included."""
    output.listing(
        backend(ctx).list_agent_certificates(name),
        as_json=as_json,
        title=f"Certificates of agent {name}",
        columns=["serial", "status", "valid until", "thumbprint", "issued by", "revoked"],
        row=lambda c: [c["serial"], c["status"], c["not_after"], c["thumbprint"], c["issued_by"], c["revoked_at"]],
    )


@certs_app.command("revoke")
def cert_revoke(
    ctx: typer.Context,
    name: Name,
    serial: Annotated[str, typer.Argument(help="The certificate's serial (hex), from `remit agent cert list`.")],
    reason: Annotated[str, typer.Option("--reason", help="Why; recorded in the audit trail.")] = "",
    as_json: AsJson = False,
) -> None:
    """Revoke a certificate: it authenticates no token request from now on."""
    data = backend(ctx).revoke_agent_certificate(name, serial, reason)
    if as_json:
        output.emit_json(data)
    else:
        output.done(f"certificate {data['serial']} of agent {name} is revoked")


# -- legacy API keys (discouraged) ------------------------------------------------------------------------------

apikeys_app = typer.Typer(
    help="An agent's legacy static API keys: discouraged, always expiring, every use flagged. "
    "Move agents to a key pair with `remit keys migrate`.",
    no_args_is_help=True,
)
app.add_typer(apikeys_app, name="apikey")


@apikeys_app.command("create")
def apikey_create(
    ctx: typer.Context,
    name: Name,
    expires_in: Annotated[
        str,
        typer.Option("--expires-in", metavar="DURATION", help="Required: e.g. 30d, 2w; at most 90 days by default."),
    ],
    as_json: AsJson = False,
) -> None:
    """Mint a legacy API key for an agent. Its value is printed once; Remit keeps only an argon2id hash."""
    from remit.api.schemas.api_keys import ApiKeyCreateRequest

    req = ApiKeyCreateRequest(expires_at=datetime.now(UTC) + duration(expires_in))
    data = backend(ctx).create_api_key(name, req)
    if as_json:
        output.emit_json(data)
        return
    out = output.console()
    out.print(
        Text(
            f"minted legacy API key {data['id']} for agent {name}, expires {output.when(data['expires_at'])} "
            "- shown once, store it now:",
            style="green",
        )
    )
    out.print(Text(data["api_key"]), soft_wrap=True)
    output.note(
        f"the agent sends it as its client secret at /oauth/token (HTTP Basic user {name}); every use is flagged "
        "in the audit log. Prefer a key pair: remit keys migrate"
    )


@apikeys_app.command("list")
def apikey_list(ctx: typer.Context, name: Name, as_json: AsJson = False) -> None:
    """The agent's legacy API keys (never their values), oldest first."""
    output.listing(
        backend(ctx).list_api_keys(name),
        as_json=as_json,
        title=f"Legacy API keys of agent {name}",
        columns=["id", "status", "created", "expires", "last used", "uses", "revoked"],
        row=lambda k: [
            k["id"],
            k["status"],
            k["created_at"],
            k["expires_at"],
            k["last_used_at"],
            str(k["use_count"]),
            k["revoked_at"],
        ],
    )


@apikeys_app.command("revoke")
def apikey_revoke(
    ctx: typer.Context,
    name: Name,
    key_id: Annotated[str, typer.Argument(help="The key's id, from `remit agent apikey list`.")],
    as_json: AsJson = False,
) -> None:
    """Revoke a legacy API key: the token endpoint refuses it from now on."""
    data = backend(ctx).revoke_api_key(name, key_id)
    if as_json:
        output.emit_json(data)
    else:
        output.done(f"legacy API key {key_id} of agent {name} is revoked")


@apikeys_app.command("report")
def apikey_report(
    ctx: typer.Context,
    limit: Limit = None,
    cursor: Cursor = None,
    all_: All = False,
    as_json: AsJson = False,
) -> None:
    """Every legacy API key you may see: agent, owner, expiry, last use, use count."""
    b = backend(ctx)
    output.listing(
        collect(b.api_key_report, page(limit, cursor), all_),
        as_json=as_json,
        title="Legacy API keys",
        columns=["id", "agent", "owner", "status", "expires", "last used", "uses"],
        row=lambda k: [
            k["id"],
            k["agent"],
            k["owner"],
            k["status"],
            k["expires_at"],
            k["last_used_at"],
            str(k["use_count"]),
        ],
    )


# -- OAuth client metadata -------------------------------------------------------------------------------------

client_app = typer.Typer(help="An agent's OAuth client metadata (DPoP required, ...).", no_args_is_help=True)
app.add_typer(client_app, name="client")


def _show_client(data: Json, as_json: bool) -> None:
    output.details(
        data,
        as_json=as_json,
        title=f"client metadata of agent {data['agent']}",
        fields=[
            ("dpop bound access tokens", data["dpop_bound_access_tokens"]),
            ("jwks uri", data.get("jwks_uri") or "-"),
            ("updated", data["updated_at"]),
            ("updated by", data["updated_by"]),
        ],
    )


@client_app.command("show")
def client_show(ctx: typer.Context, name: Name, as_json: AsJson = False) -> None:
    """The agent's client metadata."""
    _show_client(backend(ctx).get_agent_client(name), as_json)


@client_app.command("set")
def client_set(
    ctx: typer.Context,
    name: Name,
    dpop: Annotated[
        bool,
        typer.Option(
            "--dpop/--no-dpop",
            help="--dpop: every token request must carry a DPoP proof, so every token is DPoP-bound (RFC 9449); "
            "--no-dpop: a proof is optional.",
        ),
    ],
    as_json: AsJson = False,
) -> None:
    """Change the agent's client metadata."""
    data = backend(ctx).set_agent_client(name, dpop_bound_access_tokens=dpop)
    if as_json:
        output.emit_json(data)
    else:
        required = "must use DPoP" if data["dpop_bound_access_tokens"] else "may use DPoP"
        output.done(f"agent {name} {required}")
