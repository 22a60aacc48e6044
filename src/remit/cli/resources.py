"""``remit resource``: what agents reach: HTTP apps and endpoints, MCP servers and tools, datasets."""

from typing import Annotated

import typer

from remit.cli import output
from remit.cli.backend import Json, collect
from remit.cli.options import All, AsJson, Attrs, Cursor, Limit, page
from remit.cli.parsing import attributes
from remit.cli.state import backend
from remit.registry.models import ResourceKind, Sensitivity

app = typer.Typer(help="Resources: apps, endpoints, MCP servers, tools and datasets.", no_args_is_help=True)

ResourceId = Annotated[str, typer.Argument(help="The resource's id, e.g. helpdesk.get_ticket.")]
DataClasses = Annotated[
    list[str] | None, typer.Option("--data-class", help="A data class label such as customer_pii (repeatable).")
]


def show(data: Json, as_json: bool, title: str | None = None) -> None:
    output.details(
        data,
        as_json=as_json,
        title=title or f"resource {data['id']}",
        fields=[
            ("kind", data["kind"]),
            ("name", data["display_name"]),
            ("parent", data["parent"]),
            ("sensitivity", data["sensitivity"]),
            ("data classes", data["data_classes"]),
            ("attributes", data["attributes"]),
            ("created", data["created_at"]),
            ("updated", data["updated_at"]),
        ],
    )


@app.command("create")
def create(
    ctx: typer.Context,
    resource_id: ResourceId,
    kind: Annotated[ResourceKind, typer.Option("--kind")],
    parent: Annotated[
        str | None, typer.Option("--parent", help="A tool sits under an MCP server or app; an endpoint under an app.")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    sensitivity: Annotated[Sensitivity, typer.Option("--sensitivity")] = Sensitivity.INTERNAL,
    data_class: DataClasses = None,
    attr: Attrs = None,
    as_json: AsJson = False,
) -> None:
    """Register a resource."""
    from remit.api.schemas.resources import ResourceCreateRequest

    req = ResourceCreateRequest(
        id=resource_id,
        kind=kind,
        parent=parent,
        display_name=name,
        sensitivity=sensitivity,
        data_classes=data_class or [],
        attributes=attributes(attr),
    )
    show(backend(ctx).create_resource(req), as_json, title=f"registered resource {resource_id}")


@app.command("list")
def list_(
    ctx: typer.Context,
    kind: Annotated[ResourceKind | None, typer.Option("--kind")] = None,
    parent: Annotated[str | None, typer.Option("--parent", help="Only the direct children of this resource.")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
    all_: All = False,
    as_json: AsJson = False,
) -> None:
    """List resources, by id."""
    from remit.registry.ports import ResourceFilter

    b = backend(ctx)
    where = ResourceFilter(kind=kind, parent=parent)
    result = collect(lambda p: b.list_resources(where, p), page(limit, cursor), all_)
    output.listing(
        result,
        as_json=as_json,
        title="Resources",
        columns=["id", "kind", "parent", "sensitivity", "data classes", "name"],
        row=lambda r: [r["id"], r["kind"], r["parent"], r["sensitivity"], r["data_classes"], r["display_name"]],
    )


@app.command("show")
def show_(ctx: typer.Context, resource_id: ResourceId, as_json: AsJson = False) -> None:
    """Show one resource."""
    show(backend(ctx).get_resource(resource_id), as_json)


@app.command("update")
def update(
    ctx: typer.Context,
    resource_id: ResourceId,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    sensitivity: Annotated[Sensitivity | None, typer.Option("--sensitivity")] = None,
    data_class: Annotated[
        list[str] | None, typer.Option("--data-class", help="Replaces the data classes (repeatable).")
    ] = None,
    attr: Attrs = None,
    as_json: AsJson = False,
) -> None:
    """Change a resource's name, sensitivity, data classes or attributes (--attr replaces the given keys)."""
    from remit.api.schemas.resources import ResourceUpdateRequest

    b = backend(ctx)
    fields: dict[str, object] = {
        k: v for k, v in {"display_name": name, "sensitivity": sensitivity}.items() if v is not None
    }
    if data_class:
        fields["data_classes"] = data_class
    if attr:
        fields["attributes"] = {**b.get_resource(resource_id)["attributes"], **attributes(attr)}
    if not fields:
        raise typer.BadParameter("name at least one thing to change", param_hint="options")
    req = ResourceUpdateRequest.model_validate(fields)
    show(b.update_resource(resource_id, req), as_json, title=f"updated resource {resource_id}")


@app.command("delete")
def delete(ctx: typer.Context, resource_id: ResourceId) -> None:
    """Delete a resource that has no children and is named by no role."""
    backend(ctx).delete_resource(resource_id)
    output.done(f"deleted resource {resource_id}")
