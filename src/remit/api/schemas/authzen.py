"""AuthZEN Authorization API 1.0 wire shapes, for the OpenAPI document: the routes read bodies themselves.

Request models allow unknown members (the spec says to ignore them) and mirror exactly what
``remit.policy.authzen`` checks, so that the documented schema and the 400s agree.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from remit.policy.authzen import MAX_EVALUATIONS, MAX_ID, MAX_NAME, MAX_TYPE
from remit.policy.search import MAX_TOKEN

TypeName = Annotated[str, Field(min_length=1, max_length=MAX_TYPE, description="e.g. `user`, `agent`, `record`.")]
Ident = Annotated[str, Field(max_length=MAX_ID)]
ActionName = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
Properties = Annotated[
    dict[str, Any] | None, Field(description="Merged over the stored attributes of the entity for this request.")
]
Context = Annotated[dict[str, Any] | None, Field(description="The Cedar context.")]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Subject(_Open):
    type: TypeName
    id: Ident
    properties: Properties = None


class Resource(_Open):
    type: TypeName
    id: Ident
    properties: Properties = None


class Action(_Open):
    name: ActionName
    properties: Properties = None


class SearchedEntity(_Open):
    """The side a search looks for: its type; an ``id`` is ignored."""

    type: TypeName
    properties: Properties = None


class PartialSubject(_Open):
    """A default or an item member of a batch: whatever is missing after defaults makes that item a deny."""

    type: TypeName | None = None
    id: Ident | None = None
    properties: Properties = None


class PartialAction(_Open):
    name: ActionName | None = None
    properties: Properties = None


class EvaluationRequest(_Open):
    subject: Subject
    action: Action
    resource: Resource
    context: Context = None


class EvaluationItem(_Open):
    subject: PartialSubject | None = None
    action: PartialAction | None = None
    resource: PartialSubject | None = None
    context: Context = None


class EvaluationsOptions(_Open):
    evaluations_semantic: Literal["execute_all", "deny_on_first_deny", "permit_on_first_permit"] | None = None


class EvaluationsRequest(_Open):
    """Top-level members are defaults for each item; without ``evaluations`` this is a single evaluation (and then
    ``subject``, ``action`` and ``resource`` are required)."""

    subject: PartialSubject | None = None
    action: PartialAction | None = None
    resource: PartialSubject | None = None
    context: Context = None
    evaluations: Annotated[list[EvaluationItem] | None, Field(max_length=MAX_EVALUATIONS)] = None
    options: EvaluationsOptions | None = None


class PageIn(_Open):
    limit: Annotated[int | None, Field(ge=1, description="Results per page; clamped to the server's maximum.")] = None
    token: Annotated[str | None, Field(max_length=MAX_TOKEN, description="`next_token` of the previous page.")] = None


class SubjectSearchRequest(_Open):
    subject: SearchedEntity
    action: Action
    resource: Resource
    context: Context = None
    page: PageIn | None = None


class ResourceSearchRequest(_Open):
    subject: Subject
    action: Action
    resource: SearchedEntity
    context: Context = None
    page: PageIn | None = None


class ActionSearchRequest(_Open):
    subject: Subject
    resource: Resource
    context: Context = None
    page: PageIn | None = None


# -- responses --------------------------------------------------------------------------------------------


class DenyReason(_Open):
    """Why the answer is no, for the agent or PEP to act on."""

    code: str = Field(description="`no_permit`, `forbidden`, `unregistered_agent`, `agent_inactive`, ...")
    message: str
    policies: list[str] = Field(description="Ids of the policies that decided (a forbid), if any.")
    access_request_possible: bool = Field(description="A just-in-time access request could turn this into a permit.")
    errored_policies: list[str] | None = None
    enforced: bool | None = Field(default=None, description="false in log-only mode: the caller was told allow.")
    field: str | None = Field(default=None, description="For a batch item that could not be evaluated.")


class DecisionContext(_Open):
    decision_id: str = Field(description="The decision's id in the audit trail.")
    reason: DenyReason | None = None


class EvaluationResponse(BaseModel):
    decision: bool
    context: DecisionContext | None = None


class EvaluationsResponse(BaseModel):
    evaluations: list[EvaluationResponse] = Field(
        description="In request order; shorter when deny_on_first_deny or permit_on_first_permit stopped early."
    )


class EntityOut(BaseModel):
    type: str
    id: str


class ActionOut(BaseModel):
    name: str


class PageOut(BaseModel):
    next_token: str = Field(description="Send back as `page.token`; empty on the last page.")


class SubjectSearchResponse(BaseModel):
    results: list[EntityOut]
    page: PageOut | None = None


class ResourceSearchResponse(BaseModel):
    results: list[EntityOut]
    page: PageOut | None = None


class ActionSearchResponse(BaseModel):
    results: list[ActionOut]
    page: PageOut | None = None


class PdpMetadata(BaseModel):
    """PDP metadata (spec: Policy Decision Point Metadata)."""

    policy_decision_point: str = Field(description="The base URL this document was fetched from.")
    access_evaluation_endpoint: str
    access_evaluations_endpoint: str
    search_subject_endpoint: str
    search_resource_endpoint: str
    search_action_endpoint: str
