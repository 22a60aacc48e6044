"""``remit policy test CASES.yaml``: decide every case and compare; exit 0 all passed, 1 a mismatch, 2 a bad file.

Without ``--policies`` the cases run against the active policy set (of ``REMIT_HOME``, or of the server at
``--url``); with it, against an in-memory engine over those files that stores nothing, so it fits a CI job.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from remit.cli import output
from remit.cli.errors import EXIT_FAILED, EXIT_USAGE, clean
from remit.cli.sources import read_entities, read_policies, read_schema
from remit.cli.state import backend, state
from remit.policy.errors import PolicySyntaxError
from remit.policy.model import OnError

if TYPE_CHECKING:  # the case files (YAML, pydantic) and the Cedar engine load when the command runs
    from remit.policy.cases import CaseResult, Decide
    from remit.settings import Settings


def test(
    ctx: typer.Context,
    cases_file: Annotated[Path, typer.Argument(metavar="CASES.yaml", help="The test cases.")],
    policies: Annotated[
        list[Path] | None,
        typer.Option(
            "--policies", metavar="FILE.cedar", help="Test these files (or directories) instead (repeatable)."
        ),
    ] = None,
    schema: Annotated[
        Path | None, typer.Option("--schema", metavar="S.json", help="With --policies: a Cedar JSON schema fragment.")
    ] = None,
    entities: Annotated[
        Path | None,
        typer.Option(
            "--entities",
            metavar="E.json",
            help="With --policies: extra entities, Cedar JSON format (default: those of REMIT_HOME, if any).",
        ),
    ] = None,
    on_error: Annotated[
        OnError, typer.Option("--on-error", help="With --policies: what a policy that fails to evaluate means.")
    ] = OnError.DENY,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Run policy test cases: requests with the decision (and optionally the exact policy ids) each must get.

    Without --policies they run against the active policy set, locally or on the server at --url/REMIT_URL; a
    server names the determining policies only on deny, so remotely policy ids are compared on denies only.
    With --policies they run against those files in memory (nothing is stored; --url is not used), over the
    registry of REMIT_HOME when there is one, else an empty registry (where every agent is unregistered, so
    denied: the built-in guard comes before any policy).

    Exit codes: 0 every case passed, 1 a case failed (or the policies are invalid), 2 the cases file is
    unreadable or invalid.
    """
    from remit.policy import cases
    from remit.policy.cases import CaseFileError

    try:
        loaded = cases.load_file(cases_file)
    except CaseFileError as exc:
        typer.secho(f"error: {clean(exc.message)}", fg=typer.colors.RED, err=True)
        raise typer.Exit(EXIT_USAGE) from None
    if policies:
        decide = _sandbox(state(ctx).settings(), policies, schema, entities, on_error)
    elif schema is not None or entities is not None:
        raise typer.BadParameter("--schema and --entities go with --policies", param_hint="--schema/--entities")
    else:
        decide = backend(ctx).decide
    results = cases.run(loaded.cases, decide)
    _report(results, as_json)
    if any(not r.passed for r in results):
        raise typer.Exit(EXIT_FAILED)


def _sandbox(
    settings: "Settings", paths: Sequence[Path], schema: Path | None, entities: Path | None, on_error: OnError
) -> "Decide":
    from remit.policy import sandbox
    from remit.policy.cases import Outcome

    source = read_policies(paths)
    fragment = read_schema(schema)
    extra: Any = read_entities(entities) if entities is not None else None
    snapshot = sandbox.EMPTY_REGISTRY
    if _has_estate(settings):
        from remit.cli.home import open_estate

        remit = open_estate(settings, create=False)
        try:
            inputs = remit.policies.load()
        finally:
            remit.close()
        snapshot = inputs.snapshot
        if extra is None and inputs.extra_entities:
            extra = list(inputs.extra_entities)
    try:
        engine = sandbox.build_engine(
            source.text, snapshot=snapshot, schema_fragment=fragment, extra_entities=extra, on_error=on_error
        )
    except PolicySyntaxError as exc:
        raise source.locate(exc) from None
    return lambda request: Outcome.of(engine.evaluate(request))


def _has_estate(settings: "Settings") -> bool:
    """Whether there is a registry to test against: an existing SQLite file, or any other database URL."""
    from remit.cli.home import sqlite_file

    if not settings.is_sqlite:
        return True
    db = sqlite_file(settings)
    return db is not None and db.is_file()


def _ids(ids: Sequence[str] | None) -> str:
    """`` [a, b]``; `` [none]`` for an empty list; nothing when not known."""
    if ids is None:
        return ""
    return f" [{', '.join(ids)}]" if ids else " [none]"


def _report(results: "list[CaseResult]", as_json: bool) -> None:
    passed = sum(1 for r in results if r.passed)
    failed = len(results) - passed
    if as_json:
        output.emit_json({"passed": passed, "failed": failed, "results": [r.as_json() for r in results]})
        return
    table = Table(title=f"Policy tests ({len(results)})", title_justify="left", header_style="bold")
    for name in ("result", "case", "expected", "got", "detail"):
        table.add_column(name, overflow="fold", no_wrap=name == "result")
    for r in results:
        want = r.case.expect.value + _ids(r.case.policies)
        got = r.got.effect.value + (_ids(r.got.policies) if r.got.policies or r.case.policies is not None else "")
        detail = "; ".join(r.mismatches) or r.got.detail
        if r.case.policies is not None and not r.ids_checked:
            detail = "; ".join(p for p in (detail, "policy ids not checked: the server names them only on deny") if p)
        table.add_row(
            Text("PASS", style="green") if r.passed else Text("FAIL", style="bold red"),
            Text(f"{r.index}: {r.case.name}"),
            Text(want),
            Text(got),
            Text(detail),
        )
    out = output.console()
    out.print(table)
    out.print(Text(f"{passed} passed, {failed} failed", style="green" if not failed else "bold red"))
