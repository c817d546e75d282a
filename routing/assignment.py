"""Assignment policy and the escalation ladder: who gets a case card, and why.

Pure and deterministic: the same map, time and workload always give the same answer
(least open cases first, ties by telegram id). ``reason`` is a machine code the templates
turn into words; ``detail`` carries the template parameters.

Reasons: ``on_duty_least_loaded``, ``only_on_duty``, ``none_on_duty_fallback_<rung>``
(members handle the category but none is on duty), ``no_member_fallback_<rung>`` (no active
member handles it), ``party_owner``, ``party_staff`` (party without a chat: its least loaded
staff member), ``party_unreachable`` (party without chat or staff: the grid pool), ``triage``,
``escalated``, ``street_office_chat`` / ``admin_fallback`` (nobody at any rung).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from routing.gridmap import GridMapError, Staff, Text
from routing.matrix import ownership

if TYPE_CHECKING:
    from routing.gridmap import GridMap

RUNGS = ("member", "leader", "centre", "street")


@dataclass(frozen=True)
class Assignment:
    owner_id: int | None
    chat_id: int
    party_id: str | None
    rung: str
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)
    follow_up_id: int | None = None


@dataclass(frozen=True)
class TransferTarget:
    kind: str  # 'member' | 'party'
    id: str
    label: Text
    chat_id: int | None


def _least_loaded(staff: Sequence[Staff], open_cases: Mapping[int, int]) -> Staff:
    return min(staff, key=lambda s: (open_cases.get(s.telegram_id, 0), s.telegram_id))


def _rung_staff(gridmap: GridMap, grid_id: str, rung: str) -> list[Staff]:
    if rung == "member":
        return gridmap.members_of(grid_id)
    if rung == "leader":
        return gridmap.leaders_of(grid_id)
    if rung == "centre":
        return gridmap.centre_of(gridmap.grids[grid_id].community_id)
    if rung == "street":
        return gridmap.street_staff()
    return []


def _to_person(
    s: Staff,
    rung: str,
    reason: str,
    open_cases: Mapping[int, int],
    detail: dict[str, Any],
    follow_up_id: int | None = None,
) -> Assignment:
    detail = {**detail, "open_cases": open_cases.get(s.telegram_id, 0), "name": s.name}
    return Assignment(s.telegram_id, s.telegram_id, None, rung, reason, detail, follow_up_id)


def _pick_at(
    gridmap: GridMap,
    grid_id: str,
    rung: str,
    now: dt.datetime,
    open_cases: Mapping[int, int],
    exclude: Collection[int],
) -> tuple[Staff | None, int]:
    """Least loaded at a rung, preferring those on duty; -> (staff or None, candidates)."""
    pool = [s for s in _rung_staff(gridmap, grid_id, rung) if s.telegram_id not in exclude]
    if not pool:
        return None, 0
    on = [s for s in pool if s.duty.on_duty(now)]
    return _least_loaded(on or pool, open_cases), len(pool)


def _climb(
    gridmap: GridMap,
    grid_id: str,
    start_rung: str,
    reason: str,
    now: dt.datetime,
    open_cases: Mapping[int, int],
    exclude: Collection[int],
    detail: dict[str, Any],
    reason_has_rung: bool,
) -> Assignment:
    """Give the case to ``start_rung``, or the first rung above it (per the ladder) with staff."""
    rung: str | None = start_rung
    skipped: list[str] = []
    seen: set[str] = set()
    while rung and rung not in seen:
        seen.add(rung)
        chosen, n = _pick_at(gridmap, grid_id, rung, now, open_cases, exclude)
        if chosen:
            code = f"{reason}_{rung}" if reason_has_rung else reason
            return _to_person(
                chosen, rung, code, open_cases, {**detail, "candidates": n, "skipped": skipped}
            )
        skipped.append(rung)
        rung = gridmap.ladder.get(rung) or (None if rung == "street" else "street")
    return _last_resort(gridmap, detail={**detail, "skipped": skipped})


def _last_resort(gridmap: GridMap, detail: dict[str, Any]) -> Assignment:
    so = gridmap.street_office
    if so and so.chat_id is not None:
        return Assignment(None, so.chat_id, None, "street", "street_office_chat", detail)
    admins = [s for s in gridmap.staff.values() if s.role == "admin" and s.active]
    if admins:
        a = min(admins, key=lambda s: s.telegram_id)
        return Assignment(a.telegram_id, a.telegram_id, None, "street", "admin_fallback", detail)
    raise GridMapError("nobody to assign to: no staff at any rung, no street office chat, no admin")


def _member_pool(
    gridmap: GridMap, grid_id: str, category: str | None, exclude: Collection[int]
) -> list[Staff]:
    return [
        m
        for m in gridmap.members_of(grid_id)
        if m.telegram_id not in exclude and m.handles(category)
    ]


def assign(
    gridmap: GridMap,
    grid_id: str,
    category: str | None,
    now: dt.datetime,
    open_cases: Mapping[int, int],
    exclude: Collection[int] = (),
) -> Assignment:
    if grid_id not in gridmap.grids:
        raise GridMapError(f"unknown grid {grid_id!r}")
    base: dict[str, Any] = {"grid_id": grid_id, "category": category}
    if category is None:
        return _climb(gridmap, grid_id, "leader", "triage", now, open_cases, exclude, base, False)
    own = ownership(gridmap, grid_id, category)
    pool = _member_pool(gridmap, grid_id, category, exclude)
    on_duty = [m for m in pool if m.duty.on_duty(now)]
    if own.owner == "party" and own.party is not None:
        party = own.party
        follow = None
        if own.follow_up_by_grid and pool:
            follow = _least_loaded(on_duty or pool, open_cases).telegram_id
        pdetail = {**base, "party": party.id, "source": own.source}
        if party.chat_id is not None:
            return Assignment(
                None, party.chat_id, party.id, "party", "party_owner", pdetail, follow
            )
        staff = [
            gridmap.staff[i]
            for i in party.staff_ids
            if i in gridmap.staff and gridmap.staff[i].active and i not in exclude
        ]
        if staff:
            s = _least_loaded(staff, open_cases)
            return Assignment(
                s.telegram_id,
                s.telegram_id,
                party.id,
                "party",
                "party_staff",
                {**pdetail, "open_cases": open_cases.get(s.telegram_id, 0)},
                follow,
            )
        base = {**base, "party": party.id, "party_unreachable": True}
    off = sorted(m.telegram_id for m in pool if m not in on_duty)
    if on_duty:
        chosen = _least_loaded(on_duty, open_cases)
        reason = "on_duty_least_loaded" if len(on_duty) > 1 else "only_on_duty"
        if base.get("party_unreachable"):
            reason = "party_unreachable"
        return _to_person(
            chosen,
            "member",
            reason,
            open_cases,
            {**base, "candidates": len(on_duty), "off_duty": off},
        )
    reason = "none_on_duty_fallback" if pool else "no_member_fallback"
    return _climb(
        gridmap,
        grid_id,
        gridmap.ladder.get("member", "leader"),
        reason,
        now,
        open_cases,
        exclude,
        {**base, "off_duty": off},
        True,
    )


def escalate(
    gridmap: GridMap,
    grid_id: str,
    current_rung: str,
    now: dt.datetime,
    open_cases: Mapping[int, int],
) -> Assignment | None:
    """The next rung of the ladder for a case whose deadline passed; None at the top."""
    if grid_id not in gridmap.grids:
        raise GridMapError(f"unknown grid {grid_id!r}")
    nxt = gridmap.ladder.get(current_rung)
    if nxt is None:
        return None
    detail = {"grid_id": grid_id, "from_rung": current_rung}
    rung: str | None = nxt
    skipped: list[str] = []
    seen = {current_rung}
    while rung and rung not in seen:
        seen.add(rung)
        chosen, n = _pick_at(gridmap, grid_id, rung, now, open_cases, ())
        if chosen:
            return _to_person(
                chosen,
                rung,
                "escalated",
                open_cases,
                {**detail, "candidates": n, "skipped": skipped},
            )
        if rung == "street" and gridmap.street_office and gridmap.street_office.chat_id is not None:
            return Assignment(
                None,
                gridmap.street_office.chat_id,
                None,
                "street",
                "escalated",
                {**detail, "skipped": skipped},
            )
        skipped.append(rung)
        rung = gridmap.ladder.get(rung)
    return None


def transfer_targets(
    gridmap: GridMap, grid_id: str, category: str, exclude: Collection[int]
) -> list[TransferTarget]:
    """The grid's other members, then every party of the grid's matrix row (owner first)."""
    out = [
        TransferTarget("member", str(m.telegram_id), Text(m.name, m.name), m.telegram_id)
        for m in gridmap.members_of(grid_id)
        if m.telegram_id not in exclude
    ]
    owner = ownership(gridmap, grid_id, category).party if category in gridmap.categories else None
    parties = {
        o.party.id: o.party
        for c in gridmap.categories
        if (o := ownership(gridmap, grid_id, c)).party is not None
    }
    order = sorted(parties, key=lambda pid: (owner is None or pid != owner.id, pid))
    out.extend(
        TransferTarget("party", pid, parties[pid].name, parties[pid].chat_id) for pid in order
    )
    return out


__all__ = ["Assignment", "RUNGS", "TransferTarget", "assign", "escalate", "transfer_targets"]
