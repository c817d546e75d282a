"""Who may see and work on which case: one authorisation for the chat and the web desk.

`may_act` and `may_view` decide for one case, `authorise` loads a case for a staff action
(refusing strangers and stale versions); `scope` is `may_view` as a query condition, so a
board, a count or a report never shows a case that `may_view` would refuse. Chat buttons and
desk forms both go through here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true

from bot.services.people import policy
from bot.services.people.policy import Capability, Reach
from bot.services.shared.domain import UnitOfWork
from bot.store.models import Case, CaseFollower
from routing.gridmap import Staff


class CaseActionError(Exception):
    """A person tried something the case does not allow; `key` names the label to answer with."""

    def __init__(self, key: str, **data: Any) -> None:
        super().__init__(key)
        self.key = key
        self.data = data


async def get_case(uow: UnitOfWork, case_id: int, *, lock: bool = True) -> Case:
    stmt = select(Case).where(Case.id == case_id)
    if lock and not uow.domain.sqlite:
        stmt = stmt.with_for_update()
    case = (await uow.session.execute(stmt)).scalar_one_or_none()
    if case is None:
        raise CaseActionError("not_allowed")
    return case


def staff_role(uow: UnitOfWork, user_id: int) -> str | None:
    return policy.role_of(uow, user_id)


def may_act(uow: UnitOfWork, user_id: int, case: Case) -> bool:
    """Server-side authorisation: may this person work on this case now? Their own cases
    (owner, follow-up, their party's), and every case within reach for those who oversee."""
    staff = uow.routing.gridmap.staff.get(user_id)
    if staff is None or not staff.active:
        return False
    if case.owner_id == user_id or case.follow_up_id == user_id:
        return True
    if case.party_id and staff.party_id == case.party_id:
        return True
    return policy.role_may(staff.role, Capability.OVERSEE) and _within(uow, user_id, case)


def _within(uow: UnitOfWork, user_id: int, case: Case) -> bool:
    grids = scope_grids(uow, user_id)
    return grids is None or case.grid_id in grids


def may_view(uow: UnitOfWork, user_id: int, case: Case) -> bool:
    """Staff see the cases they may act on and every case within their reach; a resident
    their own (followers: `may_read`)."""
    if case.resident_id == user_id or may_act(uow, user_id, case):
        return True
    return policy.role_of(uow, user_id) is not None and _within(uow, user_id, case)


def may_see_contact(uow: UnitOfWork, user_id: int, case: Case) -> bool:
    """May this person read how to reach the case's submitter (an Open311 client's contact
    details)? Staff who may view the case; never a resident, never the public."""
    return staff_role(uow, user_id) is not None and may_view(uow, user_id, case)


async def may_read(uow: UnitOfWork, user_id: int, case: Case) -> bool:
    """`may_view`, or a resident who follows the case ("I have this problem too")."""
    if may_view(uow, user_id, case):
        return True
    found = await uow.session.execute(
        select(CaseFollower.id).where(
            CaseFollower.case_id == case.id, CaseFollower.user_id == user_id
        )
    )
    return found.first() is not None


async def reader_of(uow: UnitOfWork, user_id: int, case: Case) -> str | None:
    """How this person reads the case's timeline, or None when they may not: "staff" (in
    scope: everything), "resident" (the reporter: their words, the questions and answers) or
    "follower" (a neighbour with the same problem: the public steps and the public note,
    never the reporter's words, what staff and the reporter said to each other, a note or
    reason staff wrote for the reporter, or the reporter's rating)."""
    if case.resident_id == user_id:
        return "resident"
    if staff_role(uow, user_id) is not None and may_view(uow, user_id, case):
        return "staff"
    return "follower" if await may_read(uow, user_id, case) else None


def may_accept(uow: UnitOfWork, user_id: int, case: Case) -> bool:
    """A case handed to a party is accepted by that party's staff only: the grid member who
    follows it up (or a leader) may push it, but must not become its owner by one tap."""
    if not case.party_id:
        return True
    staff = uow.routing.gridmap.staff.get(user_id)
    return staff is not None and staff.party_id == case.party_id


async def authorise(
    uow: UnitOfWork, user_id: int, case_id: int, version: int | None, *, viewing: bool = False
) -> Case:
    """Load a case for a staff action, refusing strangers, replays and stale cards. With
    `viewing`, staff who see the case are let through too (an action the table marks
    `in_reach`: it checks the row again before it runs)."""
    case = await get_case(uow, case_id)
    seen = viewing and staff_role(uow, user_id) is not None and may_view(uow, user_id, case)
    if not seen and not may_act(uow, user_id, case):
        raise CaseActionError("not_allowed")
    if version is not None and version != case.version:
        raise CaseActionError("card_outdated", status=case.status)
    return case


def scope_grids(uow: UnitOfWork, user_id: int) -> frozenset[str] | None:
    """The grids whose cases this person sees as a whole; None means every grid. The one
    rule for the board, the counts, the assessment and the triage queue."""
    gridmap = uow.routing.gridmap
    staff = gridmap.staff.get(user_id)
    if staff is None or not staff.active:
        return frozenset()
    reach = policy.reach_of(staff.role)
    if reach is Reach.DISTRICT:
        return None
    if reach is Reach.COMMUNITY:
        return frozenset(
            g.id for g in gridmap.grids.values() if g.community_id == staff.community_id
        )
    if reach is Reach.GRIDS:
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
        and policy.role_may(s.role, Capability.ASSIGNABLE)
        and (grids is None or set(s.grid_ids) & grids)
    ]
    return sorted(people, key=lambda s: (s.role != "member", s.grid_ids, s.name))
