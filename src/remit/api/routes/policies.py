"""``/v1/policies`` and ``/v1/entities``: versioned policy sets, the enforcement mode, extra entities."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from remit.api.deps import PageDep, PrincipalDep, RemitDep
from remit.api.routes._common import ERRORS, render_page
from remit.api.schemas.common import PageResponse
from remit.api.schemas.policies import (
    ActivateRequest,
    DiffResponse,
    EntitiesApplied,
    EntitiesApplyRequest,
    EntitiesResponse,
    ModeRequest,
    PolicyApplyRequest,
    PolicyStatusResponse,
    PolicyValidateRequest,
    PolicyValidateResponse,
    PolicyVersionResponse,
    PolicyVersionSummary,
    RollbackRequest,
)
from remit.policy.errors import PolicyValidationError

router = APIRouter(tags=["policies"], responses=ERRORS)

Version = Annotated[int, Path(ge=1, le=2**31 - 1, description="A policy version number.")]


@router.get("/v1/policies", response_model=PageResponse[PolicyVersionSummary])
def list_versions(remit: RemitDep, p: PrincipalDep, page: PageDep) -> PageResponse[PolicyVersionSummary]:
    """Every version, newest first."""
    if page.after is not None and not page.after.isdigit():
        raise PolicyValidationError("cursor is not a value returned by a previous page")
    active = remit.policies.status(p).control.active_policy_version
    return render_page(remit.policies.list(p, page), lambda v: PolicyVersionSummary.of(v, active))


@router.post(
    "/v1/policies",
    status_code=status.HTTP_201_CREATED,
    response_model=PolicyVersionResponse,
    response_model_by_alias=True,
)
def apply_policies(body: PolicyApplyRequest, remit: RemitDep, p: PrincipalDep) -> PolicyVersionResponse:
    """Validate and store a new version; it becomes active unless ``activate`` is false. Invalid policies: 422
    with Cedar's message (and line and column for syntax errors)."""
    version = remit.policies.apply(
        p,
        body.policies,
        schema_fragment=body.schema_,
        on_error=body.on_error,
        comment=body.comment,
        activate=body.activate,
    )
    active = remit.policies.status(p).control.active_policy_version
    return PolicyVersionResponse.full(version, active)


@router.post("/v1/policies/validate", response_model=PolicyValidateResponse)
def validate_policies(body: PolicyValidateRequest, remit: RemitDep, p: PrincipalDep) -> PolicyValidateResponse:
    """Check policies as a write would, without storing anything."""
    return PolicyValidateResponse(valid=True, policies=remit.policies.validate(p, body.policies, body.schema_))


@router.get("/v1/policies/status", response_model=PolicyStatusResponse)
def policy_status(remit: RemitDep, p: PrincipalDep) -> PolicyStatusResponse:
    return PolicyStatusResponse.of(remit.policies.status(p))


@router.get("/v1/policies/schema", response_model=dict[str, Any])
def policy_schema(remit: RemitDep, p: PrincipalDep) -> dict[str, Any]:
    """The Cedar JSON schema new policies are validated against (the registry's, plus the active fragment)."""
    status_ = remit.policies.status(p)
    fragment = status_.active.schema_fragment if status_.active else None
    return remit.policies.schema(p, fragment)


@router.get("/v1/policies/diff", response_model=DiffResponse)
def diff_versions(
    remit: RemitDep,
    p: PrincipalDep,
    from_: Annotated[int, Query(alias="from", ge=1, le=2**31 - 1)],
    to: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> DiffResponse:
    """A unified diff of two versions' text (``to`` defaults to the active version)."""
    return DiffResponse(diff=remit.policies.diff(p, from_, to))


@router.get("/v1/policies/active", response_model=PolicyVersionResponse, response_model_by_alias=True)
def active_version(remit: RemitDep, p: PrincipalDep) -> PolicyVersionResponse:
    version = remit.policies.get(p)
    return PolicyVersionResponse.full(version, version.version)


@router.post("/v1/policies/rollback", response_model=PolicyStatusResponse)
def rollback(body: RollbackRequest, remit: RemitDep, p: PrincipalDep) -> PolicyStatusResponse:
    """Activate ``to``, or the version before the active one."""
    remit.policies.rollback(p, body.to, reason=body.reason)
    return PolicyStatusResponse.of(remit.policies.status(p))


@router.put("/v1/policies/mode", response_model=PolicyStatusResponse)
def set_mode(body: ModeRequest, remit: RemitDep, p: PrincipalDep) -> PolicyStatusResponse:
    """``enforce`` or ``log_only``. Needs the policy-mode permission (admins); recorded with its reason."""
    remit.policies.set_mode(p, body.mode, reason=body.reason)
    return PolicyStatusResponse.of(remit.policies.status(p))


@router.get("/v1/policies/{version}", response_model=PolicyVersionResponse, response_model_by_alias=True)
def get_version(version: Version, remit: RemitDep, p: PrincipalDep) -> PolicyVersionResponse:
    found = remit.policies.get(p, version)
    return PolicyVersionResponse.full(found, remit.policies.status(p).control.active_policy_version)


@router.post("/v1/policies/{version}/activate", response_model=PolicyStatusResponse)
def activate(version: Version, body: ActivateRequest, remit: RemitDep, p: PrincipalDep) -> PolicyStatusResponse:
    remit.policies.activate(p, version, reason=body.reason)
    return PolicyStatusResponse.of(remit.policies.status(p))


@router.put("/v1/entities", response_model=EntitiesApplied)
def apply_entities(body: EntitiesApplyRequest, remit: RemitDep, p: PrincipalDep) -> EntitiesApplied:
    """Replace the extra entities (types the registry does not hold), in Cedar's JSON entity format."""
    entity_set = remit.policies.apply_entities(p, body.entities, comment=body.comment)
    return EntitiesApplied(version=entity_set.version, count=len(entity_set.entities))


@router.get("/v1/entities", response_model=EntitiesResponse)
def get_entities(remit: RemitDep, p: PrincipalDep) -> EntitiesResponse:
    entity_set = remit.policies.entities(p)
    if entity_set is None:
        return EntitiesResponse(version=None, entities=[])
    return EntitiesResponse(version=entity_set.version, entities=entity_set.entities)
