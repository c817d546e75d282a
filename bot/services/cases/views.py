"""What people see of a case: the staff card, its buttons, and the resident's updates.

Data in, outbox rows out; the words themselves are templates.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.services.cases import onetap
from bot.services.cases.status import AWAITING_ACCEPT as AWAITING_ACCEPT
from bot.services.cases.status import OPEN as OPEN
from bot.services.cases.status import WORKING as WORKING
from bot.services.people.residents import nearest_building, pseudonym_for
from bot.services.shared.domain import UnitOfWork
from bot.services.shared.languages import chat_language
from bot.services.shared.messaging import remember_retired
from bot.services.shared.outbox import Button, Keyboard
from bot.store.models import Case, Handoff, MessageRef, User
from routing.gridmap import DEFAULT_CATEGORIES, Building


def card_ref(case: Case, chat_id: int) -> str:
    return f"card:{case.id}:{chat_id}"


def cb(action: str, case: Case, *args: object) -> str:
    """Callback data for a staff button: action, case, the case version it was drawn for."""
    parts = ["c", action, str(case.id), str(case.version), *(str(a) for a in args)]
    return ":".join(parts)


async def staff_keyboard(uow: UnitOfWork, case: Case, chat_id: int) -> Keyboard:
    """The card's buttons: the actions of the table offered in this chat for the case's
    state (for a choice of category: the classifier's top three, then *More…*)."""
    from bot.services.cases import actions

    where = actions.Where(uow, case, chat_id=chat_id)
    buttons: list[Button] = []
    keyboard: Keyboard = []
    for action in await actions.offered(where):
        if action.code is None:
            continue  # the desk's only
        if action.button is not None:
            buttons.append(Button.of(action.button, cb(action.code, case)))
        elif actions.Asks.CATEGORY in action.asks:
            keyboard += category_choices(uow, case, action.code, action.steps[0])
    half = len(buttons) // 2
    return [row for row in (buttons[:half], buttons[half:]) if row] + keyboard


# The taxonomy's order on category buttons (labels `cat_<id>` exist for each).
CATEGORY_ORDER = DEFAULT_CATEGORIES


def _rows(items: tuple[str, ...] | list[str], width: int) -> list[list[str]]:
    return [list(items[i : i + width]) for i in range(0, len(items), width)]


def category_choices(
    uow: UnitOfWork, case: Case, code: str, more: str | None, *, full: bool = False
) -> Keyboard:
    """A card's category buttons (`c:<code>:<case>:<version>:<category>`): the classifier's
    likeliest three and *More…* (`c:<more>:…`), or with `full` the whole taxonomy."""
    if full or more is None:
        return [
            [Button.of(f"cat_{c}", cb(code, case, c)) for c in row]
            for row in _rows(CATEGORY_ORDER, 3)
        ]
    top = onetap.top_categories(uow, case.text)
    return [
        [Button.of(f"cat_{c}", cb(code, case, c)) for c in top],
        [Button.of("btn_more_categories", cb(more, case))],
    ]


def category_keyboard(prefix: str, categories: tuple[str, ...] | list[str]) -> Keyboard:
    return [[Button.of(f"cat_{c}", f"{prefix}:{c}") for c in row] for row in _rows(categories, 3)]


def card_data(uow: UnitOfWork, case: Case, photos: int = 0) -> dict[str, Any]:
    gridmap = uow.routing.gridmap
    grid = gridmap.grids.get(case.grid_id)
    building = gridmap.buildings.get(case.building_id or "")
    owner = gridmap.staff.get(case.owner_id or 0)
    party = gridmap.parties.get(case.party_id or "")
    return {
        "case": case,
        "grid": grid,
        "building": building,
        "near": _near(uow, case) if building is None else None,
        "owner_name": owner.name if owner else None,
        "party": party,
        "photos": photos,
        "age": uow.now - case.created_at,
        "pseudonym": pseudonym_for(case.resident_id) if case.resident_id else None,
        "now": uow.now,
    }


def _near(uow: UnitOfWork, case: Case) -> Building | None:
    """For a case placed by a point (a pin, or a home given as a pin), the grid's building
    nearest to it, so staff know where to go in a grid of many buildings."""
    if case.latitude is None or case.longitude is None:
        return None
    return nearest_building(uow, case.grid_id, (case.latitude, case.longitude))


def accepts_in(uow: UnitOfWork, case: Case, chat_id: int) -> bool:
    """Whether a card in this chat may offer Accept: a party's case only in the party's
    group or to the party's own staff."""
    if not case.party_id:
        return True
    party = uow.routing.gridmap.parties.get(case.party_id)
    if party is not None and party.chat_id == chat_id:
        return True
    staff = uow.routing.gridmap.staff.get(chat_id)
    return staff is not None and staff.party_id == case.party_id


async def send_card(uow: UnitOfWork, case: Case, chat_id: int, photo_ids: list[str]) -> None:
    """A new card in `chat_id` (photos first), remembered so it can be edited in place.

    A chat has one live copy of a case's card: an older copy (the original before `/case`)
    loses its buttons, so it cannot be pressed by mistake."""
    await _retire_copy(uow, case, chat_id)
    lang = await chat_language(uow, chat_id)
    if photo_ids:
        uow.outbox.photos(chat_id, photo_ids, case_id=case.id)
    uow.outbox.send(
        chat_id,
        lang,
        "card",
        **await card_extras(uow, case),
        keyboard=await staff_keyboard(uow, case, chat_id),
        ref=card_ref(case, chat_id),
        case_id=case.id,
        **card_data(uow, case, len(photo_ids)),
    )


async def _retire_copy(
    uow: UnitOfWork, case: Case, chat_id: int, keep: int | None = None
) -> MessageRef | None:
    """Take the buttons off the chat's remembered copy of the card (unless it is `keep`);
    replies to it still reach the case. Returns the card's ref when a copy was retired."""
    name = card_ref(case, chat_id)
    if uow.none_yet(case.id, "message_refs"):
        return None
    ref = await uow.session.get(MessageRef, name)
    if ref is None or ref.message_id == keep:
        return None
    await remember_retired(uow, ref)
    uow.outbox.edit_markup(chat_id, ref.message_id)
    return ref


async def adopt_pressed_card(uow: UnitOfWork, case: Case, chat_id: int, message_id: int) -> None:
    """The copy of a card that was pressed is the one edited from now on (a press on the
    original after `/case` edits the original); the other copy loses its buttons.

    The pressed copy is drawn again at once: it may have been retired (its buttons taken
    off) before, and a chat always keeps one live copy, whatever the press then does."""
    ref = await _retire_copy(uow, case, chat_id, keep=message_id)
    if ref is not None:
        ref.message_id = message_id
        await refresh_card(uow, case, chat_id)


async def refresh_card(
    uow: UnitOfWork, case: Case, chat_id: int, *, keyboard: Keyboard | None = None
) -> None:
    """Edit the card in place so its buttons always match the case's state."""
    lang = await chat_language(uow, chat_id)
    uow.outbox.edit(
        card_ref(case, chat_id),
        chat_id,
        lang,
        "card",
        **await card_extras(uow, case),
        keyboard=await staff_keyboard(uow, case, chat_id) if keyboard is None else keyboard,
        case_id=case.id,
        **card_data(uow, case),
    )


async def card_extras(uow: UnitOfWork, case: Case) -> dict[str, Any]:
    """What the staff card reads beyond the case row: whether the resident blocked the bot,
    where the case was handed off, the organisations' answers, a call-back that waits."""
    from bot.services.cases import offers, staff_intake

    return {
        "unreachable": await resident_unreachable(uow, case),
        "remote": await remote_of(uow, case),
        "org": await offers.status(uow, case),
        "call_back": await staff_intake.call_back_due(uow, case),
    }


async def remote_of(uow: UnitOfWork, case: Case) -> dict[str, Any] | None:
    """The case's latest hand-off to another system, for staff: where, its id there, its
    status there (cases/handoffs.py). None when the case never left."""
    if uow.none_yet(case.id, "handoffs"):
        return None
    row = (
        await uow.session.execute(
            select(Handoff).where(Handoff.case_id == case.id).order_by(Handoff.id.desc()).limit(1)
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    link = uow.routing.gridmap.links.get(row.link_id)
    return {
        "name": link.name if link else {"en": row.link_id, "zh": row.link_id},
        "remote_id": row.remote_id,
        "status": row.remote_external or row.remote_status or row.step,
        "state": row.status,
    }


async def resident_unreachable(uow: UnitOfWork, case: Case) -> bool:
    """Whether the case's resident blocked the bot (the card warns the staff)."""
    if not case.resident_id:
        return False
    resident = await uow.session.get(User, case.resident_id)
    return bool(resident is not None and resident.unreachable)


def case_place(uow: UnitOfWork, case: Case, lang: str) -> str:
    """Where a case is, from the map only (never the reporter's own words): building or grid."""
    gridmap = uow.routing.gridmap
    building = gridmap.buildings.get(case.building_id or "")
    if building is not None:
        return building.name.get(lang)
    grid = gridmap.grids.get(case.grid_id)
    return grid.name.get(lang) if grid is not None else ""


def ownership_data(uow: UnitOfWork, case: Case, lang: str) -> dict[str, Any]:
    """Who handles the case, as the resident is told it."""
    gridmap = uow.routing.gridmap
    party = gridmap.parties.get(case.party_id or "")
    owner = gridmap.staff.get(case.owner_id or 0)
    follow = gridmap.staff.get(case.follow_up_id or 0)
    return {
        "party_name": party.name.get(lang) if party else None,
        "owner_name": owner.name if owner else None,
        "owner_rung": case.rung,
        "follow_up_name": follow.name if follow else None,
    }


# The words of an update that staff wrote for the reporter (never told to a follower).
STAFF_WORDS = frozenset({"note", "reason"})


def notify_resident(
    uow: UnitOfWork,
    case: Case,
    residents: list[User],
    event: str,
    *,
    keyboard_for: Any = None,
    **data: Any,
) -> None:
    """Tell the reporter and every follower what happened and what happens next. What staff
    wrote for the resident (a resolution note, a decline or transfer reason) goes to the
    reporter only: a follower is a neighbour, and learns the steps."""
    for person in residents:
        if person.erased_at is not None:
            continue
        lang = person.language
        keyboard = keyboard_for(person) if keyboard_for else None
        follower = person.id != case.resident_id
        words = {k: None if follower and k in STAFF_WORDS else v for k, v in data.items()}
        uow.outbox.send(
            person.id,
            lang,
            "case_update",
            keyboard=keyboard,
            case_id=case.id,
            event=event,
            case=case,
            is_follower=follower,
            **ownership_data(uow, case, lang),
            **words,
        )
