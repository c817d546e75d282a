"""Roles and what each may do, in one table read by the chat and the desk alike.

A role (from the grid map's staff) grants capabilities; the edges ask `may(uow, user, cap)`
and never list roles themselves. Which *case* a person may work on is `access.may_act` (it
depends on the case's grid, owner and party); this module says which kinds of work a role
does at all, and how far a role's view reaches (`Reach`).
"""

from __future__ import annotations

from enum import StrEnum

from bot.services.shared.domain import UnitOfWork
from routing.gridmap import ROLES


class Capability(StrEnum):
    ACT = "act"  # work on cases (card buttons, desk actions), within access.may_act
    TRIAGE = "triage"  # place cases the classifier could not (`/triage`, the desk's queue)
    REPORTS = "reports"  # statistics and the assessment (`/stats`, the desk's reports)
    REASSIGN = "reassign"  # hand a case to another member (the desk's reassign)
    COMMITTEE = "committee"  # consultations and announcements
    ADMIN = "admin"  # invites and deactivation
    OVERSEE = "oversee"  # work on every case within their reach, not only their own
    TAKE_OVER = "take_over"  # accepting a case makes them its owner (hands-on roles)
    ASSIGNABLE = "assignable"  # a supervisor may hand cases to them
    APPROVE = "approve"  # decide an owner's request to hold a case or extend its deadline
    SUPERVISE = "supervise"  # flag a case for supervision (督办) with its own deadline
    SUMMON = "summon"  # summon (吹哨) a department or party of the map to a case
    OFFER = "offer"  # offer a case to the community's organisations (those who work cases, and
    # the committee, who invites the organisations)


class Reach(StrEnum):
    """How far a role sees cases as a whole (beyond its own and its party's)."""

    NONE = "none"
    GRIDS = "grids"  # the grids they work
    COMMUNITY = "community"  # every grid of their community
    DISTRICT = "district"  # every grid


_C = Capability
CAPABILITIES: dict[str, frozenset[Capability]] = {
    "member": frozenset({_C.ACT, _C.TAKE_OVER, _C.ASSIGNABLE}),
    "party": frozenset({_C.ACT, _C.TAKE_OVER}),
    "leader": frozenset(
        {_C.ACT, _C.OVERSEE, _C.TRIAGE, _C.REPORTS, _C.REASSIGN, _C.ASSIGNABLE}
        | {_C.APPROVE, _C.SUPERVISE}
    ),
    "centre": frozenset(
        {_C.ACT, _C.OVERSEE, _C.TRIAGE, _C.REPORTS, _C.REASSIGN, _C.COMMITTEE}
        | {_C.APPROVE, _C.SUPERVISE}
    ),
    "street": frozenset(
        {_C.ACT, _C.OVERSEE, _C.TRIAGE, _C.REPORTS, _C.REASSIGN, _C.APPROVE, _C.SUPERVISE}
    ),
    "committee": frozenset({_C.REPORTS, _C.COMMITTEE}),
    "admin": frozenset(
        {_C.ACT, _C.OVERSEE, _C.TRIAGE, _C.REPORTS, _C.REASSIGN, _C.COMMITTEE, _C.ADMIN}
        | {_C.APPROVE, _C.SUPERVISE}
    ),
}
REACH: dict[str, Reach] = {
    "member": Reach.GRIDS,
    "leader": Reach.GRIDS,
    "centre": Reach.COMMUNITY,
    "committee": Reach.COMMUNITY,
    "street": Reach.DISTRICT,
    "admin": Reach.DISTRICT,
    "party": Reach.NONE,
}
# When a role is refused a capability, the label that names who may (`role_refused`).
NEEDED: dict[Capability, str] = {
    _C.TRIAGE: "leaders",
    _C.REPORTS: "leaders_committee",
    _C.COMMITTEE: "committee",
    _C.SUPERVISE: "leaders",
}

# Summons (吹哨): the grid's own people and those above them; never a party or the committee.
for _role in ("member", "leader", "centre", "street", "admin"):
    CAPABILITIES[_role] = CAPABILITIES[_role] | {_C.SUMMON}

# Offering a case to the organisations: whoever works cases, and the committee that invited them.
for _role in ("member", "party", "leader", "centre", "street", "admin", "committee"):
    CAPABILITIES[_role] = CAPABILITIES[_role] | {_C.OFFER}

assert set(CAPABILITIES) == set(ROLES) == set(REACH), "every role of the grid map has a policy"


def role_of(uow: UnitOfWork, user_id: int) -> str | None:
    """The person's staff role, or None for a resident or a deactivated account."""
    staff = uow.routing.gridmap.staff.get(user_id)
    return staff.role if staff and staff.active else None


def role_may(role: str | None, capability: Capability | str) -> bool:
    """Whether a role has a capability (None, a resident, has none)."""
    return role is not None and Capability(capability) in CAPABILITIES.get(role, frozenset())


def may(uow: UnitOfWork, user_id: int, capability: Capability | str) -> bool:
    return role_may(role_of(uow, user_id), capability)


def roles_with(capability: Capability | str) -> frozenset[str]:
    cap = Capability(capability)
    return frozenset(role for role, caps in CAPABILITIES.items() if cap in caps)


def reach_of(role: str | None) -> Reach:
    return REACH.get(role or "", Reach.NONE)


def refusal(uow: UnitOfWork, user_id: int, capability: Capability) -> tuple[str, str]:
    """The answer to someone who lacks `capability`: `role_refused` naming who may, for
    staff of another role; `staff_only` for everyone else. Returns (label, needed)."""
    return (
        "role_refused" if role_of(uow, user_id) else "staff_only",
        NEEDED.get(capability, ""),
    )
