"""Staff work lists: a person's queue, the triage queue, transfer targets, the hand-over of
a deactivated person's cases, and the fair assessment.

Each list is limited by `access.scope_grids` / `access.scope`, the rule that also decides
what the board shows and which chat button is authorised.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from bot.services.cases import duty, lifecycle
from bot.services.cases.queries import BOARD_LIMIT, due_of, grid_counts
from bot.services.cases.status import OPEN, Status
from bot.services.people.access import may_act, scope, scope_grids
from bot.services.shared.domain import UnitOfWork
from bot.store.models import Case, CaseEvent, CaseIntake, CaseTask, Verification
from routing.assignment import TransferTarget, assign, transfer_targets
from routing.gridmap import Text


def transfer_options(uow: UnitOfWork, case: Case, exclude: set[int]) -> list[TransferTarget]:
    """Who a case may be transferred to: the grid's other members and the matrix's parties."""
    return transfer_targets(uow.routing.gridmap, case.grid_id, case.category or "other", exclude)


async def queue(uow: UnitOfWork, user_id: int) -> list[Case]:
    """A person's open cases (and their party's), soonest deadline first."""
    staff = uow.routing.gridmap.staff.get(user_id)
    conditions = [Case.owner_id == user_id, Case.follow_up_id == user_id]
    if staff and staff.party_id:
        conditions.append(Case.party_id == staff.party_id)
    stmt = select(Case).where(or_(*conditions), Case.status.in_(sorted(OPEN)))
    items = list((await uow.session.execute(stmt)).scalars().all())
    items.sort(key=lambda c: due_of(c)[1] or uow.now)
    return items


async def triage_queue(uow: UnitOfWork, user_id: int) -> list[Case]:
    """Cases the classifier could not place that this person may triage (the chat's
    `/triage` and the desk's queue: one list)."""
    stmt = (
        select(Case)
        .where(scope(uow, user_id), Case.status == Status.TRIAGE)
        .order_by(Case.id)
        .limit(BOARD_LIMIT)
    )
    return [
        c for c in (await uow.session.execute(stmt)).scalars().all() if may_act(uow, user_id, c)
    ]


async def hand_over_cases(uow: UnitOfWork, admin_id: int, user_id: int) -> int:
    """A deactivated person's open cases go to whoever routing picks now; returns how many."""
    stmt = select(Case).where(Case.owner_id == user_id, Case.status.in_(sorted(OPEN)))
    moved = 0
    for case in (await uow.session.execute(stmt)).scalars().all():
        counts = await grid_counts(uow, case.grid_id)
        a = assign(
            uow.routing.gridmap, case.grid_id, case.category, uow.now, counts, exclude={user_id}
        )
        await lifecycle.reassign(
            uow,
            case,
            a,
            lifecycle.Actor(admin_id, "admin"),
            Status.TRANSFERRED,
            "reassigned",
            note="deactivated",
        )
        moved += 1
    return moved


# Supervision (督办) weighs a case more in the difficulty-weighted score: a supervised case's
# category weight is multiplied by this. An independent check that found a closure not fixed
# (rework, cases/verification.py) takes that closure's weight off its handler's score again.
SUPERVISED_WEIGHT = 1.5


async def assessment(
    uow: UnitOfWork,
    user_id: int,
    days: int = 30,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Per person: cases by category, median times, share within deadline, reopen rate,
    average rating, and a difficulty-weighted score (weights from the grid map, a supervised
    case × SUPERVISED_WEIGHT, a closure found not fixed by an independent check taken off
    again); supervised cases and missed supervision deadlines; checks passed and rework.

    The period is the last `days`, or cases reported in [since, until) when given."""
    grids = scope_grids(uow, user_id)
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
                CaseEvent.case_id.in_(ids),
                CaseEvent.kind.in_(("accepted", "resolved", "held")),
            )
        )
    ).all()
    handler_of: dict[int, int] = {}
    was_held: set[int] = set()
    for case_id, actor_id, kind in events:
        if kind == "held":
            was_held.add(case_id)
        elif kind == "resolved" and actor_id is not None:
            handler_of[case_id] = actor_id
        elif kind == "accepted" and actor_id is not None:
            handler_of.setdefault(case_id, actor_id)
    weights = uow.routing.gridmap.category_weights

    def weight_of(case: Case) -> float:
        w = float(weights.get(case.category or "other", 1.0))
        return w * SUPERVISED_WEIGHT if case.supervised_at is not None else w

    checks = (
        await uow.session.execute(
            select(Verification.case_id, Verification.handler_id, Verification.outcome).where(
                Verification.case_id.in_(ids), Verification.outcome.in_(("passed", "failed"))
            )
        )
    ).all()
    per: dict[int, dict[str, Any]] = defaultdict(
        lambda: {
            "cases": 0,
            "by_category": defaultdict(int),
            "accept": [],
            "resolve": [],
            "in_time": 0,
            "timed": 0,
            "official_in_time": 0,
            "official_timed": 0,
            "deferred": 0,
            "held": 0,
            "reopened": 0,
            "ratings": [],
            "weighted": 0.0,
            "supervised": 0,
            "supervision_missed": 0,
            "verified": 0,
            "rework": 0,
            "owners": [],
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
        weight = weight_of(case)
        p["held"] += int(case.id in was_held)
        p["owners"].append(case.owner_count or 1)
        p["deferred"] += int(bool(case.deferrals))
        if case.supervised_at is not None:
            p["supervised"] += 1
            p["supervision_missed"] += 1 if case.supervise_missed_at is not None else 0
        if case.accepted_at:
            p["accept"].append((case.accepted_at - case.created_at).total_seconds())
        if case.resolved_at:
            p["resolve"].append((case.resolved_at - case.created_at).total_seconds())
            p["timed"] += 1
            on_time = case.resolve_by is None or case.resolved_at <= case.resolve_by
            p["in_time"] += 1 if on_time else 0
            if not case.deferrals:  # the official rate leaves deferred cases out
                p["official_timed"] += 1
                p["official_in_time"] += 1 if on_time else 0
            quality = 1.0 if on_time else 0.5
            if case.rating:
                quality *= 0.5 + case.rating / 10
            p["weighted"] += weight * quality
        if case.reopen_count:
            p["reopened"] += 1
        if case.rating:
            p["ratings"].append(case.rating)
    by_id = {c.id: c for c in cases}
    for case_id, handler, outcome in checks:
        if handler is None:
            continue
        p = per[handler]
        if outcome == "passed":
            p["verified"] += 1
        else:  # counted against the closure that did not hold, and its handler
            p["rework"] += 1
            p["weighted"] -= weight_of(by_id[case_id])
    # Whose duty: returns made, overruled (推诿) and the time they waited for a ruling.
    returned = await duty.figures(uow, since=since, until=until, grids=grids)
    for key, f in returned.items():
        if key.startswith("m:"):
            per[int(key[2:])]["duty"] = f
    report = []
    for person, p in per.items():
        staff = uow.routing.gridmap.staff.get(person)
        f = p.get("duty") or duty.DutyFigures()
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
                "official_within_deadline": p["official_in_time"] / p["official_timed"]
                if p["official_timed"]
                else None,
                "deferred": p["deferred"],
                "held": p["held"],
                "reopen_rate": p["reopened"] / p["cases"] if p["cases"] else 0.0,
                "avg_rating": statistics.mean(p["ratings"]) if p["ratings"] else None,
                "score": round(p["weighted"], 2),
                "supervised": p["supervised"],
                "supervision_missed": p["supervision_missed"],
                "verified": p["verified"],
                "rework": p["rework"],
                "returns": f.returns,
                "overruled": f.overruled,
                "dispute_hours": f.mean_hours,
                "owners_per_case": statistics.mean(p["owners"]) if p["owners"] else None,
            }
        )
    report.sort(key=lambda r: (-r["score"], r["name"]))
    return report


# --- joint handling and summons (吹哨报到): the co-handlers' numbers ----------------------------


async def task_assessment(
    uow: UnitOfWork,
    user_id: int,
    days: int = 30,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Per party and per member helping on others' cases (tasks given in the period, within
    the person's reach): summons received, signed in on time, first contact on time, summons
    missed (sign-in or contact late), co-handler tasks, done on time, overdue."""
    grids = scope_grids(uow, user_id)
    since = since or uow.now - timedelta(days=days)
    stmt = select(CaseTask).where(CaseTask.added_at >= since)
    if until is not None:
        stmt = stmt.where(CaseTask.added_at < until)
    if grids is not None:
        stmt = stmt.where(CaseTask.grid_id.in_(sorted(grids)))
    per: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for t in (await uow.session.execute(stmt)).scalars().all():
        key = ("party", t.party_id) if t.party_id else ("member", str(t.member_id))
        p = per[key]
        p["tasks"] += 1
        p["done_on_time"] += int(
            t.status == "done" and t.closed_at is not None and t.closed_at <= t.due_at
        )
        p["overdue"] += int(t.overdue_at is not None)
        if t.kind != "summons":
            continue
        p["summons"] += 1
        p["signed_on_time"] += int(
            t.signed_at is not None and t.sign_by is not None and t.signed_at <= t.sign_by
        )
        p["contacted_on_time"] += int(
            t.contacted_at is not None
            and t.contact_by is not None
            and t.contacted_at <= t.contact_by
        )
        p["missed"] += int(t.sign_missed_at is not None or t.contact_missed_at is not None)
    gridmap = uow.routing.gridmap
    out = []
    for (kind, ident), p in per.items():
        if kind == "party":
            party = gridmap.parties.get(ident)
            name = party.name if party else Text(ident, ident)
        else:
            staff = gridmap.staff.get(int(ident))
            name = Text(staff.name, staff.name) if staff else Text(ident, ident)
        out.append({"kind": kind, "id": ident, "name": name} | {k: p[k] for k in TASK_FIGURES})
    out.sort(key=lambda r: (r["kind"] != "party", r["id"]))
    return out


TASK_FIGURES = (
    "summons",
    "signed_on_time",
    "contacted_on_time",
    "missed",
    "tasks",
    "done_on_time",
    "overdue",
)


HANDOFF_FIGURES = ("received", "signed_on_time", "contacted_on_time", "missed", "returned")


async def handoff_assessment(
    uow: UnitOfWork,
    user_id: int,
    days: int = 30,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Per link that handed us cases in the period (within the person's reach): received,
    signed for on time, first contact on time, a deadline missed, returned; the median hours
    to sign for (cases/intake.py)."""
    grids = scope_grids(uow, user_id)
    since = since or uow.now - timedelta(days=days)
    stmt = (
        select(CaseIntake)
        .join(Case, Case.id == CaseIntake.case_id)
        .where(CaseIntake.received_at >= since)
    )
    if until is not None:
        stmt = stmt.where(CaseIntake.received_at < until)
    if grids is not None:
        stmt = stmt.where(Case.grid_id.in_(sorted(grids)))
    per: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    signs: dict[tuple[str, str], list[float]] = defaultdict(list)
    for row in (await uow.session.execute(stmt)).scalars().all():
        key = (row.link_name, row.level)
        p = per[key]
        p["received"] += 1
        p["signed_on_time"] += int(row.signed_at is not None and row.signed_at <= row.sign_by)
        p["contacted_on_time"] += int(
            row.contacted_at is not None and row.contacted_at <= row.contact_by
        )
        p["missed"] += int(row.sign_missed_at is not None or row.contact_missed_at is not None)
        p["returned"] += int(row.returned_at is not None)
        if row.signed_at is not None:
            signs[key].append((row.signed_at - row.received_at).total_seconds() / 3600)
    return [
        {"link": link, "level": level}
        | {k: per[(link, level)][k] for k in HANDOFF_FIGURES}
        | {"sign_hours": statistics.median(signs[(link, level)]) if signs[(link, level)] else None}
        for link, level in sorted(per)
    ]
