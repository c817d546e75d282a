"""The case lifecycle as an explicit state machine.

Every transition is one call inside one unit of work: it checks that this person may
do this to this case now, changes the case, writes an audit row, edits the staff card
in place and queues the resident's (and followers') update.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from bot.bounds import MAX_TELEGRAM_ID, parse_id
from bot.services.cases import intake, joint, labels, neighbours, onetap
from bot.services.cases.feed import case_changed
from bot.services.cases.notes import write_note as write_note
from bot.services.cases.queries import find_case as find_case
from bot.services.cases.queries import find_case_by_id as find_case_by_id
from bot.services.cases.queries import grid_counts as grid_counts
from bot.services.cases.queries import open_counts as open_counts
from bot.services.cases.queries import photo_ids as photo_ids
from bot.services.cases.queries import timeline as timeline
from bot.services.cases.status import (
    AWAITING_ACCEPT,
    HOLD_REASONS,
    OPEN,
    PUBLIC_UPDATE_KINDS,
    Status,
    may_move,
)
from bot.services.cases.status import TRANSITIONS as TRANSITIONS
from bot.services.cases.views import (
    notify_resident,
    refresh_card,
    send_card,
)
from bot.services.participation import proposals
from bot.services.people import policy
from bot.services.people.access import CaseActionError as CaseActionError
from bot.services.people.access import authorise as authorise
from bot.services.people.access import get_case as get_case
from bot.services.people.access import may_accept as may_accept
from bot.services.people.access import may_act as may_act
from bot.services.people.access import may_view as may_view
from bot.services.people.access import staff_role as staff_role
from bot.services.people.policy import Capability
from bot.services.shared import dialogue
from bot.services.shared.domain import UnitOfWork
from bot.services.shared.languages import chat_language
from bot.services.shared.outbox import Button
from bot.store.db import hot_add
from bot.store.models import (
    CallBack,
    Case,
    CaseDeferral,
    CaseEvent,
    CaseFollower,
    CasePhoto,
    CaseTask,
    User,
)
from routing.assignment import Assignment, assign, escalate, transfer_targets
from routing.classifier import Classification
from routing.deadlines import deadlines_for, moved_by_pause, priority_of


@dataclass(frozen=True)
class Actor:
    """Who is acting: a Telegram user id and the role they act in."""

    id: int | None
    role: str  # resident | member | leader | centre | street | party | committee | admin | system | open311


SYSTEM = Actor(None, "system")
NOT_STAFF = frozenset({"resident", "system"})
# Staff actions the resident sees as an answer: the first one is the case's first response.
RESPONSES = frozenset({"accepted", "asked", "transferred", "resolved", "rejected", "triaged"})


async def record(
    uow: UnitOfWork,
    case: Case,
    actor: Actor,
    kind: str,
    *,
    from_status: str | None = None,
    note: str | None = None,
    **data: Any,
) -> None:
    if case.first_response_at is None and kind in RESPONSES and actor.role not in NOT_STAFF:
        case.first_response_at = uow.now
    if kind in PUBLIC_UPDATE_KINDS:
        case.public_updated_at = uow.now
    event = CaseEvent(
        case_id=case.id,
        at=uow.now,
        actor_id=actor.id,
        actor_role=actor.role,
        kind=kind,
        from_status=from_status,
        to_status=case.status,
        note=note,
        data=data,
    )
    if not await hot_add(uow.session, event):  # a hot transaction's: on the driver
        uow.session.add(event)
    case_changed(uow, case.id)
    if case.source == "assisted":  # a resident without Telegram who hears back by phone
        from bot.services.cases import staff_intake

        await staff_intake.remind_call_back(uow, case, kind)
    if case.source in intake.SOURCES:
        await intake.on_event(uow, case, kind)  # a received hand-off: signed, contacted


def move(uow: UnitOfWork, case: Case, status: str) -> str:
    """Change status if the lifecycle allows it; returns the old status."""
    old = case.status
    if not may_move(old, status):
        raise CaseActionError("case_wrong_state", status=old)
    case.status = status
    case.version += 1
    case.updated_at = uow.now
    return old


async def audience(uow: UnitOfWork, case: Case) -> list[User]:
    """The reporter and the followers: everyone told about this case."""
    ids = [case.resident_id] if case.resident_id else []
    ids += list(
        (
            await uow.session.execute(
                select(CaseFollower.user_id).where(CaseFollower.case_id == case.id)
            )
        )
        .scalars()
        .all()
    )
    if not ids:
        return []
    rows = (await uow.session.execute(select(User).where(User.id.in_(ids)))).scalars().all()
    by_id = {u.id: u for u in rows}
    return [by_id[i] for i in ids if i in by_id]


def _owner_key(owner_id: int | None, party_id: str | None, chat_id: int | None) -> str:
    return f"m:{owner_id}" if owner_id else f"p:{party_id}" if party_id else f"c:{chat_id}"


def apply_assignment(uow: UnitOfWork, case: Case, a: Assignment) -> None:
    # The distinct owners the case has had (ping-pong between owners is counted); a case from
    # before they were kept starts from the owner it has.
    seen = list(case.owners_seen or [])
    if not seen and case.owner_chat_id is not None:
        seen = [_owner_key(case.owner_id, case.party_id, case.owner_chat_id)]
    key = _owner_key(a.owner_id, a.party_id, a.chat_id)
    if key not in seen:
        seen.append(key)
    if seen != (case.owners_seen or []):
        case.owners_seen = seen
        case.owner_count = len(seen)
    case.owner_id = a.owner_id
    case.owner_chat_id = a.chat_id
    case.party_id = a.party_id
    case.rung = a.rung
    case.follow_up_id = a.follow_up_id
    case.assignment = {"reason": a.reason, "detail": _plain(a.detail), "rung": a.rung}


def _plain(value: Any) -> Any:
    """JSON-safe copy of routing's explanation."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def set_deadlines(uow: UnitOfWork, case: Case, start: datetime | None = None) -> None:
    d = deadlines_for(uow.routing.gridmap, case.category, case.priority, start or uow.now)
    case.accept_by = d.accept_by
    case.resolve_by = d.resolve_by
    case.reminded = None


async def create_case(
    uow: UnitOfWork,
    resident: User | None,
    *,
    text: str,
    grid_id: str,
    building_id: str | None,
    place_text: str | None,
    location: tuple[float, float] | None,
    photos: list[str],
    source_update_id: int | None,
    classification: Classification | None = None,
    source: str = "bot",
    language: str | None = None,
    received: Callable[[Case], object] | None = None,
) -> Case:
    """File a report: classify, route, set deadlines, notify the owner and the resident.

    A request from an outside client (Open311) has no resident: it is routed, deadlined and
    escalated like any other case; nobody is told in a chat, the client reads it back.
    """
    if classification is None:
        classification = await neighbours.classify(uow, text)
    gridmap = uow.routing.gridmap
    case = Case(
        resident_id=resident.id if resident else None,
        language=resident.language if resident else (language or uow.settings.default_language),
        source=source,
        text=text,
        category=classification.category,
        confidence=float(classification.confidence),
        matched=list(classification.matched),
        priority=priority_of(gridmap, text),
        grid_id=grid_id,
        building_id=building_id,
        place_text=place_text,
        latitude=location[0] if location else None,
        longitude=location[1] if location else None,
        status=Status.TRIAGE if classification.category is None else Status.ASSIGNED,
        created_at=uow.now,
        updated_at=uow.now,
        source_update_id=source_update_id,
        version=0,
        reopen_count=0,
        escalation_count=0,
    )
    counts = await grid_counts(uow, grid_id)
    apply_assignment(uow, case, assign(gridmap, grid_id, case.category, uow.now, counts))
    set_deadlines(uow, case)
    if not await hot_add(uow.session, case):  # a hot transaction's: on the driver
        uow.session.add(case)
        await uow.session.flush()
    uow.created(case.id)
    case.human_id = f"GV-{uow.now.year}-{case.id:06d}"
    if received is not None:  # a hand-off from a link: its row before the card is drawn
        received(case)
    for file_id in photos:
        uow.session.add(CasePhoto(case_id=case.id, file_id=file_id, kind="report"))
    await record(
        uow,
        case,
        Actor(resident.id, "resident") if resident else Actor(None, source),
        "created",
        confidence=case.confidence,
        matched=case.matched,
        assignment=case.assignment,
    )
    if case.owner_chat_id is not None:
        await send_card(uow, case, case.owner_chat_id, photos)
    if case.follow_up_id and case.follow_up_id != case.owner_id:
        await _tell_follow_up(uow, case)
    await _hand_to_party_link(uow, case)
    if resident is None:
        return case
    # Unsure: the likeliest categories as one-tap buttons; else the full list behind a button.
    unsure = onetap.unsure(classification)
    choices = onetap.resident_choices(uow, case, classification) if unsure else []
    keyboard = (
        onetap.resident_keyboard(uow, case, choices, resident.language)
        if choices
        else [[Button.of("btn_change_category", f"r:chg:{case.id}")]]
    )
    uow.outbox.send(
        resident.id,
        resident.language,
        "case_filed",
        keyboard=keyboard,
        case_id=case.id,
        case=case,
        unsure=bool(choices),
        building=gridmap.buildings.get(case.building_id or ""),
        grid=gridmap.grids.get(case.grid_id),
        public_page=public_page(uow.settings.public_url, case.human_id),
        **_owner_data(uow, case, resident.language),
    )
    return case


def public_page(public_url: str | None, human_id: str | None) -> str | None:
    """The case's public page (web/cases.py) when the deployment has a public address."""
    if not public_url or not human_id:
        return None
    return f"{public_url.rstrip('/')}/cases/{human_id}"


def _owner_data(uow: UnitOfWork, case: Case, lang: str) -> dict[str, Any]:
    from bot.services.cases.views import ownership_data

    return ownership_data(uow, case, lang)


async def _tell_follow_up(uow: UnitOfWork, case: Case) -> None:
    from bot.services.cases.views import card_data

    chat = case.follow_up_id or 0
    uow.outbox.send(
        chat,
        await chat_language(uow, chat),
        "card_follow_up",
        case_id=case.id,
        **card_data(uow, case),
    )


def actor_for(uow: UnitOfWork, user_id: int) -> Actor:
    return Actor(user_id, staff_role(uow, user_id) or "resident")


async def accept(uow: UnitOfWork, user_id: int, case: Case) -> None:
    if case.status not in AWAITING_ACCEPT:
        raise CaseActionError("case_wrong_state", status=case.status)
    if not may_accept(uow, user_id, case):
        raise CaseActionError("accept_party_only")
    old = move(uow, case, "accepted")
    case.accepted_at = case.accepted_at or uow.now
    if case.owner_id != user_id and policy.may(uow, user_id, Capability.TAKE_OVER):
        case.owner_id = user_id
    case.reminded = None
    await record(uow, case, actor_for(uow, user_id), "accepted", from_status=old)
    await _refresh_owner_card(uow, case)
    notify_resident(uow, case, await audience(uow, case), "accepted")


async def _refresh_owner_card(uow: UnitOfWork, case: Case) -> None:
    if case.owner_chat_id is not None:
        await refresh_card(uow, case, case.owner_chat_id)


refresh_owner_card = _refresh_owner_card


async def ask(uow: UnitOfWork, user_id: int, case: Case, question: str) -> bool:
    """A staff question reaches the resident tagged with the case id; the case waits.

    Refused (`ask_no_resident`) when nobody can answer: the case has no resident (Open311)
    or they erased their data. Returns False when the resident is known to have blocked the
    bot: the question waits for them (it is sent when they write again)."""
    if case.status not in OPEN:
        raise CaseActionError("case_wrong_state", status=case.status)
    resident = await uow.session.get(User, case.resident_id) if case.resident_id else None
    if resident is None or resident.erased_at is not None:
        # Nobody can answer (the resident erased their data, or the case came without one,
        # e.g. through Open311): the case must not wait for an answer that cannot come.
        raise CaseActionError("ask_no_resident")
    old = move(uow, case, "needs_info")
    if not held(case):  # waiting for the resident's answer: the clock stops, no approval needed
        _pause(uow, case, uow.now + uow.settings.answer_wait, ANSWER)
    await record(uow, case, actor_for(uow, user_id), "asked", from_status=old, note=question)
    await _refresh_owner_card(uow, case)
    # The resident is prompted by someone else: armed through the dialogue table, so a report
    # they are writing keeps their next line (the question then asks for a reply to it).
    armed = False if resident.unreachable else dialogue.ask_resident(uow, resident, case.id)
    uow.outbox.send(
        resident.id,
        resident.language,
        "question_to_resident",
        ref=f"q:{case.id}:{resident.id}",
        case_id=case.id,
        case=case,
        question=question,
        reply_only=not armed,
    )
    return not resident.unreachable


async def resident_message(
    uow: UnitOfWork, resident: User, case: Case, text: str, *, photo: str | None = None
) -> None:
    """The resident's answer (or any note) reaches the owner, tagged with the case id. A
    photo comes with it (a picture, or an image sent as a file: `outbox.as_document`): kept
    among the case's photos and sent to the owner after the words."""
    old = case.status
    if photo:
        uow.session.add(CasePhoto(case_id=case.id, file_id=photo, kind="report"))
    if case.status == "needs_info":
        move(uow, case, "accepted" if case.accepted_at else "assigned")
    if case.held_reason == ANSWER:
        _resume(uow, case)
    await record(uow, case, Actor(resident.id, "resident"), "answered", from_status=old, note=text)
    if case.owner_chat_id is not None:
        uow.outbox.send(
            case.owner_chat_id,
            await chat_language(uow, case.owner_chat_id),
            "answer_to_staff",
            reply_to_ref=f"card:{case.id}:{case.owner_chat_id}",
            case_id=case.id,
            case=case,
            text=text,
            pseudonym=resident.pseudonym,
        )
        if photo:
            uow.outbox.photos(case.owner_chat_id, [photo], case_id=case.id)
        if old != case.status:
            await _refresh_owner_card(uow, case)
    uow.outbox.send(resident.id, resident.language, "answer_forwarded", case=case, case_id=case.id)


async def resolve(
    uow: UnitOfWork, user_id: int, case: Case, note: str, photo: str | None = None
) -> None:
    if case.status not in OPEN:
        raise CaseActionError("case_wrong_state", status=case.status)
    if await joint.open_count(uow, case):
        raise CaseActionError("tasks_open")  # every co-handler's task done or waived first
    await end_pause(uow, case, actor_for(uow, user_id))
    old = move(uow, case, "resolved")
    case.resolved_at = uow.now
    case.resolution_note = note
    await neighbours.settle(uow, case)  # its category now teaches the classifier
    if photo:
        uow.session.add(CasePhoto(case_id=case.id, file_id=photo, kind="resolution"))
    await record(
        uow,
        case,
        actor_for(uow, user_id),
        "resolved",
        from_status=old,
        note=note,
        photo=bool(photo),
    )
    await _refresh_owner_card(uow, case)
    people = await audience(uow, case)
    for person in people:
        if photo and person.erased_at is None:
            uow.outbox.photos(person.id, [photo], case_id=case.id)
    notify_resident(
        uow,
        case,
        people,
        "resolved",
        note=note,
        keyboard_for=lambda p: rating_keyboard(case) if p.id == case.resident_id else None,
        reopen_days=uow.settings.reopen_window.days,
    )


def rating_keyboard(case: Case) -> list[list[Button]]:
    return [
        [Button.literal("⭐" * n, f"r:rate:{case.id}:{n}") for n in (1, 2, 3)],
        [Button.literal("⭐" * n, f"r:rate:{case.id}:{n}") for n in (4, 5)],
        [Button.of("btn_not_solved", f"r:bad:{case.id}")],
    ]


async def reject(uow: UnitOfWork, user_id: int, case: Case, reason: str) -> None:
    if case.status not in OPEN:
        raise CaseActionError("case_wrong_state", status=case.status)
    await end_pause(uow, case, actor_for(uow, user_id))
    old = move(uow, case, "rejected")
    case.closed_at = uow.now
    await record(uow, case, actor_for(uow, user_id), "rejected", from_status=old, note=reason)
    await _refresh_owner_card(uow, case)
    notify_resident(uow, case, await audience(uow, case), "rejected", reason=reason)


# A run of seven or more digits (spaces and dashes between them allowed): a phone number, an
# id card. A public note never holds one.
_NUMBER = re.compile(r"\d(?:[\s\-]?\d){6,}")
PUBLISHED = frozenset({Status.RESOLVED, Status.CLOSED, Status.REJECTED})


async def publish_note(uow: UnitOfWork, user_id: int, case: Case, note: str) -> None:
    """The note staff publish on purpose, on a resolved, closed or declined case: what was
    done, in words anyone may read (the case page, Open311's status_notes, open data). It
    replaces an earlier public note. The resolution note and the decline reason are the
    resident's; only this is published."""
    if case.status not in PUBLISHED:
        raise CaseActionError("case_wrong_state", status=case.status)
    note = note.strip()
    if not note:
        raise CaseActionError("public_note_empty")
    if _NUMBER.search(note):
        raise CaseActionError("public_note_number")
    case.public_note = note
    case.version += 1
    await record(uow, case, actor_for(uow, user_id), "public_note", note=note)
    await _refresh_owner_card(uow, case)


async def reassign(
    uow: UnitOfWork,
    case: Case,
    a: Assignment,
    actor: Actor,
    status: str,
    kind: str,
    note: str | None = None,
) -> None:
    """Hand a case to a new owner: old card closed, new card sent, everyone told."""
    old_chat = case.owner_chat_id
    old_owner = case.owner_id
    if case.status in OPEN:
        await end_pause(uow, case)
    old = move(uow, case, status)
    apply_assignment(uow, case, a)
    case.accepted_at = None if status != "accepted" else case.accepted_at
    start = uow.now
    d = deadlines_for(uow.routing.gridmap, case.category, case.priority, start)
    case.accept_by = d.accept_by
    if kind != "reopened":
        case.resolve_by = max(case.resolve_by or d.resolve_by, d.resolve_by)
    else:
        case.resolve_by = d.resolve_by
    case.reminded = None
    await record(
        uow,
        case,
        actor,
        kind,
        from_status=old,
        note=note,
        previous_owner=old_owner,
        new_owner=a.owner_id,
        party=a.party_id,
        reason=a.reason,
    )
    if old_chat is not None and old_chat != case.owner_chat_id:
        await refresh_card(uow, case, old_chat, keyboard=[])

        uow.outbox.send(
            old_chat,
            await chat_language(uow, old_chat),
            "handover_notice",
            case_id=case.id,
            case=case,
            kind=kind,
            note=note,
            **_owner_data(uow, case, await chat_language(uow, old_chat)),
        )
    if case.owner_chat_id is not None:
        if case.owner_chat_id == old_chat:
            await refresh_card(uow, case, old_chat)
        else:
            await send_card(uow, case, case.owner_chat_id, await photo_ids(uow, case))
        if kind in ("escalated", "reopened", "rework") and note:
            uow.outbox.send(
                case.owner_chat_id,
                await chat_language(uow, case.owner_chat_id),
                "handover_notice",
                case_id=case.id,
                case=case,
                kind=kind + "_in",
                note=note,
                **_owner_data(uow, case, await chat_language(uow, case.owner_chat_id)),
            )
    notify_resident(uow, case, await audience(uow, case), kind, note=note)
    await _hand_to_party_link(uow, case)


async def _hand_to_party_link(uow: UnitOfWork, case: Case) -> None:
    """A case now owned by a party whose system is a link goes there (cases/handoffs.py)."""
    if not case.party_id or not uow.routing.gridmap.links.links:
        return
    from bot.services.cases import handoffs

    link = handoffs.party_link(uow, case.party_id)
    if link is not None:
        await handoffs.queue(uow, case, link.id, "route")


async def report_up(uow: UnitOfWork, user_id: int, case: Case) -> None:
    """Report up (上报): a leader hands the case to the deployment's superior, by hand."""
    superior = uow.routing.gridmap.links.superior
    if superior is None or case.status not in OPEN:
        raise CaseActionError("case_wrong_state", status=case.status)
    if not policy.may(uow, user_id, Capability.SUPERVISE) or not may_act(uow, user_id, case):
        raise CaseActionError("not_allowed")
    from bot.services.cases import handoffs

    await handoffs.queue(uow, case, superior, "report_up", actor_for(uow, user_id))
    await _refresh_owner_card(uow, case)


def check_transfer_target(uow: UnitOfWork, user_id: int, case: Case, target: str) -> None:
    """Refuse a target the card could not have offered this person for this case (forged
    callback data naming another grid's member, an unknown party, the presser themself)."""
    offered = {
        f"{t.kind[0]}:{t.id}"
        for t in transfer_targets(
            uow.routing.gridmap, case.grid_id, case.category or "other", {user_id}
        )
    }
    if target not in offered:
        raise CaseActionError("not_allowed")


async def transfer(uow: UnitOfWork, user_id: int, case: Case, target: str, reason: str) -> None:
    """Transfer to another member of the grid (`m:<id>`) or a party of the matrix (`p:<id>`),
    only to a target the card offers (checked again here: callback data is untrusted)."""
    check_transfer_target(uow, user_id, case, target)
    gridmap = uow.routing.gridmap
    kind, _, ident = target.partition(":")
    follow_up = case.follow_up_id
    member_id = parse_id(ident, high=MAX_TELEGRAM_ID) if kind == "m" else None
    if member_id is not None and member_id in gridmap.staff:
        person = gridmap.staff[member_id]
        if not person.active:
            raise CaseActionError("not_allowed")
        a = Assignment(
            owner_id=person.telegram_id,
            chat_id=person.telegram_id,
            party_id=None,
            rung=person.role if person.role != "party" else "member",
            reason="transferred",
            detail={"by": user_id},
            follow_up_id=None,
        )
    elif kind == "p" and ident in gridmap.parties:
        party = gridmap.parties[ident]
        if party.chat_id is None:
            raise CaseActionError("not_allowed")
        if follow_up is None and staff_role(uow, user_id) == "member":
            follow_up = user_id
        a = Assignment(
            owner_id=None,
            chat_id=party.chat_id,
            party_id=party.id,
            rung="party",
            reason="transferred",
            detail={"by": user_id},
            follow_up_id=follow_up,
        )
    else:
        raise CaseActionError("not_allowed")
    await reassign(uow, case, a, actor_for(uow, user_id), "transferred", "transferred", note=reason)


# Who may hand a case to another member at the desk (the chat's transfer is the member's own).
SUPERVISORS = policy.roles_with(Capability.REASSIGN)


async def reassign_to(
    uow: UnitOfWork, user_id: int, case: Case, member_id: int, reason: str
) -> None:
    """A supervisor hands an open case to a member or leader who works its grid."""
    if not policy.may(uow, user_id, Capability.REASSIGN) or not may_act(uow, user_id, case):
        raise CaseActionError("not_allowed")
    if case.status not in OPEN:
        raise CaseActionError("case_wrong_state", status=case.status)
    person = uow.routing.gridmap.staff.get(member_id)
    if (
        person is None
        or not person.active
        or not policy.role_may(person.role, Capability.ASSIGNABLE)
        or case.grid_id not in person.grid_ids
        or member_id == case.owner_id
    ):
        raise CaseActionError("not_allowed")
    a = Assignment(
        owner_id=member_id,
        chat_id=member_id,
        party_id=None,
        rung=person.role,
        reason="reassigned",
        detail={"by": user_id},
        follow_up_id=None,
    )
    await reassign(uow, case, a, actor_for(uow, user_id), "transferred", "reassigned", note=reason)


async def escalate_case(uow: UnitOfWork, case: Case, which: str) -> bool:
    """Move an overdue case one rung up the ladder. Returns False at the top of the ladder."""
    counts = await grid_counts(uow, case.grid_id)
    a = escalate(uow.routing.gridmap, case.grid_id, case.rung, uow.now, counts)
    if a is None:
        case.reminded = f"top:{which}"
        await record(uow, case, SYSTEM, "escalation_top", which=which)
        superior = uow.routing.gridmap.links.superior
        if superior is not None:  # past the top of the local ladder: up to the superior
            from bot.services.cases import handoffs

            await handoffs.queue(uow, case, superior, "escalate")
        return False
    await reassign(uow, case, a, SYSTEM, "escalated", "escalated", note=which)
    case.escalation_count += 1  # counted once the lifecycle allowed it, never an attempt
    return True


# --- supervision (督办) -----------------------------------------------------------------------
# A supervisor (policy: Capability.SUPERVISE, within their reach) flags an open case with its own
# deadline, in whole days from `settings.supervise_days`, and a short reason the owner reads
# (staff words: never public). The owner is told, every card, list and page marks the case, the
# scheduler escalates it when the supervision deadline passes while it is open
# (`miss_supervision`), and the assessment weighs it more (cases/queues.py).
SUPERVISE_REASON_MAX = 300


async def supervise(uow: UnitOfWork, user_id: int, case: Case, days: int, reason: str) -> None:
    if not policy.may(uow, user_id, Capability.SUPERVISE) or not may_act(uow, user_id, case):
        raise CaseActionError("not_allowed")
    if case.status not in OPEN:
        raise CaseActionError("case_wrong_state", status=case.status)
    if case.supervised_at is not None:
        raise CaseActionError("already_supervised")
    if user_id == case.owner_id:
        raise CaseActionError("supervise_own_case")
    if days not in uow.settings.supervise_days:
        raise CaseActionError("not_allowed")
    reason = " ".join(reason.split())[:SUPERVISE_REASON_MAX]
    if not reason:
        raise CaseActionError("supervise_reason_empty")
    case.supervised_at = uow.now
    case.supervised_by = user_id
    case.supervise_by = uow.now + timedelta(days=days)
    case.supervise_reason = reason
    case.version += 1
    case.updated_at = uow.now
    await record(
        uow,
        case,
        actor_for(uow, user_id),
        "supervised",
        note=reason,
        days=days,
        deadline=case.supervise_by.isoformat(),
    )
    await _refresh_owner_card(uow, case)
    if case.owner_chat_id is not None:
        supervisor = uow.routing.gridmap.staff.get(user_id)
        uow.outbox.send(
            case.owner_chat_id,
            await chat_language(uow, case.owner_chat_id),
            "supervision_to_owner",
            reply_to_ref=f"card:{case.id}:{case.owner_chat_id}",
            case_id=case.id,
            case=case,
            reason=reason,
            supervisor=supervisor.name if supervisor else None,
        )


async def miss_supervision(uow: UnitOfWork, case: Case) -> bool:
    """The supervision deadline passed while the case is open: counted once, and the case goes
    up the ladder (the scheduler calls this under the case's row lock)."""
    if case.supervise_by is None or case.supervise_missed_at is not None:
        return False
    if case.status not in OPEN or case.supervise_by > uow.now:
        return False
    case.supervise_missed_at = uow.now
    await record(uow, case, SYSTEM, "supervision_missed", deadline=case.supervise_by.isoformat())
    await escalate_case(uow, case, "supervision")
    return True


async def rework(uow: UnitOfWork, case: Case, checked_by: Actor, way: str) -> None:
    """An independent check found a closed case not fixed: it is reopened as rework, back with
    whoever handled it, and counted against that closure (cases/verification.py)."""
    if case.status != Status.CLOSED:
        raise CaseActionError("case_wrong_state", status=case.status)
    case.reopen_count += 1
    case.closed_at = None
    a = Assignment(
        owner_id=case.owner_id,
        chat_id=case.owner_chat_id or 0,
        party_id=case.party_id,
        rung=case.rung,
        reason="rework",
        detail={"way": way},
        follow_up_id=case.follow_up_id,
    )
    owner = uow.routing.gridmap.staff.get(case.owner_id or 0)
    if case.owner_chat_id is None or (case.owner_id is not None and not (owner and owner.active)):
        counts = await grid_counts(uow, case.grid_id)
        a = assign(uow.routing.gridmap, case.grid_id, case.category, uow.now, counts)
    await reassign(uow, case, a, checked_by, Status.REOPENED, "rework", note=way)


async def triage_set_category(uow: UnitOfWork, user_id: int, case: Case, category: str) -> None:
    """The leader places a case the classifier could not: category, then routing decides."""
    if case.status != "triage":
        raise CaseActionError("case_wrong_state", status=case.status)
    actor = Actor(user_id, staff_role(uow, user_id) or "leader")
    await labels.settle_label(uow, case, category, actor, "triage")
    counts = await grid_counts(uow, case.grid_id)
    a = assign(uow.routing.gridmap, case.grid_id, category, uow.now, counts)
    await reassign(uow, case, a, actor_for(uow, user_id), "assigned", "triaged")


async def resident_change_category(
    uow: UnitOfWork, resident: User, case: Case, category: str, *, source: str = "resident"
) -> None:
    """The resident corrects (or confirms) the guess: the case is routed again if nobody has
    started on it; a case waiting at triage leaves it for the category's owner."""
    if case.resident_id != resident.id or case.status not in OPEN:
        raise CaseActionError("not_allowed")
    actor = Actor(resident.id, "resident")
    changed = await labels.settle_label(uow, case, category, actor, source)
    if case.status == Status.TRIAGE or (
        changed and case.status in ("assigned", "transferred", "escalated")
    ):
        counts = await grid_counts(uow, case.grid_id)
        a = assign(uow.routing.gridmap, case.grid_id, category, uow.now, counts)
        if case.status == Status.TRIAGE or a.chat_id != case.owner_chat_id:
            await reassign(uow, case, a, actor, "assigned", "rerouted")
            return
    # Same owner: the card shows the category and carries the new version, so its buttons
    # keep working.
    await _refresh_owner_card(uow, case)
    if changed:  # a confirmation is answered where it was pressed
        notify_resident(uow, case, [resident], "category_changed")


async def resident_one_tap(
    uow: UnitOfWork, resident: User, case: Case, version: int, category: str
) -> None:
    """A press on one of the categories the filing message offered (`cases/onetap.py`): the
    same correction as the resident's full list, only from the reporter, only while nobody
    has started on the case and only with the version the buttons were drawn for (a category
    the map does not know is refused by `settle_label`)."""
    refused = onetap.refusal(uow, case, resident.id, version)
    if refused is not None:
        raise CaseActionError(refused)
    await resident_change_category(uow, resident, case, category, source="one_tap")


async def rate(uow: UnitOfWork, resident: User, case: Case, stars: int) -> None:
    """The resident's rating. The case stays resolved, so "Not solved" still works within the
    reopen window; the scheduler closes it when the window ends (`auto_close`)."""
    if case.resident_id != resident.id or not 1 <= stars <= 5:
        raise CaseActionError("not_allowed")
    if case.status != "resolved":
        raise CaseActionError("case_wrong_state", status=case.status)
    if case.rating is not None:
        raise CaseActionError("already_rated")
    case.rating = stars
    case.version += 1
    case.updated_at = uow.now
    await record(
        uow, case, Actor(resident.id, "resident"), "rated", from_status=case.status, rating=stars
    )
    await _refresh_owner_card(uow, case)
    if case.owner_chat_id is not None:
        uow.outbox.send(
            case.owner_chat_id,
            await chat_language(uow, case.owner_chat_id),
            "rating_to_staff",
            case_id=case.id,
            case=case,
        )


async def reopen(uow: UnitOfWork, resident: User, case: Case, reason: str) -> None:
    """Not solved: back to whoever resolved it, with the reason; the leader is told too."""
    if case.resident_id != resident.id:
        raise CaseActionError("not_allowed")
    if case.status != "resolved" or case.resolved_at is None:
        raise CaseActionError("case_wrong_state", status=case.status)
    if uow.now - case.resolved_at > uow.settings.reopen_window:
        raise CaseActionError("reopen_too_late", days=uow.settings.reopen_window.days)
    case.reopen_count += 1
    case.rating = None  # "not solved" takes back a rating given earlier in the window
    case.rating_comment = None
    a = Assignment(
        owner_id=case.owner_id,
        chat_id=case.owner_chat_id or 0,
        party_id=case.party_id,
        rung=case.rung,
        reason="reopened",
        detail={},
        follow_up_id=case.follow_up_id,
    )
    await reassign(
        uow, case, a, Actor(resident.id, "resident"), "reopened", "reopened", note=reason
    )
    from bot.services.cases.views import card_data

    for leader in uow.routing.gridmap.leaders_of(case.grid_id):
        if leader.telegram_id != case.owner_id:
            uow.outbox.send(
                leader.telegram_id,
                await chat_language(uow, leader.telegram_id),
                "reopen_to_leader",
                case_id=case.id,
                reason=reason,
                **card_data(uow, case),
            )


async def cancel(uow: UnitOfWork, resident: User, case: Case) -> None:
    if case.resident_id != resident.id:
        raise CaseActionError("not_allowed")
    if case.status not in OPEN:
        raise CaseActionError("case_wrong_state", status=case.status)
    await end_pause(uow, case)
    old = move(uow, case, "cancelled")
    case.closed_at = uow.now
    await record(uow, case, Actor(resident.id, "resident"), "cancelled", from_status=old)
    await _refresh_owner_card(uow, case)
    notify_resident(uow, case, await audience(uow, case), "cancelled")


async def auto_close(uow: UnitOfWork, case: Case) -> None:
    """Close a resolved case: unrated after `auto_close_after` of silence (the resident is
    told), rated once the reopen window has passed (they said their word already)."""
    old = move(uow, case, "closed")
    case.closed_at = uow.now
    await neighbours.settle(uow, case)
    await record(uow, case, SYSTEM, "auto_closed", from_status=old, rated=case.rating is not None)
    await _refresh_owner_card(uow, case)
    if case.rating is None:
        notify_resident(uow, case, await audience(uow, case), "auto_closed")


async def follow(uow: UnitOfWork, resident: User, case: Case) -> None:
    """'I have this problem too': the resident gets this case's updates from now on."""
    exists = (
        await uow.session.execute(
            select(CaseFollower.id).where(
                CaseFollower.case_id == case.id, CaseFollower.user_id == resident.id
            )
        )
    ).scalar_one_or_none()
    if exists is None and case.resident_id != resident.id:
        uow.session.add(CaseFollower(case_id=case.id, user_id=resident.id, since=uow.now))
        await record(uow, case, Actor(resident.id, "resident"), "followed")
    notify_resident(uow, case, [resident], "followed")


# --- fair clocks: holds, extensions, the wait for the resident's answer ----------------------
# An owner asks to hold a case (a reason category, a number of days) or to extend its resolve-by
# deadline; a leader of its grid (or a higher scope) approves or declines in one press, once.
# While a case is held its clock stands still: the scheduler neither reminds nor escalates, and
# on release both deadlines move on by the time held. A question to the resident stops the
# clock too, without approval, until the answer (or `answer_wait`). `Case.deferrals` counts
# approved holds and extensions: the official on-time rate leaves those cases out.

ANSWER = "answer"  # `held_reason` while the case waits for the resident's answer
DAY_CHOICES: tuple[int, ...] = (1, 2, 3, 5, 7, 10, 14, 21, 30)


def day_choices(uow: UnitOfWork, kind: str) -> list[int]:
    """The numbers of days offered for a hold or an extension, within the deployment's limit."""
    limit = max_days(uow, kind)
    return [d for d in DAY_CHOICES if d < limit] + [limit]


def max_days(uow: UnitOfWork, kind: str) -> int:
    s = uow.settings
    return max(1, (s.hold_max if kind == "hold" else s.extension_max).days)


def held(case: Case) -> bool:
    """Whether the case's clock stands still now (a hold, or a question to the resident)."""
    return case.held_since is not None


def on_hold(case: Case) -> bool:
    """Whether the case is on an approved hold (not merely waiting for an answer)."""
    return case.held_since is not None and case.held_reason != ANSWER


async def pending_deferral(uow: UnitOfWork, case: Case) -> CaseDeferral | None:
    """The owner's request waiting for a leader's decision (there is at most one)."""
    if uow.none_yet(case.id, "case_deferrals"):
        return None
    return (
        await uow.session.execute(
            select(CaseDeferral)
            .where(CaseDeferral.case_id == case.id, CaseDeferral.state == "asked")
            .order_by(CaseDeferral.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


def _pause(uow: UnitOfWork, case: Case, until: datetime, reason: str) -> None:
    case.held_since = uow.now
    case.held_until = until
    case.held_reason = reason


def _resume(uow: UnitOfWork, case: Case) -> timedelta:
    """End a pause: both deadlines move on by the time the clock stood still."""
    if case.held_since is None:
        return timedelta(0)
    stood = max(uow.now - case.held_since, timedelta(0))
    gridmap, since = uow.routing.gridmap, case.held_since
    if case.accept_by is not None:
        case.accept_by = moved_by_pause(gridmap, case.priority, case.accept_by, since, uow.now)
    if case.resolve_by is not None:
        case.resolve_by = moved_by_pause(gridmap, case.priority, case.resolve_by, since, uow.now)
    case.held_since = case.held_until = case.held_reason = None
    return stood


async def end_pause(uow: UnitOfWork, case: Case, actor: Actor = SYSTEM) -> None:
    """A case that leaves its owner's hands (resolved, declined, withdrawn, handed on) takes
    the time it stood still with it: its deadlines move on, the hold is over, and a request
    still waiting for a decision lapses (the next owner asks again if they need to)."""
    request = await pending_deferral(uow, case)
    if request is not None:
        request.state = "lapsed"
    if case.held_since is None:
        return
    reason = case.held_reason
    stood = _resume(uow, case)
    if reason != ANSWER:
        await record(
            uow, case, actor, "hold_ended", reason=reason, held_s=int(stood.total_seconds())
        )


async def _ask_deferral(
    uow: UnitOfWork, user_id: int, case: Case, kind: str, reason: str, days: int, note: str
) -> None:
    if case.status not in OPEN or case.status == Status.TRIAGE:
        raise CaseActionError("case_wrong_state", status=case.status)
    if not may_act(uow, user_id, case) or not policy.may(uow, user_id, Capability.ACT):
        raise CaseActionError("not_allowed")
    if held(case) or await pending_deferral(uow, case) is not None:
        raise CaseActionError("deferral_pending")
    if not 1 <= days <= max_days(uow, kind):
        raise CaseActionError("deferral_days", days=max_days(uow, kind))
    note = note.strip()
    if not note:
        raise CaseActionError("desk_text_required")
    request = CaseDeferral(
        case_id=case.id,
        kind=kind,
        reason=reason,
        note=note,
        days=days,
        asked_by=user_id,
        asked_at=uow.now,
        state="asked",
    )
    uow.session.add(request)
    case.version += 1  # the leader's buttons carry this version: a later change makes them stale
    await record(
        uow, case, actor_for(uow, user_id), f"{kind}_asked", note=note, reason=reason, days=days
    )
    await _refresh_owner_card(uow, case)
    from bot.services.cases.views import card_data

    for leader in uow.routing.gridmap.leaders_of(case.grid_id):
        if leader.telegram_id == user_id or not leader.active:
            continue
        uow.outbox.send(
            leader.telegram_id,
            await chat_language(uow, leader.telegram_id),
            "deferral_to_leader",
            keyboard=[
                [
                    Button.of("btn_approve", f"c:apv:{case.id}:{case.version}"),
                    Button.of("btn_decline", f"c:dcl:{case.id}:{case.version}"),
                ]
            ],
            case_id=case.id,
            kind=kind,
            reason=reason,
            days=days,
            note=note,
            until=uow.now + timedelta(days=days)
            if kind == "hold"
            else (case.resolve_by or uow.now) + timedelta(days=days),
            asker=uow.routing.gridmap.staff[user_id].name
            if user_id in uow.routing.gridmap.staff
            else "",
            **card_data(uow, case),
        )


async def ask_hold(
    uow: UnitOfWork, user_id: int, case: Case, reason: str, days: int, note: str
) -> None:
    """The owner asks to hold the case: why (a reason category and a note for the leader) and
    for how many days (at most `hold_max`)."""
    if reason not in HOLD_REASONS:
        raise CaseActionError("not_allowed")
    await _ask_deferral(uow, user_id, case, "hold", reason, days, note)


async def ask_extension(uow: UnitOfWork, user_id: int, case: Case, days: int, reason: str) -> None:
    """The owner asks to move the resolve-by deadline on by `days` (at most `extension_max`)."""
    await _ask_deferral(uow, user_id, case, "extend", "", days, reason)


def may_decide(uow: UnitOfWork, user_id: int, case: Case) -> bool:
    """A leader of the case's grid, or a higher scope that oversees it, decides."""
    return policy.may(uow, user_id, Capability.APPROVE) and may_act(uow, user_id, case)


async def _decide(uow: UnitOfWork, user_id: int, case: Case, approved: bool) -> CaseDeferral:
    if not may_decide(uow, user_id, case):
        raise CaseActionError("not_allowed")
    request = await pending_deferral(uow, case)
    if request is None or case.status not in OPEN:
        raise CaseActionError("deferral_none")
    if request.asked_by == user_id:
        raise CaseActionError("deferral_own")
    request.state = "approved" if approved else "declined"
    request.decided_by = user_id
    request.decided_at = uow.now
    case.version += 1
    actor = actor_for(uow, user_id)
    asker = request.asked_by
    if not approved:
        await record(uow, case, actor, f"{request.kind}_declined", reason=request.reason)
    elif request.kind == "hold":
        until = uow.now + timedelta(days=request.days)
        _resume(uow, case)  # a wait for the resident's answer asked since: its time counts too
        _pause(uow, case, until, request.reason)
        case.deferrals += 1
        await record(uow, case, actor, "held", reason=request.reason, until=until.isoformat())
        notify_resident(
            uow, case, await audience(uow, case), "held", reason_code=request.reason, until=until
        )
    else:
        previous = case.resolve_by or uow.now
        case.resolve_by = previous + timedelta(days=request.days)
        case.deferrals += 1
        if case.reminded == "resolve":
            case.reminded = None
        await record(
            uow,
            case,
            actor,
            "extended",
            previous=previous.isoformat(),
            resolve_by=case.resolve_by.isoformat(),
        )
        notify_resident(uow, case, await audience(uow, case), "extended")
    await _refresh_owner_card(uow, case)
    uow.outbox.send(
        asker,
        await chat_language(uow, asker),
        "deferral_decided",
        case_id=case.id,
        case=case,
        kind=request.kind,
        approved=approved,
    )
    return request


async def approve_deferral(uow: UnitOfWork, user_id: int, case: Case) -> None:
    await _decide(uow, user_id, case, approved=True)


async def decline_deferral(uow: UnitOfWork, user_id: int, case: Case) -> None:
    await _decide(uow, user_id, case, approved=False)


async def release(uow: UnitOfWork, user_id: int | None, case: Case) -> None:
    """The hold ends: by the owner's press, or by itself at its end (the scheduler, no user).
    The deadlines move on by the time held; the resident is told work has resumed."""
    if not on_hold(case):
        raise CaseActionError("case_not_held")
    actor = SYSTEM if user_id is None else actor_for(uow, user_id)
    reason = case.held_reason
    stood = _resume(uow, case)
    case.version += 1
    case.reminded = None
    await record(uow, case, actor, "hold_ended", reason=reason, held_s=int(stood.total_seconds()))
    await _refresh_owner_card(uow, case)
    notify_resident(uow, case, await audience(uow, case), "resumed")


async def release_hold(uow: UnitOfWork, user_id: int, case: Case) -> None:
    """The owner's Release button."""
    await release(uow, user_id, case)


async def hold_over(uow: UnitOfWork, case: Case) -> bool:
    """The scheduler: a hold reaches its end by itself; a question unanswered for
    `answer_wait` lets the clock run again (the case still waits for the answer)."""
    if case.held_since is None:
        return False
    if case.held_reason == ANSWER:
        _resume(uow, case)
        await record(uow, case, SYSTEM, "answer_wait_over")
        return True
    await release(uow, None, case)
    return True


# --- joint handling and summons (吹哨报到) ---------------------------------------------------
# The lead (or anyone who may act on the case) adds a co-handler with a task; a grid member or
# leader (Capability.SUMMON) summons a party or member, who signs in (报到) and makes first
# contact within the configured times. Each co-handler gets a card of their own (joint.py);
# their presses come here, from the chat or any other edge, checked against the task's own
# staff and its version. The resident is told nothing new: they see one case.


async def _add_task(
    uow: UnitOfWork, user_id: int, case: Case, kind: str, target: str, task: str
) -> CaseTask:
    if not may_act(uow, user_id, case):
        raise CaseActionError("not_allowed")
    if case.status not in OPEN or case.status == Status.TRIAGE:
        raise CaseActionError("case_wrong_state", status=case.status)
    if kind == joint.SUMMONS and not policy.may(uow, user_id, Capability.SUMMON):
        raise CaseActionError("not_allowed")
    helper = await joint.check_helper(uow, user_id, case, target)
    task = " ".join(task.split())[: joint.TASK_MAX]
    if not task:
        raise CaseActionError("task_empty")
    s = uow.settings
    party = helper.kind == "party"
    row = CaseTask(
        case_id=case.id,
        kind=kind,
        party_id=helper.id if party else None,
        member_id=None if party else int(helper.id),
        chat_id=helper.chat_id or 0,
        grid_id=case.grid_id,
        task=task,
        added_by=user_id,
        added_at=uow.now,
        due_at=uow.now + s.task_within,
        sign_by=uow.now + s.summons_sign if kind == joint.SUMMONS else None,
        contact_by=uow.now + s.summons_contact if kind == joint.SUMMONS else None,
        status=joint.OPEN,
        version=1,
    )
    uow.session.add(row)
    await uow.session.flush()
    case.version += 1  # the lead's card now says why it cannot resolve yet
    case.updated_at = uow.now
    await record(
        uow,
        case,
        actor_for(uow, user_id),
        "summoned" if kind == joint.SUMMONS else "cohandler_added",
        note=task,
        task=row.id,
        helper=target,
        due=row.due_at.isoformat(),
    )
    await joint.send_card(uow, case, row)
    await _refresh_owner_card(uow, case)
    lead = user_id if case.owner_chat_id is None else case.owner_chat_id
    uow.outbox.send(
        lead,
        await chat_language(uow, lead),
        "task_given",
        keyboard=joint.lead_keyboard(row),
        case_id=case.id,
        case=case,
        t=row,
        helper=joint.name_of(uow, row, await chat_language(uow, lead)),
    )
    return row


async def add_cohandler(
    uow: UnitOfWork, user_id: int, case: Case, target: str, task: str
) -> CaseTask:
    """Joint handling: another party or member of the map takes a task on this case."""
    return await _add_task(uow, user_id, case, joint.JOINT, target, task)


async def summon(uow: UnitOfWork, user_id: int, case: Case, target: str, task: str) -> CaseTask:
    """吹哨: summon a party or member of the map to the case, to sign in and make contact."""
    return await _add_task(uow, user_id, case, joint.SUMMONS, target, task)


async def _task_for(
    uow: UnitOfWork, task_id: int, version: int | None, *, lock: bool = True
) -> tuple[CaseTask, Case]:
    stmt = select(CaseTask).where(CaseTask.id == task_id)
    if lock and not uow.domain.sqlite:
        stmt = stmt.with_for_update()
    task = (await uow.session.execute(stmt)).scalar_one_or_none()
    if task is None:
        raise CaseActionError("not_allowed")
    if task.status != joint.OPEN:
        raise CaseActionError("task_closed")
    if version is not None and version != task.version:
        raise CaseActionError("task_outdated")
    case = await get_case(uow, task.case_id)
    if case.status not in OPEN:  # declined, withdrawn or resolved: nothing left to help with
        raise CaseActionError("case_wrong_state", status=case.status)
    return task, case


TASK_STEPS = ("sign", "contact", "done")


async def answer_task(
    uow: UnitOfWork, user_id: int, task_id: int, version: int | None, step: str
) -> CaseTask:
    """The co-handler's own staff sign in (报到), report first contact, or finish the task.
    The one entry for every edge (a chat button, the desk, an external party's service);
    a replayed or stale press (another version) and a stranger change nothing."""
    if step not in TASK_STEPS:
        raise CaseActionError("not_allowed")
    task, case = await _task_for(uow, task_id, version)
    if not joint.is_own(uow, user_id, task):
        raise CaseActionError("not_allowed")
    if step == "sign":
        if task.kind != joint.SUMMONS or task.signed_at is not None:
            raise CaseActionError("task_outdated")
        task.signed_at = uow.now
        kind = "summons_signed"
    elif step == "contact":
        if task.kind != joint.SUMMONS or task.contacted_at is not None:
            raise CaseActionError("task_outdated")
        task.signed_at = task.signed_at or uow.now
        task.contacted_at = uow.now
        kind = "summons_contacted"
    else:
        task.status = joint.DONE
        task.closed_at = uow.now
        task.closed_by = user_id
        kind = "task_done"
    task.version += 1
    if step == "done":
        case.version += 1
        case.updated_at = uow.now
    await record(uow, case, actor_for(uow, user_id), kind, task=task.id)
    await joint.refresh_card(uow, case, task)
    if step == "done":
        await _refresh_owner_card(uow, case)
        await _tell_lead(uow, case, task, "task_closed_to_lead")
    return task


async def waive_task(
    uow: UnitOfWork, user_id: int, task_id: int, version: int | None, reason: str
) -> CaseTask:
    """The lead (or anyone who may act on the case, not the co-handler themself) waives an
    open task, with a reason."""
    task, case = await _task_for(uow, task_id, version)
    _may_waive(uow, user_id, case, task)
    reason = " ".join(reason.split())[: joint.TASK_MAX]
    if not reason:
        raise CaseActionError("task_reason_empty")
    task.status = joint.WAIVED
    task.closed_at = uow.now
    task.closed_by = user_id
    task.waive_reason = reason
    task.version += 1
    case.version += 1
    case.updated_at = uow.now
    await record(uow, case, actor_for(uow, user_id), "task_waived", note=reason, task=task.id)
    await joint.refresh_card(uow, case, task)
    await _refresh_owner_card(uow, case)
    return task


def _may_waive(uow: UnitOfWork, user_id: int, case: Case, task: CaseTask) -> None:
    if not joint.may_waive(uow, user_id, case, task):
        raise CaseActionError("not_allowed")


async def waivable(uow: UnitOfWork, user_id: int, task_id: int, version: int | None) -> Case:
    """The case of a task this person may waive now (before its reason is asked)."""
    task, case = await _task_for(uow, task_id, version)
    _may_waive(uow, user_id, case, task)
    return case


async def _tell_lead(uow: UnitOfWork, case: Case, task: CaseTask, template: str) -> None:
    if case.owner_chat_id is None:
        return
    lang = await chat_language(uow, case.owner_chat_id)
    uow.outbox.send(
        case.owner_chat_id,
        lang,
        template,
        case_id=case.id,
        case=case,
        t=task,
        helper=joint.name_of(uow, task, lang),
    )


MISSES = ("sign", "contact", "overdue")


async def miss_task(uow: UnitOfWork, task: CaseTask, which: str) -> bool:
    """A task's deadline passed (the scheduler calls this under the task's row lock): counted
    once, on the case's audit trail, and escalated up the co-handler's ladder — the grid's
    leaders (`gridmap.ladder`: a member's and a party's next rung) and the lead are told."""
    if task.status != joint.OPEN or which not in MISSES:
        return False
    if which == "sign":
        if task.signed_at is not None or task.sign_missed_at is not None or not task.sign_by:
            return False
        if task.sign_by > uow.now:
            return False
        task.sign_missed_at = uow.now
    elif which == "contact":
        if task.contacted_at is not None or task.contact_missed_at is not None:
            return False
        if not task.contact_by or task.contact_by > uow.now:
            return False
        task.contact_missed_at = uow.now
    else:
        if task.overdue_at is not None or task.due_at > uow.now:
            return False
        task.overdue_at = uow.now
    case = await get_case(uow, task.case_id)
    if case.status not in OPEN:
        return False
    await record(uow, case, SYSTEM, f"task_missed_{which}", task=task.id)
    gridmap = uow.routing.gridmap
    rung = gridmap.ladder.get("party" if task.party_id else "member", "leader")
    up = gridmap.leaders_of(task.grid_id) if rung == "leader" else []
    if not up:
        up = (
            gridmap.centre_of(gridmap.grids[task.grid_id].community_id)
            if task.grid_id in gridmap.grids
            else []
        )
    told = {p.telegram_id for p in up}
    if case.owner_chat_id is not None:
        told.add(case.owner_chat_id)
    told.add(task.chat_id)
    for chat in sorted(told):
        lang = await chat_language(uow, chat)
        uow.outbox.send(
            chat,
            lang,
            "task_missed",
            case_id=case.id,
            case=case,
            t=task,
            which=which,
            helper=joint.name_of(uow, task, lang),
        )
    return True


# --- hand-offs received from a link (cases/intake.py) ----------------------------------------


async def handoff_contacted(uow: UnitOfWork, user_id: int, case: Case) -> None:
    """The owner of a received hand-off made first contact (a call, a visit): recorded once,
    on the staff timeline; it meets the first-contact deadline (cases/intake.py)."""
    if case.status not in OPEN:
        raise CaseActionError("case_wrong_state", status=case.status)
    if not await intake.contact_open(uow, case):
        raise CaseActionError("not_a_handoff")
    case.version += 1
    await record(uow, case, actor_for(uow, user_id), "handoff_contacted")
    await _refresh_owner_card(uow, case)


# --- whose duty (cases/duty.py): a return citing the duty list, and the one ruling on it ----
# The action table runs lifecycle functions; the rules live in `duty.py` (imported here when
# run: it builds on this module).


async def return_case(uow: UnitOfWork, user_id: int, case: Case, clause: str, reason: str) -> Any:
    """The owner returns the case ("not ours"), citing a clause naming another owner."""
    from bot.services.cases import duty

    return await duty.return_case(uow, user_id, case, clause, reason)


async def rule_reassign(uow: UnitOfWork, user_id: int, case: Case, reason: str) -> None:
    """The adjudicator: the case goes to the owner the cited clause names."""
    from bot.services.cases import duty

    await duty.rule(uow, user_id, case, "reassigned", reason)


async def rule_amend(uow: UnitOfWork, user_id: int, case: Case, reason: str) -> None:
    """The adjudicator: reassigned, and the duty list changes for new cases of the community."""
    from bot.services.cases import duty

    await duty.rule(uow, user_id, case, "amended", reason)


async def rule_uphold(uow: UnitOfWork, user_id: int, case: Case, reason: str) -> None:
    """The adjudicator: the returner keeps the case (the return is overruled)."""
    from bot.services.cases import duty

    await duty.rule(uow, user_id, case, "upheld", reason)


# --- organisations: a case offered to the community's organisations ------------------------


async def offer_to_organisations(uow: UnitOfWork, user_id: int, case: Case) -> int:
    """Offer the case to the organisations that joined its community (once): each contact is
    told its category, the description staff approved for publication (if any) and its grid —
    never the resident, their words or their address — and answers with a button
    (`cases/offers.py`). Returns how many were told."""
    from bot.services.participation import volunteers

    grid = uow.routing.gridmap.grids.get(case.grid_id)
    orgs = await volunteers.joined_organisations(uow, grid.community_id if grid else "")
    if not orgs:
        raise CaseActionError("offer_org_none")
    if await volunteers.offered_before(uow, case.id):
        raise CaseActionError("offer_org_done")
    from bot.services.cases import offers

    for org, lang in orgs:
        await offers.make(uow, case, org, lang)
    case.version += 1
    await record(uow, case, actor_for(uow, user_id), "offered_org", organisations=len(orgs))
    await _refresh_owner_card(uow, case)
    return len(orgs)


async def called_back(uow: UnitOfWork, user_id: int, case: Case) -> int:
    """*Called*: the owner phoned the resident of an assisted case about the steps they were
    reminded of (`staff_intake.remind_call_back`). Every reminder waiting is answered at once
    and recorded once on the timeline (`called_back`); a second press finds none waiting and
    changes nothing."""
    if not may_act(uow, user_id, case):
        raise CaseActionError("not_allowed")
    done = await uow.session.execute(
        update(CallBack)
        .where(CallBack.case_id == case.id, CallBack.called_at.is_(None))
        .values(called_at=uow.now, called_by=user_id)
        .execution_options(synchronize_session=False)
    )
    count = done.rowcount or 0  # type: ignore[attr-defined]
    if not count:
        raise CaseActionError("called_back_none")
    await record(uow, case, actor_for(uow, user_id), "called_back", steps=count)
    await _refresh_owner_card(uow, case)
    return int(count)


# --- work items: a proposal the committee accepted, tracked like a case ----------------------


async def create_work_item(
    uow: UnitOfWork, by: int, proposal: Any, member_id: int, due: datetime
) -> int:
    """A case for an accepted proposal (no resident: the proposal is public, its author is not
    named), owned by `member_id` and due at `due`; it is worked and closed like any case."""
    photos = [proposal.photo_file_id] if proposal.photo_file_id else []
    case = await create_case(
        uow,
        None,
        text=f"{proposal.title}\n\n{proposal.text}",
        grid_id=proposal.grid_id,
        building_id=None,
        place_text=None,
        location=None,
        photos=photos,
        source_update_id=None,
        source="proposal",
        language=proposal.language,
    )
    case.public_description = f"{proposal.title}\n\n{proposal.text}"
    if case.owner_id != member_id:
        person = uow.routing.gridmap.staff.get(member_id)
        a = Assignment(
            owner_id=member_id,
            chat_id=member_id,
            party_id=None,
            rung=person.role if person else "member",
            reason="reassigned",
            detail={"by": by, "proposal": proposal.id},
            follow_up_id=None,
        )
        await reassign(uow, case, a, actor_for(uow, by), "transferred", "reassigned")
    case.resolve_by = due
    return case.id


proposals.WORK_ITEM[:] = [create_work_item]
