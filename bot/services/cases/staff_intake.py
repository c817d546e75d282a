"""Cases staff file themselves: found on patrol (source ``staff_patrol``) and on behalf of a
resident without Telegram, by a phone call or a walk-in (source ``assisted``).

An assisted case is filed only with the resident's consent recorded, and says how they want to
hear back: by the printed case id (its public page shows the progress) or by phone. The phone
is kept apart (`AssistedContact`), read only by staff who may see the case
(`access.may_see_contact`), never by a public page, Open311 or open data, erased on request and
a month after the case closed. Both edges (the chat's `/patrol` and `/assist`, the desk's
intake form) file through here.

A resident who hears back by phone is not told a step in the chat: when the case reaches a
step a resident of the chat would be told of (`CALL_BACK_STEPS`), its owner is reminded to call
them back (`remind_call_back`: the number, for staff only, and a *Called* button, the action
table's `called_back` row); the reminders left unanswered show on the owner's card. By the
printed id nothing is sent: the public page shows the progress.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from bot.services.cases.lifecycle import create_case
from bot.services.cases.status import FINISHED
from bot.services.people import policy
from bot.services.people.access import may_see_contact, scope_grids
from bot.services.people.policy import Capability
from bot.services.shared.domain import UnitOfWork
from bot.services.shared.languages import chat_language
from bot.services.shared.outbox import Button
from bot.store.models import AssistedContact, CallBack, Case
from routing.classifier import Classification

#: How a case came in. "bot" is a resident through the chat.
SOURCES = ("bot", "open311", "staff_patrol", "assisted")
RESIDENT_SOURCES = ("bot", "open311")
STAFF_SOURCES = ("staff_patrol", "assisted")
CHANNELS = ("phone", "walk_in")
HEAR_BACK = ("printed", "phone")
TEXT_MAX = 2000
ADDRESS_SCORE = 0.6
_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{4,19}$")


class IntakeError(Exception):
    """A refusal, with the label key to answer with."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class Place:
    grid_id: str
    building_id: str | None
    point: tuple[float, float] | None


def may_file(uow: UnitOfWork, user_id: int) -> bool:
    """Staff who work cases file what they find and what residents tell them."""
    return policy.may(uow, user_id, Capability.ACT)


def place_of(
    uow: UnitOfWork, *, point: tuple[float, float] | None = None, words: str | None = None
) -> Place:
    """A pin inside a grid, or words naming a building of the map."""
    routing = uow.routing
    if point is not None:
        grid = routing.locator.locate(point[0], point[1])
        if grid is None:
            raise IntakeError("intake_outside")
        return Place(grid.id, None, point)
    matches = routing.addresses.match(words or "", limit=1)
    if not matches or matches[0].score < ADDRESS_SCORE:
        raise IntakeError("intake_no_place")
    return Place(matches[0].grid.id, matches[0].building.id, None)


def clean_phone(text: str | None) -> str | None:
    """A phone number as typed (digits, spaces, dashes, a leading +), or IntakeError."""
    if text is None:
        return None
    text = text.strip()
    if not _PHONE.match(text):
        raise IntakeError("intake_bad_phone")
    return text


def _check(uow: UnitOfWork, user_id: int, place: Place, text: str) -> str:
    if not may_file(uow, user_id):
        raise IntakeError("not_allowed")
    grids = scope_grids(uow, user_id)
    staff = uow.routing.gridmap.staff.get(user_id)
    if (
        grids is not None
        and place.grid_id not in grids
        and not (staff is not None and place.grid_id in staff.grid_ids)
    ):
        raise IntakeError("intake_outside")
    text = text.strip()
    if not text:
        raise IntakeError("intake_no_text")
    return text[:TEXT_MAX]


def _classification(category: str | None) -> Classification | None:
    return Classification(category, 1.0, (), {}) if category else None


async def file_patrol(
    uow: UnitOfWork,
    staff_id: int,
    *,
    text: str,
    place: Place,
    photos: list[str],
    category: str | None = None,
    language: str | None = None,
) -> Case:
    """A case a grid member found on patrol: routed, deadlined and published like any other,
    counted as found by staff."""
    text = _check(uow, staff_id, place, text)
    if category is not None and category not in uow.routing.gridmap.categories:
        raise IntakeError("intake_no_text")
    case = await create_case(
        uow,
        None,
        text=text,
        grid_id=place.grid_id,
        building_id=place.building_id,
        place_text=None,
        location=place.point,
        photos=photos,
        source_update_id=None,
        classification=_classification(category),
        source="staff_patrol",
        language=language,
    )
    case.assignment = {**(case.assignment or {}), "filed_by": staff_id}
    return case


async def file_assisted(
    uow: UnitOfWork,
    staff_id: int,
    *,
    text: str,
    place: Place,
    channel: str,
    hear_back: str,
    phone: str | None,
    consent: bool,
    language: str | None = None,
) -> Case:
    """A case for a resident without Telegram, with their consent recorded and how they want
    to hear back. Refused without consent, or "by phone" without a number."""
    text = _check(uow, staff_id, place, text)
    if not consent:
        raise IntakeError("intake_no_consent")
    if channel not in CHANNELS or hear_back not in HEAR_BACK:
        raise IntakeError("intake_no_text")
    phone = clean_phone(phone) if phone else None
    if hear_back == "phone" and phone is None:
        raise IntakeError("intake_bad_phone")
    case = await create_case(
        uow,
        None,
        text=text,
        grid_id=place.grid_id,
        building_id=place.building_id,
        place_text=None,
        location=place.point,
        photos=[],
        source_update_id=None,
        source="assisted",
        language=language,
    )
    case.assignment = {**(case.assignment or {}), "filed_by": staff_id}
    uow.session.add(
        AssistedContact(
            case_id=case.id,
            channel=channel,
            hear_back=hear_back,
            phone=phone,
            consent_at=uow.now,
            recorded_by=staff_id,
        )
    )
    await uow.session.flush()
    return case


async def assisted_contact(uow: UnitOfWork, user_id: int, case: Case) -> AssistedContact | None:
    """How to reach the resident of an assisted case: staff who may see the case only."""
    if case.source != "assisted" or not may_see_contact(uow, user_id, case):
        return None
    return await uow.session.get(AssistedContact, case.id)


async def erase_contact(uow: UnitOfWork, user_id: int, case: Case) -> bool:
    """The resident asked to be forgotten (by phone or at the desk): the number goes; that
    they agreed to the filing stays recorded. True when there was a number."""
    if case.source != "assisted" or not may_see_contact(uow, user_id, case):
        raise IntakeError("not_allowed")
    gone = await uow.session.execute(
        update(AssistedContact)
        .where(AssistedContact.case_id == case.id, AssistedContact.phone.is_not(None))
        .values(phone=None, hear_back="printed")
    )
    return bool(gone.rowcount)  # type: ignore[attr-defined]


async def forget_contacts(uow: UnitOfWork, keep_after_close: object) -> int:
    """Retention: an assisted resident's number goes a month after their case closed."""
    done = select(Case.id).where(
        Case.source == "assisted",
        Case.status.in_(sorted(FINISHED)),
        Case.closed_at.is_not(None),
        Case.closed_at < uow.now - keep_after_close,  # type: ignore[operator]
    )
    gone = await uow.session.execute(
        update(AssistedContact)
        .where(AssistedContact.case_id.in_(done), AssistedContact.phone.is_not(None))
        .values(phone=None)
    )
    return gone.rowcount or 0  # type: ignore[attr-defined]


# --- calling the resident back ---------------------------------------------------------------

# The steps a resident of the chat is told of (`views.notify_resident`), by their audit kind.
CALL_BACK_STEPS = frozenset(
    {
        "accepted",
        "resolved",
        "rejected",
        "transferred",
        "escalated",
        "reassigned",
        "rerouted",
        "triaged",
        "reopened",
        "rework",
        "held",
        "hold_ended",
        "extended",
        "auto_closed",
        "handed_off",
        "remote_accepted",
    }
)


async def remind_call_back(uow: UnitOfWork, case: Case, kind: str) -> None:
    """A step the resident hears of by phone: one reminder row, and the owner is told the
    number with a *Called* button. Nothing for a printed id or a number erased."""
    if case.source != "assisted" or kind not in CALL_BACK_STEPS:
        return
    contact = await uow.session.get(AssistedContact, case.id)
    if contact is None or contact.hear_back != "phone" or not contact.phone:
        return
    uow.session.add(CallBack(case_id=case.id, event=kind, due_at=uow.now))
    chat = case.owner_chat_id
    if chat is None:
        return
    from bot.services.cases.actions import BY_NAME
    from bot.services.cases.views import card_ref, cb

    code = BY_NAME["called_back"].code or ""
    lang = await chat_language(uow, chat)
    uow.outbox.send(
        chat,
        lang,
        "call_back",
        keyboard=[[Button.of("btn_called_back", cb(code, case))]],
        case_id=case.id,
        reply_to_ref=card_ref(case, chat),
        case=case,
        event=kind,
        phone=contact.phone,
    )


async def call_back_due(uow: UnitOfWork, case: Case) -> dict[str, Any] | None:
    """The reminders not yet answered on a case, and the number to call (staff only: the
    owner's card, the desk); None when none waits."""
    if case.source != "assisted":
        return None
    count = (
        await uow.session.execute(
            select(func.count(CallBack.id)).where(
                CallBack.case_id == case.id, CallBack.called_at.is_(None)
            )
        )
    ).scalar_one()
    if not count:
        return None
    contact = await uow.session.get(AssistedContact, case.id)
    return {"count": int(count), "phone": contact.phone if contact else None}
