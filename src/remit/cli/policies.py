"""``remit policy``: versioned Cedar policy sets: apply, validate, list, show, diff, activate, roll back, the
enforcement mode, the schema; and ``remit policy test`` (in ``policy_test.py``)."""

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from remit.cli import output, policy_test
from remit.cli.backend import Json, collect
from remit.cli.options import All, AsJson, Cursor, Limit, page
from remit.cli.sources import PolicySource, read_policies, read_schema
from remit.cli.state import backend
from remit.policy.errors import PolicySyntaxError
from remit.policy.model import Mode, OnError

app = typer.Typer(
    help="Cedar policy sets: every change is a new version; activate, roll back, test.", no_args_is_help=True
)

PolicyPaths = Annotated[
    list[Path],
    typer.Argument(
        metavar="PATH", help="Cedar files, joined in order; a directory means its *.cedar files in name order."
    ),
]
SchemaFile = Annotated[
    Path | None,
    typer.Option("--schema", metavar="SCHEMA.json", help="A Cedar JSON schema fragment added to the registry's."),
]
Reason = Annotated[str, typer.Option("--reason", help="Why; recorded in the change trail.")]
MODES = {"enforce": Mode.ENFORCE, "log-only": Mode.LOG_ONLY, "log_only": Mode.LOG_ONLY}


def _sent(source: PolicySource, call: Callable[[], Json]) -> Json:
    """Run a write or validation; a syntax error names the file and line it is in."""
    try:
        return call()
    except PolicySyntaxError as exc:
        raise source.locate(exc) from None


def show_version(data: Json, as_json: bool, title: str) -> None:
    output.details(
        data,
        as_json=as_json,
        title=title,
        fields=[
            ("version", data["version"]),
            ("active", data["active"]),
            ("on error", data["on_error"]),
            ("comment", data["comment"]),
            ("digest", data["digest"]),
            ("created", data["created_at"]),
            ("by", data["created_by"]),
        ],
    )


def show_status(data: Json, as_json: bool, title: str = "policy status") -> None:
    mode = Text(data["mode"], style="bold yellow" if data["mode"] == Mode.LOG_ONLY.value else "green")
    output.details(
        data,
        as_json=as_json,
        title=title,
        fields=[
            ("active version", data["active_version"]),
            ("mode", mode),
            ("entities version", data["entities_version"]),
            ("entities", data["entities_count"]),
            ("revision", data["revision"]),
        ],
    )


@app.command("apply")
def apply(
    ctx: typer.Context,
    files: PolicyPaths,
    schema: SchemaFile = None,
    on_error: Annotated[
        OnError, typer.Option("--on-error", help="What a policy that fails to evaluate means: deny, or skip it.")
    ] = OnError.DENY,
    comment: Annotated[str, typer.Option("--comment", help="What changed and why.")] = "",
    no_activate: Annotated[
        bool, typer.Option("--no-activate", help="Store the version without activating it.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Validate and store the policies as a new version, and make it the active one."""
    from remit.api.schemas.policies import PolicyApplyRequest

    source = read_policies(files)
    req = PolicyApplyRequest.model_validate(
        {
            "policies": source.text,
            "schema": read_schema(schema),
            "on_error": on_error,
            "comment": comment,
            "activate": not no_activate,
        }
    )
    b = backend(ctx)
    data = _sent(source, lambda: b.apply_policies(req))
    state = "active" if data["active"] else "not active"
    show_version(data, as_json, f"applied policy version {data['version']} ({state})")


@app.command("validate")
def validate(ctx: typer.Context, files: PolicyPaths, schema: SchemaFile = None, as_json: AsJson = False) -> None:
    """Check policies against the schema as apply would, without storing anything."""
    from remit.api.schemas.policies import PolicyValidateRequest

    source = read_policies(files)
    req = PolicyValidateRequest.model_validate({"policies": source.text, "schema": read_schema(schema)})
    b = backend(ctx)
    data = _sent(source, lambda: b.validate_policies(req))
    if as_json:
        output.emit_json(data)
    else:
        output.done(f"valid: {data['policies']} polic{'y' if data['policies'] == 1 else 'ies'}")


@app.command("list")
def list_(
    ctx: typer.Context, limit: Limit = None, cursor: Cursor = None, all_: All = False, as_json: AsJson = False
) -> None:
    """List policy versions, newest first."""
    b = backend(ctx)
    result = collect(b.list_policies, page(limit, cursor), all_)
    output.listing(
        result,
        as_json=as_json,
        title="Policy versions",
        columns=["version", "active", "created", "by", "on error", "comment", "digest"],
        row=lambda v: [
            str(v["version"]),
            Text("active", style="green") if v["active"] else "",
            v["created_at"],
            v["created_by"],
            v["on_error"],
            v["comment"],
            v["digest"][:12],
        ],
    )


@app.command("show")
def show(
    ctx: typer.Context,
    version: Annotated[int | None, typer.Argument(min=1, help="A version number (default: the active one).")] = None,
    as_json: AsJson = False,
) -> None:
    """Print a version's policy text (the details go to stderr, so stdout can be saved as a .cedar file)."""
    data = backend(ctx).get_policy(version)
    if as_json:
        output.emit_json(data)
        return
    state = "active" if data["active"] else "not active"
    output.note(f"# version {data['version']} ({state}), by {data['created_by']} at {output.when(data['created_at'])}")
    typer.echo(data["policies"], nl=not data["policies"].endswith("\n"))


@app.command("diff")
def diff(
    ctx: typer.Context,
    old: Annotated[int, typer.Argument(min=1, metavar="FROM", help="The older version.")],
    new: Annotated[int | None, typer.Argument(min=1, metavar="TO", help="Default: the active version.")] = None,
) -> None:
    """A unified diff of two versions' policy text."""
    text = backend(ctx).diff_policies(old, new)["diff"]
    if not text:
        output.note("no differences")
        return
    out = output.console()
    for line in text.splitlines():
        style = (
            "green" if line.startswith("+") else "red" if line.startswith("-") else "cyan" if line[:2] == "@@" else ""
        )
        out.print(Text(line, style=style))


@app.command("activate")
def activate(
    ctx: typer.Context,
    version: Annotated[int, typer.Argument(min=1, help="The version to make active.")],
    reason: Reason = "",
    as_json: AsJson = False,
) -> None:
    """Make a stored version the active one."""
    from remit.api.schemas.policies import ActivateRequest

    data = backend(ctx).activate_policy(version, ActivateRequest(reason=reason))
    show_status(data, as_json, title=f"policy version {data['active_version']} is active")


@app.command("rollback")
def rollback(
    ctx: typer.Context,
    to: Annotated[int | None, typer.Option("--to", min=1, help="Default: the version before the active one.")] = None,
    reason: Reason = "",
    as_json: AsJson = False,
) -> None:
    """Go back to an earlier version."""
    from remit.api.schemas.policies import RollbackRequest

    data = backend(ctx).rollback_policy(RollbackRequest(to=to, reason=reason))
    show_status(data, as_json, title=f"rolled back: policy version {data['active_version']} is active")


@app.command("status")
def status(ctx: typer.Context, as_json: AsJson = False) -> None:
    """The active version, the enforcement mode and the extra entities in use."""
    show_status(backend(ctx).policy_status(), as_json)


@app.command("mode")
def mode(
    ctx: typer.Context,
    new_mode: Annotated[
        str, typer.Argument(metavar="enforce|log-only", help="log-only: decide and record, never deny.")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (required; recorded in the change trail).")],
    as_json: AsJson = False,
) -> None:
    """Switch between enforcing and log-only (needs the policy-mode permission)."""
    from remit.api.schemas.policies import ModeRequest

    chosen = MODES.get(new_mode.lower())
    if chosen is None:
        raise typer.BadParameter(f"{new_mode!r} is not enforce or log-only", param_hint="MODE")
    data = backend(ctx).set_policy_mode(ModeRequest(mode=chosen, reason=reason))
    show_status(data, as_json, title=f"mode: {data['mode']}")


@app.command("schema")
def schema(ctx: typer.Context) -> None:
    """Print the Cedar JSON schema policies are validated against (the registry's plus the active fragment)."""
    output.emit_json(backend(ctx).policy_schema())


app.command("test")(policy_test.test)
