"""Staff work: invites, deactivation, queues, triage and the fair assessment."""

from __future__ import annotations

import secrets
import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.services.cases import lifecycle as case_service
from bot.services.cases.views import OPEN
from bot.services.people import desk_auth
from bot.services.shared.domain import UnitOfWork
from bot.store.models import Case, CaseEvent, Invite, StaffMember
from routing.assignment import TransferTarget, assign, transfer_targets

INVITE_ROLES = {
    "member": "grid",
    "leader": "grid",
    "centre": "community",
    "committee": "community",
    "party": "party",
    "street": "street",
    "admin": "none",
}


class StaffError(Exception):
    def __init__(self, key: str, **data: Any) -> None:
        super().__init__(key)
        self.key = key
        self.data = data


def transfer_options(uow: UnitOfWork, case: Case, exclude: set[int]) -> list[TransferTarget]:
    return transfer_targets(uow.routing.gridmap, case.grid_id, case.category or "other", exclude)


async def create_invite(uow: UnitOfWork, admin_id: int, role: str, target: str) -> Invite:
    """A one-time deep link code giving `role` for `target` (a grid, community or party)."""
    gridmap = uow.routing.gridmap
    kind = INVITE_ROLES.get(role)
    if kind is None:
        raise StaffError("invite_usage")
    if kind == "grid" and target not in gridmap.grids:
        raise StaffError("invite_unknown_target", target=target)
    if kind == "community" and target not in gridmap.communities:
        raise StaffError("invite_unknown_target", target=target)
    if kind == "party" and target not in gridmap.parties:
        raise StaffError("invite_unknown_target", target=target)
    invite = Invite(
        code="inv" + secrets.token_urlsafe(12).replace("-", "").replace("_", ""),
        role=role,
        target=target,
        created_by=admin_id,
        created_at=uow.now,
    )
    uow.session.add(invite)
    return invite


async def redeem_invite(uow: UnitOfWork, code: str, user_id: int, name: str) -> Invite | None:
    """Use an invite once. Returns None for an unknown code; raises for a used one."""
    invite = await uow.session.get(Invite, code)
    if invite is None:
        return None
    if invite.used_by is not None:
        raise StaffError("invite_used")
    invite.used_by, invite.used_at = user_id, uow.now
    row = await uow.session.get(StaffMember, user_id)
    if row is None:
        row = StaffMember(
            telegram_id=user_id,
            name=name or str(user_id),
            role=invite.role,
            grid_ids=[],
            source="invite",
            joined_at=uow.now,
            active=True,
        )
        uow.session.add(row)
    row.role = invite.role
    row.active = True
    row.joined_at = uow.now
    kind = INVITE_ROLES[invite.role]
    row.grid_ids = [invite.target] if kind == "grid" else []
    row.community_id = invite.target if kind == "community" else None
    row.party_id = invite.target if kind == "party" else None
    await uow.session.flush()
    uow.after_commit.append(uow.domain.schedule_changed.set)
    await uow.domain.reload_routing_in(uow)
    return invite


async def deactivate(uow: UnitOfWork, admin_id: int, user_id: int) -> int:
    """Deactivate a staff account and hand its open cases to whoever routing picks now."""
    row = await uow.session.get(StaffMember, user_id)
    if row is None:
        raise StaffError("staff_unknown", user=user_id)
    row.active = False
    await desk_auth.end_sessions_of(uow, user_id)
    await uow.session.flush()
    await uow.domain.reload_routing_in(uow)
    stmt = select(Case).where(Case.owner_id == user_id, Case.status.in_(OPEN))
    moved = 0
    for case in (await uow.session.execute(stmt)).scalars().all():
        counts = await case_service.grid_counts(uow, case.grid_id)
        a = assign(
            uow.routing.gridmap, case.grid_id, case.category, uow.now, counts, exclude={user_id}
        )
        await case_service.reassign(
            uow,
            case,
            a,
            case_service.Actor(admin_id, "admin"),
            "transferred",
            "reassigned",
            note="deactivated",
        )
        moved += 1
    return moved


async def queue(uow: UnitOfWork, user_id: int) -> list[Case]:
    """A person's open cases (and their party's), soonest deadline first."""
    staff = uow.routing.gridmap.staff.get(user_id)
    conditions = [Case.owner_id == user_id, Case.follow_up_id == user_id]
    if staff and staff.party_id:
        conditions.append(Case.party_id == staff.party_id)
    from sqlalchemy import or_

    stmt = select(Case).where(or_(*conditions), Case.status.in_(OPEN))
    items = list((await uow.session.execute(stmt)).scalars().all())
    items.sort(
        key=lambda c: (
            (c.accept_by if c.status not in ("accepted", "needs_info") else c.resolve_by) or uow.now
        )
    )
    return items


async def triage_queue(uow: UnitOfWork, user_id: int) -> list[Case]:
    staff = uow.routing.gridmap.staff.get(user_id)
    if staff is None:
        return []
    stmt = select(Case).where(Case.status == "triage").order_by(Case.id)
    items = list((await uow.session.execute(stmt)).scalars().all())
    return [c for c in items if case_service.may_act(uow, user_id, c)]


def _visible_grids(uow: UnitOfWork, user_id: int) -> set[str] | None:
    staff = uow.routing.gridmap.staff.get(user_id)
    if staff is None:
        return set()
    if staff.role in ("street", "admin"):
        return None
    if staff.role in ("centre", "committee"):
        community = uow.routing.gridmap.communities.get(staff.community_id or "")
        return set(community.grid_ids) if community else set()
    return set(staff.grid_ids)


async def assessment(
    uow: UnitOfWork,
    user_id: int,
    days: int = 30,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Per person: cases by category, median times, share within deadline, reopen rate,
    average rating, and a difficulty-weighted score (weights from the grid map).

    The period is the last `days`, or cases reported in [since, until) when given."""
    grids = _visible_grids(uow, user_id)
    since = since or uow.now - timedelta(days=days)
    stmt = select(Case).where(Case.created_at >= since)
    if until is not None:
        stmt = stmt.where(Case.created_at < until)
    if grids is not None:
        stmt = stmt.where(Case.grid_id.in_(sorted(grids)))
    cases = list((await uow.session.execute(stmt)).scalars().all())
    if not cases:
        return []
    ids = [c.id for c in cases]
    events = (
        await uow.session.execute(
            select(CaseEvent.case_id, CaseEvent.actor_id, CaseEvent.kind).where(
                CaseEvent.case_id.in_(ids), CaseEvent.kind.in_(("accepted", "resolved"))
            )
        )
    ).all()
    handler_of: dict[int, int] = {}
    for case_id, actor_id, kind in events:
        if kind == "resolved" and actor_id is not None:
            handler_of[case_id] = actor_id
        elif kind == "accepted" and actor_id is not None:
            handler_of.setdefault(case_id, actor_id)
    weights = uow.routing.gridmap.category_weights
    per: dict[int, dict[str, Any]] = defaultdict(
        lambda: {
            "cases": 0,
            "by_category": defaultdict(int),
            "accept": [],
            "resolve": [],
            "in_time": 0,
            "timed": 0,
            "reopened": 0,
            "ratings": [],
            "weighted": 0.0,
        }
    )
    for case in cases:
        person = handler_of.get(case.id)
        if person is None and case.category is None:
            continue  # waiting in triage: the leader holds it, nobody has handled it yet
        person = person or case.owner_id
        if person is None:
            continue
        p = per[person]
        p["cases"] += 1
        p["by_category"][case.category or "triage"] += 1
        weight = float(weights.get(case.category or "other", 1.0))
        if case.accepted_at:
            p["accept"].append((case.accepted_at - case.created_at).total_seconds())
        if case.resolved_at:
            p["resolve"].append((case.resolved_at - case.created_at).total_seconds())
            p["timed"] += 1
            on_time = case.resolve_by is None or case.resolved_at <= case.resolve_by
            p["in_time"] += 1 if on_time else 0
            quality = 1.0 if on_time else 0.5
            if case.rating:
                quality *= 0.5 + case.rating / 10
            p["weighted"] += weight * quality
        if case.reopen_count:
            p["reopened"] += 1
        if case.rating:
            p["ratings"].append(case.rating)
    report = []
    for person, p in per.items():
        staff = uow.routing.gridmap.staff.get(person)
        report.append(
            {
                "id": person,
                "name": staff.name if staff else str(person),
                "role": staff.role if staff else "",
                "cases": p["cases"],
                "by_category": dict(sorted(p["by_category"].items())),
                "median_accept": statistics.median(p["accept"]) if p["accept"] else None,
                "median_resolve": statistics.median(p["resolve"]) if p["resolve"] else None,
                "within_deadline": p["in_time"] / p["timed"] if p["timed"] else None,
                "reopen_rate": p["reopened"] / p["cases"] if p["cases"] else 0.0,
                "avg_rating": statistics.mean(p["ratings"]) if p["ratings"] else None,
                "score": round(p["weighted"], 2),
            }
        )
    report.sort(key=lambda r: (-r["score"], r["name"]))
    return report
