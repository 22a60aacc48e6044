"""``remit token``: agents' OAuth access tokens: issue one (as the agent, for testing), inspect one, revoke one.

Not to be confused with ``remit admin-token`` (``tokens.py``), the bearer tokens of the admin API itself.

* ``issue`` signs a ``private_key_jwt`` client assertion with the agent's private key and asks the token endpoint;
* ``inspect`` decodes a token (marked UNVERIFIED) and verifies it against Remit's signing keys, then asks
  introspection whether it is still active;
* ``revoke`` revokes a token as its agent (``--key``, RFC 7009), or as an admin or owner, by the token or by
  ``--jti`` and ``--agent``.

Every command works on the local estate in process and against a server (the global ``--url``, before or after
the command, or ``REMIT_URL``). Nothing
here prints a private key; the token's own header and claims are printed, never the agent's key.
"""

import json
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from remit.cli import output
from remit.cli.backend import Json
from remit.cli.oauth import OAuthSide, open_oauth
from remit.cli.options import AsJson
from remit.cli.state import backend, state
from remit.errors import ValidationError

if TYPE_CHECKING:
    from remit.tokens import jose

app = typer.Typer(
    help="Agents' OAuth access tokens: issue (for testing), inspect, revoke. (Admin API tokens: remit admin-token.)",
    no_args_is_help=True,
)

#: a client assertion lives this long: enough to reach the server, far below the 5-minute cap
ASSERTION_SECONDS = 60

KeyFile = Annotated[
    Path,
    typer.Option("--key", metavar="FILE", help="The agent's private key: a PEM file or a private JWK (JSON)."),
]
Kid = Annotated[
    str | None, typer.Option("--kid", help="The key's kid as registered (default: its RFC 7638 thumbprint).")
]
TokenArg = Annotated[str, typer.Argument(metavar="TOKEN", help="The access token, or - to read it from stdin.")]


@app.command("issue")
def issue(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help="The agent's name (its client_id).")],
    key: KeyFile,
    resource: Annotated[str, typer.Option("--resource", help="The audience: an absolute URI (RFC 8707).")],
    scope: Annotated[str, typer.Option("--scope", help='Space-separated action:resource items, e.g. "read:doc-1".')],
    kid: Kid = None,
    as_json: AsJson = False,
) -> None:
    """Get an access token as AGENT (for testing): client credentials with a private_key_jwt assertion signed by
    --key. Prints the token alone (with --json, the whole token response)."""
    signing = _load_key(key, kid)
    side = _open(ctx)
    body = side.token(
        {
            "grant_type": "client_credentials",
            "client_assertion_type": _assertion_type(),
            "client_assertion": _assertion(agent, signing, side.assertion_audience()),
            "resource": resource,
            "scope": scope,
        }
    )
    if as_json:
        output.emit_json(body)
        return
    typer.echo(body.get("access_token", ""))
    output.note(
        f"{body.get('token_type')} token for {agent} from {side.location}: scope {body.get('scope')!r}, "
        f"expires in {_duration(int(body.get('expires_in') or 0))}"
    )


@app.command("inspect")
def inspect(ctx: typer.Context, token: TokenArg, as_json: AsJson = False) -> None:
    """Decode a token (header and claims, UNVERIFIED), then verify it against Remit's signing keys (signature,
    issuer, expiry, claims) and ask introspection whether it is still active. Exit code 1 unless it is valid."""
    from remit.tokens import jose
    from remit.tokens.errors import JoseError, TokenError
    from remit.tokens.verify import VerifyPolicy, check_claims, verify_jws

    value = _read_token(token)
    try:
        parsed = jose.parse_compact(value)
        claims = jose.parse_json_object(parsed.payload, "claims set")
    except JoseError as exc:
        raise ValidationError(f"not a JWT: {exc.message}", field="token") from None
    header = dict(parsed.header)
    side = _open(ctx)
    lookup, issuer = side.verifier()
    now = time.time()
    policy = VerifyPolicy.access_token(issuer, _audience(claims))
    signature: str | None = None
    claims_error: str | None = None
    try:
        verify_jws(value, lookup, policy)
    except TokenError as exc:
        signature = exc.message
    try:
        check_claims(claims, header, policy, now)
    except TokenError as exc:
        claims_error = exc.message
    verified = signature is None and claims_error is None
    introspection = side.introspect(value) if verified else "not asked: the token does not verify"
    active = isinstance(introspection, dict) and introspection.get("active") is True
    expires_in = _expires_in(claims, now)
    report: Json = {
        "header": header,
        "claims": claims,
        "verified_against": side.location,
        "signature": {"valid": signature is None, "kid": header.get("kid"), "error": signature},
        "issuer": {"valid": claims.get("iss") == issuer, "expected": issuer},
        "expires_in": expires_in,
        "claims_check": {"valid": claims_error is None, "error": claims_error},
        "introspection": introspection if isinstance(introspection, dict) else {"skipped": introspection},
        "valid": verified and (active or not isinstance(introspection, dict)),
    }
    if as_json:
        output.emit_json(report)
    else:
        _show_inspection(report)
    if not verified:
        raise ValidationError(f"the token does not verify: {signature or claims_error}", field="token")
    if isinstance(introspection, dict) and not active:
        raise ValidationError("the token verifies, but it is not active: revoked, or its agent is no longer active")


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    token: Annotated[
        str | None, typer.Argument(metavar="TOKEN", help="The access token, or - to read it from stdin.")
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option("--key", metavar="FILE", help="Revoke as the agent (RFC 7009), with its private key file."),
    ] = None,
    kid: Kid = None,
    jti: Annotated[
        str | None, typer.Option("--jti", help="Revoke by jti (with --agent), as an admin or owner.")
    ] = None,
    agent: Annotated[str | None, typer.Option("--agent", help="The agent the token was issued to.")] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the audit log (admin revocation).")] = "",
    as_json: AsJson = False,
) -> None:
    """Revoke an access token: as its agent with --key (POST /oauth/revoke), or as an admin or owner, by the token
    or by --jti and --agent (POST /v1/tokens/revoke). Every server refuses it from the next request on."""
    value = _read_token(token) if token is not None else None
    if key is not None:
        if value is None:
            raise typer.BadParameter("give the token to revoke (or - to read it from stdin)", param_hint="TOKEN")
        if jti is not None:
            raise typer.BadParameter("an agent revokes the token itself; --jti is for admins", param_hint="--jti")
        _revoke_as_agent(ctx, value, _load_key(key, kid), agent, as_json)
        return
    if value is None and (jti is None or agent is None):
        raise typer.BadParameter("give the TOKEN, or --jti with --agent (or --key to revoke as the agent)")
    _revoke_as_admin(ctx, value, jti, agent, reason, as_json)


# -- revocation ----------------------------------------------------------------------------------------------


def _revoke_as_agent(
    ctx: typer.Context, token: str, signing: "jose.SigningKey", agent: str | None, as_json: bool
) -> None:
    client_id = agent or _client_id(token)
    side = _open(ctx)
    side.revoke(
        {
            "token": token,
            "token_type_hint": "access_token",
            "client_assertion_type": _assertion_type(),
            "client_assertion": _assertion(client_id, signing, side.assertion_audience()),
        }
    )
    if as_json:
        output.emit_json({"agent": client_id, "sent_to": side.location})
        return
    output.done(f"revocation accepted by {side.location} for agent {client_id}")
    output.note("the answer is the same for a token that was invalid or another agent's (RFC 7009 §2.2)")


def _revoke_as_admin(
    ctx: typer.Context,
    token: str | None,
    jti: str | None,
    agent: str | None,
    reason: str,
    as_json: bool,
) -> None:
    from remit.api.schemas.access_tokens import TokenRevokeRequest

    req = TokenRevokeRequest(token=token, jti=jti, agent=agent, reason=reason)
    data = backend(ctx).revoke_access_token(req)
    if as_json:
        output.emit_json(data)
        return
    if data["already_revoked"]:
        output.done(f"token {data['jti']} of agent {data['agent']} was already revoked")
    else:
        until = output.when(str(data["revoked_until"]))
        output.done(f"token {data['jti']} of agent {data['agent']} is revoked (kept until {until})")


# -- helpers -------------------------------------------------------------------------------------------------


def _open(ctx: typer.Context) -> OAuthSide:
    side = open_oauth(state(ctx))
    ctx.call_on_close(side.close)
    return side


def _assertion_type() -> str:
    from remit.tokens.endpoint import ASSERTION_TYPE

    return ASSERTION_TYPE


def _load_key(path: Path, kid: str | None) -> "jose.SigningKey":
    """The agent's private key from a PEM file or a private JWK; a file that is neither is a usage error."""
    from remit.tokens import jose
    from remit.tokens.errors import InvalidKey

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc.strerror or exc}", param_hint="--key") from None
    try:
        if data.lstrip().startswith(b"{"):
            document = json.loads(data)
            if not isinstance(document, dict):
                raise InvalidKey("the file must hold one JWK (a JSON object)", field="jwk")
            return jose.SigningKey.from_jwk(document, kid=kid)
        return jose.SigningKey.from_pem(data, kid=kid)
    except (InvalidKey, ValueError) as exc:
        message = exc.message if isinstance(exc, InvalidKey) else "not valid JSON"
        raise typer.BadParameter(f"{path} holds no usable private key: {message}", param_hint="--key") from None


def _assertion(agent: str, key: "jose.SigningKey", audience: str) -> str:
    """An RFC 7523 client assertion: ``iss`` and ``sub`` the agent, ``aud`` the token endpoint, one minute."""
    from remit.tokens import jose

    now = int(time.time())
    claims = {
        "iss": agent,
        "sub": agent,
        "aud": audience,
        "iat": now,
        "exp": now + ASSERTION_SECONDS,
        "jti": secrets.token_urlsafe(16),
    }
    return jose.sign_jwt(claims, key, typ="JWT")


def _read_token(value: str) -> str:
    text = sys.stdin.read() if value == "-" else value
    token = text.strip()
    if not token:
        raise typer.BadParameter("the token is empty", param_hint="TOKEN")
    return token


def _client_id(token: str) -> str:
    """The agent a token names (read without verifying: only to know whose assertion to sign)."""
    from remit.tokens import jose
    from remit.tokens.errors import JoseError

    try:
        claims = jose.parse_json_object(jose.parse_compact(token).payload, "claims set")
    except JoseError as exc:
        raise ValidationError(f"not a JWT: {exc.message}", field="token") from None
    name = claims.get("client_id") or claims.get("sub")
    if not isinstance(name, str) or not name:
        raise typer.BadParameter("the token names no client_id: pass --agent", param_hint="--agent")
    return name


def _audience(claims: Json) -> str | tuple[str, ...]:
    """The token's own ``aud`` for the verify policy (introspection answers for every audience); a placeholder
    when it has none, so that the claims check names the missing claim."""
    aud = claims.get("aud")
    if isinstance(aud, str) and aud:
        return aud
    if isinstance(aud, list) and aud and all(isinstance(a, str) and a for a in aud):
        return tuple(aud)
    return "urn:remit:no-audience"


def _expires_in(claims: Json, now: float) -> int | None:
    """The seconds left before ``exp``; None when it is no NumericDate (the claims check says why)."""
    from remit.tokens.verify import numeric_date

    exp = numeric_date(claims.get("exp"))
    return None if exp is None else int(exp - now)


def _duration(seconds: int) -> str:
    """``1h 2m 3s``, ``4m 0s``, ``12s``."""
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def _show_inspection(report: Json) -> None:
    console = output.console()
    for title, members in (("Header (UNVERIFIED)", report["header"]), ("Claims (UNVERIFIED)", report["claims"])):
        table = Table(title=title, title_justify="left", show_header=False, box=None, pad_edge=False)
        table.add_column("name", style="bold", no_wrap=True)
        table.add_column("value", overflow="fold")
        for name, value in members.items():
            table.add_row(name, _cell(name, value))
        console.print(table)
    checks = Table(
        title=f"Verification against {report['verified_against']}",
        title_justify="left",
        show_header=False,
        box=None,
        pad_edge=False,
    )
    checks.add_column("check", style="bold", no_wrap=True)
    checks.add_column("result", overflow="fold")
    signature, issuer, claims_check = report["signature"], report["issuer"], report["claims_check"]
    checks.add_row("signature", _verdict(signature["valid"], f"valid (key {signature['kid']})", signature["error"]))
    checks.add_row("issuer", _verdict(issuer["valid"], "ok", f"expected {issuer['expected']}"))
    checks.add_row("expiry", _expiry(report["expires_in"]))
    checks.add_row("claims", _verdict(claims_check["valid"], "ok", claims_check["error"]))
    introspection: dict[str, Any] = report["introspection"]
    if "skipped" in introspection:
        checks.add_row("introspection", Text(str(introspection["skipped"]), style="dim"))
    else:
        active = introspection.get("active") is True
        checks.add_row("introspection", _verdict(active, "active", "not active (revoked, or the agent is not active)"))
    console.print(checks)


def _cell(name: str, value: object) -> Text:
    """A claim for reading: NumericDate claims with their UTC time, objects as JSON, never Rich markup."""
    if name in ("iat", "exp", "nbf") and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        try:
            return Text(f"{value} ({datetime.fromtimestamp(value, UTC):%Y-%m-%d %H:%M:%SZ})")
        except (OverflowError, OSError, ValueError):
            return Text(str(value))
    if isinstance(value, dict):
        return Text(json.dumps(value))
    return output.text(value)


def _verdict(ok: bool, good: str, bad: object) -> Text:
    return Text(good, style="green") if ok else Text(str(bad or "failed"), style="red")


def _expiry(seconds: int | None) -> Text:
    if seconds is None:
        return Text("no exp claim", style="red")
    if seconds > 0:
        return Text(f"valid for {_duration(seconds)}", style="green")
    return Text(f"expired {_duration(seconds)} ago", style="red")
