"""Authorization requests and decisions: principal, action, resource, context in; allow or deny out."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple, TypeVar


class Effect(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class Mode(StrEnum):
    """How the policy set's decisions reach callers."""

    ENFORCE = "enforce"
    LOG_ONLY = "log_only"  #: decisions are computed and recorded; callers are told allow (the guard still denies)


class OnError(StrEnum):
    """What an evaluation error in an applicable policy means (Cedar itself skips the policy)."""

    DENY = "deny"  #: the default: an erroring policy, a forbid above all, must never turn into an allow
    SKIP = "skip"  #: Cedar's own behaviour; chosen explicitly per policy set version and recorded with it


class DenyCode(StrEnum):
    """Why a request was denied, for callers and the audit trail."""

    NO_PERMIT = "no_permit"  #: no policy permits it (deny by default)
    FORBIDDEN = "forbidden"  #: a forbid policy applies
    EVALUATION_ERROR = "evaluation_error"  #: an applicable policy failed to evaluate
    UNREGISTERED_AGENT = "unregistered_agent"  #: the registry does not know this agent: shadow AI
    AGENT_INACTIVE = "agent_inactive"  #: suspended, quarantined or retired
    OWNER_DISABLED = "owner_disabled"  #: the agent's human owner is disabled or gone
    NO_POLICIES = "no_policies"  #: nothing is loaded
    ENGINE_ERROR = "engine_error"  #: the engine failed; fail closed
    INVALID_REQUEST = "invalid_request"  #: the request cannot be evaluated as sent


class EntityRef(NamedTuple):
    """A Cedar entity uid: ``type::"id"``. A named tuple: hashed and compared on the hot path."""

    type: str
    id: str

    def __str__(self) -> str:
        return f'{self.type}::"{self.id}"'

    def as_json(self) -> dict[str, str]:
        return {"type": self.type, "id": self.id}


@dataclass(frozen=True, slots=True)
class Entity:
    """An entity in Cedar's JSON entity format: attributes already Cedar-JSON encoded."""

    uid: EntityRef
    attrs: dict[str, Any] = field(default_factory=dict)
    parents: tuple[EntityRef, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"uid": self.uid.as_json(), "attrs": self.attrs, "parents": [p.as_json() for p in self.parents]}


@dataclass(frozen=True)
class AuthzRequest:
    """One question for the engine.

    ``principal_attrs``/``resource_attrs`` (AuthZEN ``properties``) are merged over stored attributes; an entity
    that is not stored is evaluated as the request describes it.

    Not slotted, so that the decision path can build one with ``build(AuthzRequest, {every field})``.
    """

    principal: EntityRef
    action: str
    resource: EntityRef
    context: dict[str, Any] = field(default_factory=dict)
    principal_attrs: dict[str, Any] | None = None
    resource_attrs: dict[str, Any] | None = None
    action_attrs: dict[str, Any] | None = None


@dataclass(frozen=True)
class Decision:
    """The PDP's answer to one request. Always recorded; never mutated.

    Not slotted, so that the engine can build one with ``build(Decision, {every field})``.
    """

    decision_id: str
    allowed: bool  #: what the caller is told (log-only mode tells allow)
    effect: Effect  #: what the policies decided (enforcement's view)
    policy_version: int
    mode: Mode
    reasons: tuple[str, ...] = ()  #: ids of the policies that determined the effect
    errors: tuple[str, ...] = ()  #: "<policy id>: <message>" for each policy that failed to evaluate
    deny_code: DenyCode | None = None
    message: str = ""  #: a sentence for the caller on deny
    eval_us: float = 0.0
    request_access_possible: bool = False  #: a just-in-time request could help (a permit-side deny)

    @property
    def would_deny(self) -> bool:
        return self.effect is _DENY


_DENY = Effect.DENY  #: an enum's members are slow to reach through their class (``EnumType.__getattr__``)

_T = TypeVar("_T", AuthzRequest, Decision)
_new = object.__new__
_set = object.__setattr__


def build(cls: type[_T], fields: dict[str, Any]) -> _T:
    """An instance of the frozen dataclass ``cls`` (``AuthzRequest``, ``Decision``) with these values: the same
    as ``cls(**fields)`` when ``fields`` names every field, ~4x cheaper. The generated ``__init__`` sets each
    field through ``object.__setattr__`` (~2k instructions a field, ~23k a decision); this sets the instance's
    dictionary at once. For the decision path; anything else should call the class."""
    instance = _new(cls)
    _set(instance, "__dict__", fields)
    return instance


@dataclass(frozen=True, slots=True)
class GuardChange:
    """An agent's or a user's status (and an agent's owner) as committed, for the guard to apply before the next
    compile: the store hands it to this process after the commit and, on PostgreSQL, to every other server."""

    kind: str  #: ``agent`` or ``user``
    id: str  #: the agent's name or the user's id
    status: str
    owner: str  #: the agent's owner; ``""`` for a user
    revision: int  #: the store's change counter the value was read at: a state compiled at it already has it
