"""Reporting: a draft gathered without a rigid form, the duplicate check, then filing.

The draft lives in the resident's row (state ``draft``), so a restart in the middle of a
report continues where it was and nothing typed is lost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import bindparam, select

from bot.services.cases import lifecycle as case_service
from bot.services.cases import neighbours as case_neighbours
from bot.services.cases.views import OPEN
from bot.services.people.residents import home_point, update_state
from bot.services.shared import dialogue
from bot.services.shared.dialogue import Prompt
from bot.services.shared.domain import UnitOfWork
from bot.services.shared.outbox import Button
from bot.store.db import hot_get, hot_rows
from bot.store.models import Case, CaseEvent, InboxUpdate, User
from routing.classifier import Classification
from routing.gridmap import GridMap
from routing.matrix import ownership

SIMILAR_TEXT = 62.0
# The resident's own open case with (nearly) these words is the same report sent again,
# whatever the classifier makes of it.
SAME_TEXT = 90.0
SIMILAR_METRES = 150.0
SIMILAR_WINDOW = timedelta(days=30)


def draft(user: User) -> dict[str, Any]:
    """The draft in force (without the dialogue's bookkeeping), or {} when there is none."""
    return dialogue.own_data(user) if user.state == Prompt.DRAFT else {}


def _in_force(user: User) -> None:
    """A draft set aside under a prompt comes back before anything is added to it: new words
    join the report the resident was writing, never replace it."""
    if user.state != Prompt.DRAFT and (user.state_data or {}).get(dialogue.KEPT):
        dialogue.put(user, None, {})


def start_or_extend(uow: UnitOfWork, user: User, text: str) -> dict[str, Any]:
    """Add text to the draft (a second message adds to the description)."""
    _in_force(user)
    current = draft(user)
    if not current:
        dialogue.arm(uow, user, Prompt.DRAFT, text=text, photos=[], started=uow.now.isoformat())
    else:
        joined = (current.get("text") or "") + ("\n" if current.get("text") else "") + text
        # The draft lives from its last change: a report written over days is not lost.
        update_state(user, text=joined[: uow.settings.max_text_length * 2], _at=uow.now.isoformat())
    return draft(user)


def add_photo(uow: UnitOfWork, user: User, file_id: str) -> tuple[dict[str, Any], bool]:
    """Attach a photo; returns the draft and whether the photo fitted."""
    _in_force(user)
    current = draft(user) or {"text": "", "photos": [], "started": uow.now.isoformat()}
    photos = list(current.get("photos") or [])
    if file_id in photos:
        return current, True
    if len(photos) >= uow.settings.max_photos_per_report:
        return current, False
    photos.append(file_id)
    dialogue.arm(uow, user, Prompt.DRAFT, **{**current, "photos": photos})
    update_state(user, _at=uow.now.isoformat())
    return draft(user), True


async def more_on_the_way(uow: UnitOfWork, user_id: int, update_id: int) -> bool:
    """True when this person's next update is already waiting and is more for the draft (an
    album's next photo, the next message of a burst): one echo then answers the whole burst."""
    if uow.alone:
        return False
    payload = (
        await uow.session.execute(
            select(InboxUpdate.payload)
            .where(
                InboxUpdate.status == "pending",
                InboxUpdate.user_id == user_id,
                InboxUpdate.update_id > update_id,
            )
            .order_by(InboxUpdate.update_id)
            .limit(1)
        )
    ).scalar_one_or_none()
    message = payload.get("message") if isinstance(payload, dict) else None
    if not isinstance(message, dict):
        return False
    text = message.get("text")
    return not (isinstance(text, str) and text.startswith("/"))


def set_place(
    user: User,
    *,
    building_id: str | None = None,
    grid_id: str | None = None,
    location: tuple[float, float] | None = None,
    place_text: str | None = None,
) -> None:
    _in_force(user)
    current = draft(user) or {"text": "", "photos": []}
    current.pop("place_choice", None)  # the place is decided
    current.pop("awaiting_place", None)
    current.update(
        building_id=building_id,
        grid_id=grid_id,
        location=list(location) if location else None,
        place_text=place_text,
    )
    dialogue.put(user, Prompt.DRAFT, current)


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat = math.radians((a[0] + b[0]) / 2)
    dx = (b[1] - a[1]) * 111_320 * math.cos(lat)
    dy = (b[0] - a[0]) * 110_540
    return math.hypot(dx, dy)


#: Built once (SQLAlchemy remembers a statement's cache key on it): each report asks them.
_OPEN_OF_GRID = (
    select(Case.id, Case.resident_id, Case.text, Case.building_id, Case.latitude, Case.longitude)
    .where(
        Case.grid_id == bindparam("grid"),
        Case.category == bindparam("category"),
        Case.status.in_(OPEN),
        Case.created_at >= bindparam("since"),
    )
    .order_by(Case.id.desc())
    .limit(50)
)
_OPEN_OF_RESIDENT = (
    select(Case.id, Case.text, Case.category)
    .where(
        Case.resident_id == bindparam("resident"),
        Case.status.in_(OPEN),
        Case.created_at >= bindparam("since"),
    )
    .order_by(Case.id.desc())
    .limit(20)
)


async def similar_open_case(
    uow: UnitOfWork,
    user: User,
    text: str,
    grid_id: str,
    location: tuple[float, float] | None,
    building_id: str | None,
    classification: Classification | None = None,
) -> Case | None:
    """An open case in the same grid, same category, similar words or nearby."""
    category = (classification or await case_neighbours.classify(uow, text)).category
    if category is None:
        return None
    # the few columns the comparison reads (a busy grid has dozens of open cases of one
    # category: whole rows cost more than the comparison), then the one case that won
    since = uow.now - SIMILAR_WINDOW
    found = await hot_rows(
        uow.session, _OPEN_OF_GRID, {"grid": grid_id, "category": category, "since": since}
    )
    words = text.lower()
    best: tuple[float, int] | None = None
    for case_id, resident_id, case_text, case_building, lat, lon in found:
        if resident_id == user.id:
            continue
        score = fuzz.token_set_ratio(words, case_text.lower())
        if building_id and case_building == building_id:
            score += 10
        if location and lat is not None and lon is not None:
            if _distance_m(location, (lat, lon)) <= SIMILAR_METRES:
                score += 15
        if score >= SIMILAR_TEXT and (best is None or score > best[0]):
            best = (score, case_id)
    return await hot_get(uow.session, Case, best[1]) if best else None


async def own_open_duplicate(
    uow: UnitOfWork, user: User, text: str, classification: Classification
) -> Case | None:
    """The resident's own open case this report repeats: nearly the same words, or the same
    category with similar words (sending one problem twice must not make two cases)."""
    found = await hot_rows(
        uow.session, _OPEN_OF_RESIDENT, {"resident": user.id, "since": uow.now - SIMILAR_WINDOW}
    )
    a = text.lower()
    for case_id, case_text, case_category in found:
        b = case_text.lower()
        same_category = classification.category is not None and (
            case_category == classification.category
        )
        if fuzz.token_sort_ratio(a, b) >= SAME_TEXT or (
            same_category and fuzz.token_set_ratio(a, b) >= SIMILAR_TEXT
        ):
            return await hot_get(uow.session, Case, case_id)  # type: ignore[no-any-return]
    return None


def place_of(
    uow: UnitOfWork, user: User, current: dict[str, Any]
) -> tuple[str | None, str | None, tuple[float, float] | None, str | None]:
    """Where the report is: the place given in the draft, else the home — its building, or
    for a home given as a pin its coarse point (staff then see which block, not only the grid)."""
    grid_id = current.get("grid_id") or user.home_grid_id
    building_id = current.get("building_id")
    loc = current.get("location")
    location = tuple(loc) if loc else None
    if building_id is None and current.get("grid_id") is None and location is None:
        building_id = user.home_building_id
        location = home_point(user)
    return grid_id, building_id, location, current.get("place_text")  # type: ignore[return-value]


async def submit(
    uow: UnitOfWork, user: User, *, update_id: int | None, force_new: bool = False
) -> tuple[str, Case | None]:
    """File the draft. Returns ("empty", None), ("no_place", None), ("already_filed", case)
    for the resident's own open case, ("similar", case) for a neighbour's, or ("filed", case)."""
    current = draft(user)
    text = (current.get("text") or "").strip()
    if not text:
        return "empty", None
    if current.get("place_choice"):
        # A typed place is waiting for "which one do you mean?": never dropped for the home.
        return "choose_place", None
    grid_id, building_id, location, place_text = place_of(uow, user, current)
    if grid_id is None:
        return "no_place", None
    # once: the duplicate check and the case (the deployment's settled cases vote too)
    classification = await case_neighbours.classify(uow, text)
    if not force_new:
        own = await own_open_duplicate(uow, user, text, classification)
        if own is not None:
            update_state(user, similar_case=own.id)
            return "already_filed", own
        similar = await similar_open_case(
            uow, user, text, grid_id, location, building_id, classification
        )
        if similar is not None:
            update_state(user, similar_case=similar.id)
            return "similar", similar
    case = await case_service.create_case(
        uow,
        user,
        text=text,
        grid_id=grid_id,
        building_id=building_id,
        place_text=place_text,
        location=location,
        photos=list(current.get("photos") or []),
        source_update_id=update_id,
        classification=classification,
    )
    dialogue.drop_draft(user)
    offer = await second_problem(uow, case)
    if offer is not None:
        uow.outbox.send(
            user.id,
            user.language,
            "second_problem_offer",
            keyboard=[[Button.of("btn_file_second", f"d:second:{case.id}")]],
            case=case,
            text=offer.text,
            category=offer.category,
        )
    await dialogue.draft_done(uow, user)  # a staff question that waited for the draft arms now
    return "filed", case


async def discard(uow: UnitOfWork, user: User) -> None:
    """The resident discarded the draft (or follows a neighbour's case instead)."""
    await dialogue.draft_done(uow, user)


@dataclass(frozen=True)
class SecondProblem:
    """A second problem named in a filed report, for another owner than the case's."""

    text: str
    category: str


async def second_problem(uow: UnitOfWork, case: Case) -> SecondProblem | None:
    """The second problem of ``case``'s message when another owner handles it, else ``None``."""
    found = uow.domain.classifier.second_problem(case.text, case.category)
    if found is None or found[1].category is None:
        return None
    category = found[1].category
    gridmap = uow.routing.gridmap
    if category not in gridmap.categories or case.category not in gridmap.categories:
        return None
    if _owner_of(gridmap, case.grid_id, category) == _owner_of(
        gridmap, case.grid_id, case.category
    ):
        return None  # the same people handle both: one case is enough
    return SecondProblem(found[0], category)


def _owner_of(gridmap: GridMap, grid_id: str, category: str) -> tuple[str, str | None]:
    own = ownership(gridmap, grid_id, category)
    return own.owner, own.party.id if own.party else None


async def file_second_problem(uow: UnitOfWork, user: User, case: Case) -> Case | None:
    """File the second problem of the resident's own case as a case of its own, once."""
    if case.resident_id != user.id:
        raise case_service.CaseActionError("not_allowed")
    done = await uow.session.execute(
        select(CaseEvent.id).where(CaseEvent.case_id == case.id, CaseEvent.kind == "split")
    )
    if done.first() is not None:
        return None
    offer = await second_problem(uow, case)
    if offer is None:
        return None
    second = await case_service.create_case(
        uow,
        user,
        text=offer.text,
        grid_id=case.grid_id,
        building_id=case.building_id,
        place_text=case.place_text,
        location=(case.latitude, case.longitude)
        if case.latitude is not None and case.longitude is not None
        else None,
        photos=[],
        source_update_id=None,
        classification=await case_neighbours.classify(uow, offer.text),
    )
    await case_service.record(
        uow, case, case_service.Actor(user.id, "resident"), "split", second_case=second.id
    )
    return second
