"""Cases that arrive from a link: handed down by a superior (交办), reported up by a lower
deployment, or dispatched by a 12345-style hotline (派单).

A link key (`gridvoice api-key create NAME --link LINK --level LEVEL`) marks what it posts as
received from that link. Such a case is routed like our own, carries no person's identity, and
gets the receive-side hand-off deadlines: sign for it (accept) within `handoff_sign` (default
1 hour) and make first contact within `handoff_contact` (default 24 hours); the map's
`handoff:` section (`sign_within: 30m`, `contact_within: 12h`) overrides both. A miss is
counted once and escalates the case on our side (the scheduler calls `miss`).

Signing is the owner's accept (or a decision that ends the case: resolved, declined). First
contact is the first step that reaches the case's place or sender after that: "contact made"
(an action of its own, offered while the case is worked on), a question, a hold, a public
note, the resolution. A declined case is a returned hand-off.

The sender's reference (its own id, a hotline's order id) is unique per key: the same order
twice is one case (the first one's id is answered again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.store.models import ApiKey, CaseIntake

if TYPE_CHECKING:
    from bot.services.shared.domain import UnitOfWork
    from bot.store.models import Case

LEVELS: tuple[str, ...] = ("community", "street", "district", "city", "department")
HOTLINE = "hotline"
KINDS = ("link", HOTLINE)
# The case's `source` for each kind (Case.source: bot | open311 | link | hotline).
SOURCES: frozenset[str] = frozenset(KINDS)
MAX_REF = 64
SIGN_KINDS = frozenset({"accepted", "resolved", "rejected"})
CONTACT_KINDS = frozenset({"asked", "held", "public_note", "resolved", "handoff_contacted"})
MISSES = ("sign", "contact")


@dataclass(frozen=True)
class Windows:
    sign: timedelta
    contact: timedelta


def windows(uow: UnitOfWork) -> Windows:
    """The hand-off times in force: the map's `handoff:` section, else the settings."""
    from routing.deadlines import parse_duration

    s = uow.settings
    section = uow.routing.gridmap.raw.get("handoff") or {}
    found = {"sign": s.handoff_sign, "contact": s.handoff_contact}
    if isinstance(section, dict):
        for name in found:
            raw = section.get(f"{name}_within")
            if raw is None:
                continue
            try:
                value = parse_duration(str(raw))
            except ValueError:
                continue  # `gridvoice grids check` names it; the setting stands meanwhile
            if timedelta(minutes=1) <= value <= timedelta(days=30):
                found[name] = value
    return Windows(sign=found["sign"], contact=found["contact"])


def kind_of(key: ApiKey, hotline_order: str | None) -> str | None:
    """What a POST with this key is: a hotline order, a link's hand-off, or None (a client)."""
    if hotline_order is not None or key.link_level == HOTLINE:
        return HOTLINE
    if key.link_name:
        return "link"
    return None


async def already(uow: UnitOfWork, key_id: int, ref: str) -> str | None:
    """The human id of the case this key already sent under `ref`, if any."""
    from bot.store.models import Case

    return (
        await uow.session.execute(
            select(Case.human_id)
            .join(CaseIntake, CaseIntake.case_id == Case.id)
            .where(CaseIntake.api_key_id == key_id, CaseIntake.remote_ref == ref)
        )
    ).scalar_one_or_none()


def receive(uow: UnitOfWork, case: Case, key: ApiKey, kind: str, ref: str | None) -> CaseIntake:
    """Mark a new case as received from the key's link, with its hand-off deadlines."""
    w = windows(uow)
    row = CaseIntake(
        case_id=case.id,
        api_key_id=key.id,
        kind=kind,
        link_name=(key.link_name or key.name)[:64],
        level=(key.link_level or (HOTLINE if kind == HOTLINE else "link"))[:16],
        remote_ref=ref,
        received_at=uow.now,
        sign_by=uow.now + w.sign,
        contact_by=uow.now + w.contact,
    )
    uow.session.add(row)
    return row


async def on_event(uow: UnitOfWork, case: Case, kind: str) -> None:
    """A step on a received case: it may sign for it, make first contact, or return it."""
    if case.source not in SOURCES:
        return
    row = await uow.session.get(CaseIntake, case.id)
    if row is None:
        return
    if kind in SIGN_KINDS and row.signed_at is None:
        row.signed_at = uow.now
    if kind in CONTACT_KINDS and row.contacted_at is None:
        row.contacted_at = uow.now
    if kind == "rejected" and row.returned_at is None:
        row.returned_at = uow.now


async def contact_open(uow: UnitOfWork, case: Case) -> bool:
    """A received hand-off whose first contact is not recorded yet."""
    if case.source not in SOURCES:
        return False
    row = await uow.session.get(CaseIntake, case.id)
    return row is not None and row.contacted_at is None


def due(now: datetime) -> dict[str, object]:
    """The scheduler's conditions: a deadline passed, not met, not yet counted."""
    return {
        "sign": (
            CaseIntake.sign_by <= now,
            CaseIntake.signed_at.is_(None),
            CaseIntake.sign_missed_at.is_(None),
        ),
        "contact": (
            CaseIntake.contact_by <= now,
            CaseIntake.contacted_at.is_(None),
            CaseIntake.contact_missed_at.is_(None),
        ),
    }


async def miss(uow: UnitOfWork, row: CaseIntake, which: str) -> bool:
    """A hand-off deadline passed (under the row's lock): counted once, on the case's audit
    trail, and the case goes one rung up our ladder while it is open."""
    from bot.services.cases import lifecycle
    from bot.services.cases.status import OPEN

    if which == "sign":
        if row.signed_at is not None or row.sign_missed_at is not None or row.sign_by > uow.now:
            return False
        row.sign_missed_at = uow.now
    elif which == "contact":
        if row.contacted_at is not None or row.contact_missed_at is not None:
            return False
        if row.contact_by > uow.now:
            return False
        row.contact_missed_at = uow.now
    else:
        return False
    case = await lifecycle.get_case(uow, row.case_id)
    if case.status not in OPEN:
        return True  # counted; nothing left to escalate
    await lifecycle.record(
        uow, case, lifecycle.SYSTEM, f"handoff_missed_{which}", link=row.link_name
    )
    await lifecycle.escalate_case(uow, case, f"handoff_{which}")
    return True
