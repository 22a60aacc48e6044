"""Who may administer what: the one authorization function behind the admin API and the CLI.

Human admin roles:

* ``admin``   everything.
* ``auditor`` reads everything and may ask for decisions; changes nothing.
* ``pep``     a policy enforcement point (gateway, SDK, external PEP): asks for decisions (introspection too) and
  reads the metrics (``GET /metrics``, so that a PEP's token can serve a scraper too), nothing else: a listing of
  agents or users is refused, as every other read is.
* ``owner``   registers agents in their own name and manages only the agents they own (and their keys, client
  certificates and legacy API keys, except adding one to a quarantined agent, their client metadata, and their
  access tokens' revocation); reads the catalogue (roles, resources) and their own user record. Of a role's members
  an owner sees only their own agents and themselves; asking for the roles of an agent or user they may not see
  answers as for one that does not exist. Cannot transfer an
  agent to another owner, change what policies read about it (clearance, risk tier, environment, team, attributes)
  or its review date, change roles or resources, or lift a quarantine (a security response stays with admins).

Every check goes through ``authorize``; handlers and services never test roles themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from remit.errors import Forbidden, NotFound


class AdminRole(StrEnum):
    ADMIN = "admin"
    OWNER = "owner"
    AUDITOR = "auditor"
    PEP = "pep"  #: a policy enforcement point: asks for decisions (and reads metrics), nothing else


class Act(StrEnum):
    """Administrative actions, ``<object>.<verb>``."""

    AGENT_CREATE = "agent.create"
    AGENT_READ = "agent.read"
    AGENT_UPDATE = "agent.update"
    AGENT_TRANSFER = "agent.transfer"
    AGENT_CLASSIFY = "agent.classify"  #: clearance, risk tier, environment, team, attributes, review date
    AGENT_SUSPEND = "agent.suspend"
    AGENT_RESUME = "agent.resume"
    AGENT_QUARANTINE = "agent.quarantine"
    AGENT_RETIRE = "agent.retire"
    AGENT_KEY_ADD = "agent_key.add"  #: register a public key the agent authenticates with (private_key_jwt)
    AGENT_KEY_READ = "agent_key.read"
    AGENT_KEY_REVOKE = "agent_key.revoke"
    AGENT_CERT_ISSUE = "agent_cert.issue"  #: sign a client certificate for the agent with Remit's CA (mutual TLS)
    AGENT_CERT_READ = "agent_cert.read"
    AGENT_CERT_REVOKE = "agent_cert.revoke"
    API_KEY_CREATE = "api_key.create"  #: a legacy static API key for an agent (discouraged, always expiring)
    API_KEY_READ = "api_key.read"  #: an agent's legacy keys, and the report of their use
    API_KEY_REVOKE = "api_key.revoke"
    AGENT_CLIENT_READ = "agent_client.read"  #: the agent's OAuth client metadata (DPoP required, ...)
    AGENT_CLIENT_UPDATE = "agent_client.update"
    USER_CREATE = "user.create"
    USER_READ = "user.read"
    USER_UPDATE = "user.update"
    ROLE_CREATE = "role.create"
    ROLE_READ = "role.read"
    ROLE_UPDATE = "role.update"
    ROLE_DELETE = "role.delete"
    ROLE_ASSIGN = "role.assign"
    RESOURCE_CREATE = "resource.create"
    RESOURCE_READ = "resource.read"
    RESOURCE_UPDATE = "resource.update"
    RESOURCE_DELETE = "resource.delete"
    EVENT_READ = "event.read"
    POLICY_READ = "policy.read"
    POLICY_WRITE = "policy.write"
    POLICY_MODE = "policy.mode"  #: enforce or log-only: its own permission, because it switches enforcement off
    DECISION_EVALUATE = "decision.evaluate"
    AUDIT_READ = "audit.read"  #: owners: the records of their own agents only (the service scopes the query)
    ADMIN_TOKEN_CREATE = "admin_token.create"  # noqa: S105 - an action name
    ADMIN_TOKEN_READ = "admin_token.read"  # noqa: S105
    ADMIN_TOKEN_REVOKE = "admin_token.revoke"  # noqa: S105
    REGISTRATION_TOKEN_CREATE = "registration_token.create"  # noqa: S105 - an initial access token (RFC 7591)
    REGISTRATION_TOKEN_READ = "registration_token.read"  # noqa: S105
    REGISTRATION_TOKEN_REVOKE = "registration_token.revoke"  # noqa: S105
    METRICS_READ = "metrics.read"  #: ``GET /metrics``: operational counters, no registry or audit content
    KEY_READ = "key.read"  #: the token signing keys' public halves and life cycle
    KEY_ROTATE = "key.rotate"  #: a new active signing key (and, optionally, revoking the old one)
    CA_INIT = "ca.init"  #: make Remit's certificate authority for agents (once)
    TOKEN_REVOKE = "token.revoke"  #: revoke an agent's access token by the token or its jti  # noqa: S105

    @property
    def is_read(self) -> bool:
        return self.value.endswith(".read")


@dataclass(frozen=True, slots=True)
class AdminPrincipal:
    """The authenticated caller of an admin operation."""

    actor: str  #: what the audit trail names: ``token:<id>`` or ``local:<os user>``
    role: AdminRole
    user_id: str | None = None  #: the human behind it; required for owners


@dataclass(frozen=True, slots=True)
class AgentTarget:
    owner: str
    status: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class UserTarget:
    id: str


Target = AgentTarget | UserTarget | None

_Rule = Callable[[AdminPrincipal, Target], bool]


def _own_agent(p: AdminPrincipal, t: Target) -> bool:
    return isinstance(t, AgentTarget) and p.user_id is not None and t.owner == p.user_id


def _own_agent_not_quarantined(p: AdminPrincipal, t: Target) -> bool:
    return _own_agent(p, t) and isinstance(t, AgentTarget) and t.status != "quarantined"


def _self(p: AdminPrincipal, t: Target) -> bool:
    return isinstance(t, UserTarget) and p.user_id is not None and t.id == p.user_id


def _always(p: AdminPrincipal, t: Target) -> bool:
    return True


def _has_user(p: AdminPrincipal, t: Target) -> bool:
    return p.user_id is not None


#: what an owner may do, and on what; anything absent is refused
_OWNER_RULES: dict[Act, _Rule] = {
    Act.AGENT_CREATE: _own_agent,
    Act.AGENT_READ: _own_agent,
    Act.AGENT_UPDATE: _own_agent,
    Act.AGENT_SUSPEND: _own_agent_not_quarantined,  # quarantined -> suspended -> active would lift it
    Act.AGENT_RESUME: _own_agent_not_quarantined,
    Act.AGENT_RETIRE: _own_agent,
    Act.AGENT_KEY_ADD: _own_agent_not_quarantined,  # a new key for a quarantined agent waits for its release
    Act.AGENT_KEY_READ: _own_agent,
    Act.AGENT_KEY_REVOKE: _own_agent,
    Act.AGENT_CERT_ISSUE: _own_agent_not_quarantined,  # as for keys: a quarantined agent waits for its release
    Act.AGENT_CERT_READ: _own_agent,
    Act.AGENT_CERT_REVOKE: _own_agent,
    Act.API_KEY_CREATE: _own_agent_not_quarantined,  # as for keys: a quarantined agent gets none until released
    Act.API_KEY_READ: _own_agent,
    Act.API_KEY_REVOKE: _own_agent,
    Act.AGENT_CLIENT_READ: _own_agent,
    Act.AGENT_CLIENT_UPDATE: _own_agent,
    Act.TOKEN_REVOKE: _own_agent,  # quarantined ones too: revoking only takes access away
    Act.USER_READ: _self,
    Act.ROLE_READ: _always,
    Act.RESOURCE_READ: _always,
    Act.AUDIT_READ: _has_user,
}

#: the read that must pass before a refusal may say "forbidden" rather than "not found"
_VISIBILITY: dict[str, Act] = {
    "agent": Act.AGENT_READ,
    "agent_key": Act.AGENT_READ,
    "agent_cert": Act.AGENT_READ,
    "api_key": Act.AGENT_READ,
    "agent_client": Act.AGENT_READ,
    "token": Act.AGENT_READ,  # an access token hides the agent it was issued to
    "user": Act.USER_READ,
}


# Reached through the class, an enum's members cost ~1k instructions each (``EnumType.__getattr__``): every
# decision request is authorized here, twice.
_ADMIN, _AUDITOR, _PEP = AdminRole.ADMIN, AdminRole.AUDITOR, AdminRole.PEP
_DECISION_EVALUATE, _METRICS_READ = Act.DECISION_EVALUATE, Act.METRICS_READ


def is_allowed(principal: AdminPrincipal, act: Act, target: Target = None) -> bool:
    """The decision, as a boolean."""
    role = principal.role
    if role is _ADMIN:
        return True
    if role is _AUDITOR:
        return act.is_read or act is _DECISION_EVALUATE
    if role is _PEP:
        return act is _DECISION_EVALUATE or act is _METRICS_READ
    rule = _OWNER_RULES.get(act)
    return rule is not None and rule(principal, target)


def authorize(principal: AdminPrincipal, act: Act, target: Target = None) -> None:
    """Raise unless ``principal`` may do ``act`` on ``target``.

    A caller who may not even read the target gets ``NotFound``, so that an owner cannot probe for other
    owners' agents; one who can read it but not do this gets ``Forbidden``.
    """
    if is_allowed(principal, act, target):
        return
    noun, verb = act.value.split(".", 1)
    read = _VISIBILITY.get(noun)
    # an agent's create and transfer name a new owner, not an existing agent: nothing to hide, so say "forbidden"
    names_new_owner = noun == "agent" and verb in ("create", "transfer")
    hidden = not names_new_owner and read is not None and not is_allowed(principal, read, target)
    if target is not None and read is not None and hidden:
        # WARNING: must read exactly like the store's own "not found", or the difference tells what exists
        ident = target.name if isinstance(target, AgentTarget) else target.id
        field = "name" if isinstance(target, AgentTarget) else "id"
        hidden_noun = read.value.split(".", 1)[0]  # an agent's key hides the agent itself
        raise NotFound(f"no such {hidden_noun} {ident!r}", field=field)
    raise Forbidden(f"role {principal.role.value} may not {act.value}" + _why(principal, act, target))


def sees_every(principal: AdminPrincipal, act: Act) -> bool:
    """Whether ``act`` (a read) is allowed on every agent or user, whoever it belongs to: nothing to filter."""
    noun = act.value.split(".", 1)[0]
    anyone: Target = UserTarget(id="\x00any") if noun == "user" else AgentTarget(owner="\x00any", status="active")
    return is_allowed(principal, act, anyone)


def owner_scope(principal: AdminPrincipal, act: Act = Act.AGENT_READ) -> str | None:
    """The only owner whose agents a listing for ``act`` may show, or None for all. Derived from the same rules.

    Raises ``Forbidden`` when the caller may ``act`` on no agent at all (a PEP): a listing says "forbidden" as
    any other refusal of the role does, rather than answering an empty page."""
    if sees_every(principal, act):
        return None
    if principal.user_id is not None and is_allowed(
        principal, act, AgentTarget(owner=principal.user_id, status="active")
    ):
        return principal.user_id
    raise Forbidden(f"role {principal.role.value} may not {act.value}")


def user_scope(principal: AdminPrincipal) -> str | None:
    """The only user a user listing may show, or None for all; ``Forbidden`` when it may show none."""
    if sees_every(principal, Act.USER_READ):
        return None
    if principal.user_id is not None and is_allowed(principal, Act.USER_READ, UserTarget(id=principal.user_id)):
        return principal.user_id
    raise Forbidden(f"role {principal.role.value} may not {Act.USER_READ.value}")


def visible(principal: AdminPrincipal, act: Act, targets: Iterable[tuple[str, Target]]) -> tuple[str, ...]:
    """Of ``(key, target)`` pairs, the keys whose target ``principal`` may ``act`` on (a read), in order: what a
    listing of someone else's objects may show (a role's member agents and users, say). The rest are left out
    without a trace, as if they did not exist."""
    return tuple(key for key, target in targets if is_allowed(principal, act, target))


def _why(principal: AdminPrincipal, act: Act, target: Target) -> str:
    lifts_quarantine = act in (Act.AGENT_RESUME, Act.AGENT_SUSPEND)
    if principal.role is AdminRole.OWNER and lifts_quarantine and isinstance(target, AgentTarget):
        return " (a quarantined agent is released by an admin)"
    if principal.role is AdminRole.OWNER and act is Act.AGENT_CLASSIFY:
        return " (an owner may change the purpose; what policies read about an agent is changed by an admin)"
    if principal.role is AdminRole.OWNER and act is Act.AGENT_TRANSFER:
        return " (only an admin transfers an agent to another owner)"
    if principal.role is AdminRole.OWNER and act is Act.AGENT_CREATE:
        return " (an owner registers agents in their own name)"
    return ""
