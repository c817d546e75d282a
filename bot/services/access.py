"""Who may see and work on which case: one authorisation for the chat and the web desk.

`may_act` and `may_view` decide for one case; `scope` is the same rule as a query condition,
so a board, a count or a report never shows a case that `may_view` would refuse.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, true

from bot.services.cases import authorise, may_act, may_view, staff_role
from bot.services.domain import UnitOfWork
from bot.store.models import Case
from routing.gridmap import Staff

__all__ = [
    "authorise",
    "may_act",
    "may_view",
    "staff_role",
    "scope",
    "scope_grids",
    "assignable_staff",
    "DESK_ROLES",
]

# Roles that may sign in to the desk (everyone on the staff table who works cases or reads them).
DESK_ROLES = frozenset({"member", "leader", "centre", "street", "committee", "party", "admin"})


def scope_grids(uow: UnitOfWork, user_id: int) -> frozenset[str] | None:
    """The grids whose cases this person sees as a whole; None means every grid."""
    gridmap = uow.routing.gridmap
    staff = gridmap.staff.get(user_id)
    if staff is None or not staff.active:
        return frozenset()
    if staff.role in ("street", "admin"):
        return None
    if staff.role in ("centre", "committee"):
        return frozenset(
            g.id for g in gridmap.grids.values() if g.community_id == staff.community_id
        )
    if staff.role in ("member", "leader"):
        return frozenset(staff.grid_ids)
    return frozenset()


def scope(uow: UnitOfWork, user_id: int) -> ColumnElement[bool]:
    """`may_view` as a WHERE condition on cases (for staff; residents see only their own)."""
    staff = uow.routing.gridmap.staff.get(user_id)
    if staff is None or not staff.active:
        return false()
    grids = scope_grids(uow, user_id)
    if grids is None:
        return true()
    conditions: list[ColumnElement[bool]] = [
        Case.owner_id == user_id,
        Case.follow_up_id == user_id,
    ]
    if staff.party_id:
        conditions.append(Case.party_id == staff.party_id)
    if grids:
        conditions.append(Case.grid_id.in_(sorted(grids)))
    return or_(*conditions)


def assignable_staff(uow: UnitOfWork, user_id: int) -> list[Staff]:
    """Members and leaders this person may hand cases to: active, in grids they oversee."""
    gridmap = uow.routing.gridmap
    grids = scope_grids(uow, user_id)
    people = [
        s
        for s in gridmap.staff.values()
        if s.active
        and s.role in ("member", "leader")
        and (grids is None or set(s.grid_ids) & grids)
    ]
    return sorted(people, key=lambda s: (s.role != "member", s.grid_ids, s.name))
