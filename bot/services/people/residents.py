"""Residents: onboarding with consent, home address, language, their data and erasure."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update

from bot.services.shared import dialogue
from bot.services.shared.domain import UnitOfWork
from bot.store.db import hot_get
from bot.store.models import (
    Case,
    CaseEvent,
    CaseFollower,
    CaseNote,
    Proposal,
    ProposalPoint,
    ProposalSupport,
    User,
    Volunteer,
    VolunteerClaim,
    VolunteerTask,
)
from routing.address import AddressMatch
from routing.geo import distance_m
from routing.gridmap import Building


@dataclass(frozen=True)
class Person:
    """What Telegram tells us about who is writing (the adapter fills it in)."""

    id: int
    first_name: str | None
    language_code: str | None


def pseudonym_for(user_id: int) -> str:
    """A stable pseudonym staff see instead of the resident's Telegram account."""
    digest = hashlib.sha256(f"gridvoice:{user_id}".encode()).hexdigest()[:6].upper()
    return f"R-{digest}"


async def get_user(uow: UnitOfWork, user_id: int) -> User | None:
    return uow.knows(user_id, await hot_get(uow.session, User, user_id))  # type: ignore[no-any-return]


async def ensure_user(uow: UnitOfWork, person: Person, language: str) -> User:
    """The person's row. Stores nothing personal: only the id, language and pseudonym."""
    user = await hot_get(uow.session, User, person.id)
    if user is None:
        user = User(
            id=person.id,
            language=language,
            pseudonym=pseudonym_for(person.id),
            created_at=uow.now,
            state_data={},
            verified=False,
            muted_announcements=False,
            unreachable=False,
        )
        uow.session.add(user)
        await uow.session.flush()
    if user.unreachable:
        user.unreachable = False  # they wrote to us, so they can be reached again
    return uow.knows(user.id, user)  # type: ignore[no-any-return]


def set_state(user: User, state: str | None, **data: Any) -> None:
    """Write the person's dialogue state through the dialogue table (`shared.dialogue`):
    only declared values, and an unsent draft or a waiting question is never dropped.
    Prefer `dialogue.arm`/`dialogue.end`, which also time the prompt and tell the person."""
    dialogue.put(user, state, data)


def update_state(user: User, **data: Any) -> None:
    """Add to the data of the state in force (the state itself stays)."""
    merged = dict(user.state_data or {})
    merged.update(data)
    user.state_data = merged


#: The state of a person who said no to the privacy notice.
DECLINED = dialogue.Prompt.DECLINED.value


def may_hold_text(user: User) -> bool:
    """Whether text written before consent may be held for the consent dialogue: not after
    the person declined, erased their data with /forget, or started again after either."""
    return (
        user.erased_at is None
        and user.state != DECLINED
        and (user.state_data or {}).get("keep", True) is not False
    )


def held_report(uow: UnitOfWork, held: str | None) -> str | None:
    """What of the text held before registration to offer as a report: from the first line
    that names a problem on. A greeting or a question ("hello", "how does this work?") names
    none — the classifier abstains — and is not turned into a report."""
    lines = [line for line in (held or "").splitlines() if line.strip()]
    for n, line in enumerate(lines):
        if uow.domain.classifier.classify(line, vote=False).category is not None:
            return "\n".join(lines[n:])
    return None


def give_consent(uow: UnitOfWork, user: User, person: Person) -> None:
    user.consent_at = uow.now
    user.first_name = (person.first_name or "")[:128] or None
    user.erased_at = None


def is_registered(user: User | None) -> bool:
    return bool(user and user.consent_at and user.home_grid_id)


def match_address(uow: UnitOfWork, text: str) -> list[AddressMatch]:
    return uow.routing.addresses.match(text, limit=3)


def set_home(uow: UnitOfWork, user: User, building_id: str) -> bool:
    building = uow.routing.gridmap.buildings.get(building_id)
    if building is None:
        return False
    _moved(user, building.grid_id, building.id)
    user.home_building_id = building.id
    user.home_grid_id = building.grid_id
    user.home_address = building.name.get(user.language)
    return True


#: A home pin is kept rounded to about 10 m: which building, never which flat or door — what
#: staff know of a resident who chose their building. (The public sees cases rounded further,
#: `Settings.public_location_decimals`.)
HOME_PIN_DECIMALS = 4


def set_home_point(uow: UnitOfWork, user: User, lat: float, lon: float) -> bool:
    """A home given as a pin: its grid and the rounded point, so a report from home still
    tells staff which building (the nearest to the point), not only the grid."""
    grid = uow.routing.locator.locate(lat, lon)
    if grid is None:
        return False
    _moved(user, grid.id, None)
    user.home_grid_id = grid.id
    user.home_building_id = None
    user.home_address = f"{round(lat, HOME_PIN_DECIMALS)}, {round(lon, HOME_PIN_DECIMALS)}"
    return True


def _moved(user: User, grid_id: str, building_id: str | None) -> None:
    """A new home needs a new confirmation: whoever vouched for the old one (the old grid's
    member or the register) did not vouch for this one."""
    if user.home_grid_id is None:
        return
    if user.home_grid_id != grid_id or user.home_building_id != building_id:
        user.verified = False
        user.verification_decided_at = None


def home_point(user: User) -> tuple[float, float] | None:
    """The rounded point of a home given as a pin (None for a building or no home)."""
    if user.home_building_id or not user.home_grid_id or not user.home_address:
        return None
    try:
        lat, lon = (float(part) for part in user.home_address.split(","))
    except ValueError:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return round(lat, HOME_PIN_DECIMALS), round(lon, HOME_PIN_DECIMALS)  # older pins: finer


#: How far from a point a building may be to be named as near it.
NEAR_METRES = 300.0


def nearest_building(uow: UnitOfWork, grid_id: str, point: tuple[float, float]) -> Building | None:
    """The grid's building nearest to a point (within `NEAR_METRES`), to say where a pin is."""
    gridmap = uow.routing.gridmap
    grid = gridmap.grids.get(grid_id)
    if grid is None:
        return None
    best: tuple[float, str, Building] | None = None
    for bid in grid.building_ids:
        building = gridmap.buildings.get(bid)
        if building is None or building.location is None:
            continue
        d = distance_m(point, building.location)
        if d <= NEAR_METRES and (best is None or (d, bid) < best[:2]):
            best = (d, bid, building)
    return best[2] if best else None


def grid_info(uow: UnitOfWork, grid_id: str, now_lang: str) -> dict[str, Any]:
    """Who the resident's grid member is and how to reach the community office."""
    gridmap = uow.routing.gridmap
    grid = gridmap.grids[grid_id]
    community = gridmap.community_of(grid_id)
    members = [m for m in gridmap.members_of(grid_id) if m.active]
    leaders = [m for m in gridmap.leaders_of(grid_id) if m.active]
    return {
        "grid": grid,
        "community": community,
        "members": members,
        "leaders": leaders,
        "on_duty": [m for m in members if m.duty.on_duty(uow.now)],
    }


async def my_data(uow: UnitOfWork, user: User) -> dict[str, Any]:
    cases = (
        (
            await uow.session.execute(
                select(Case).where(Case.resident_id == user.id).order_by(Case.id)
            )
        )
        .scalars()
        .all()
    )
    follows = (
        (
            await uow.session.execute(
                select(CaseFollower.case_id).where(CaseFollower.user_id == user.id)
            )
        )
        .scalars()
        .all()
    )
    return {"user": user, "cases": list(cases), "follows": len(follows)}


async def forget(uow: UnitOfWork, user: User) -> int:
    """Erase personal data; cases stay, anonymised. Returns the number of cases kept."""
    user.first_name = None
    user.phone = None
    user.home_address = None
    user.home_building_id = None
    user.home_grid_id = None
    user.consent_at = None
    user.verified = False
    user.erased_at = uow.now
    user.state = None
    user.state_data = {}
    cases = (
        (await uow.session.execute(select(Case).where(Case.resident_id == user.id))).scalars().all()
    )
    # A pin is kept only as coarse as it is already public (about a block), so erasing a
    # person moves no public point: the map cannot tell who asked to be forgotten.
    decimals = uow.settings.public_location_decimals
    for case in cases:
        case.resident_id = None
        if case.latitude is not None and case.longitude is not None:
            case.latitude = round(case.latitude, decimals)
            case.longitude = round(case.longitude, decimals)
        else:
            case.latitude = case.longitude = None
        case.place_text = None
        uow.session.add(
            CaseEvent(
                case_id=case.id,
                at=uow.now,
                actor_id=None,
                actor_role="system",
                kind="anonymised",
                to_status=case.status,
                data={},
            )
        )
    if cases:  # what staff wrote to each other about this person's cases may name them
        await uow.session.execute(
            delete(CaseNote).where(CaseNote.case_id.in_([case.id for case in cases]))
        )
    await uow.session.execute(
        update(CaseEvent)
        .where(CaseEvent.actor_id == user.id, CaseEvent.actor_role == "resident")
        .values(actor_id=None)
    )
    followers = (
        (await uow.session.execute(select(CaseFollower).where(CaseFollower.user_id == user.id)))
        .scalars()
        .all()
    )
    for row in followers:
        await uow.session.delete(row)
    await _forget_volunteering(uow, user.id)
    # Proposals: supports and points stay counted, with nobody behind them any more (the
    # unique constraints still hold for everyone else); a proposal keeps its text, not its author.
    await uow.session.execute(
        update(ProposalSupport)
        .where(ProposalSupport.user_id == user.id)
        .values(user_id=None, follow=False)
    )
    await uow.session.execute(
        update(ProposalPoint).where(ProposalPoint.user_id == user.id).values(user_id=None)
    )
    await uow.session.execute(
        update(Proposal).where(Proposal.author_id == user.id).values(author_id=None)
    )
    return len(cases)


async def _forget_volunteering(uow: UnitOfWork, user_id: int) -> None:
    """A volunteer who is forgotten: the profile and public thanks go, open claims free their
    seats; hours already counted stay, with no name (the person's row keeps none)."""
    held = (
        (
            await uow.session.execute(
                select(VolunteerClaim.task_id).where(
                    VolunteerClaim.user_id == user_id, VolunteerClaim.state == "claimed"
                )
            )
        )
        .scalars()
        .all()
    )
    if held:
        await uow.session.execute(
            update(VolunteerClaim)
            .where(VolunteerClaim.user_id == user_id, VolunteerClaim.state == "claimed")
            .values(state="withdrawn")
        )
        await uow.session.execute(
            update(VolunteerTask)
            .where(VolunteerTask.id.in_(list(held)), VolunteerTask.claimed > 0)
            .values(claimed=VolunteerTask.claimed - 1)
        )
    await uow.session.execute(delete(Volunteer).where(Volunteer.user_id == user_id))


async def followed_cases(uow: UnitOfWork, user: User, limit: int = 20) -> list[Case]:
    """Other residents' cases this person follows (shown without the reporter's words)."""
    stmt = (
        select(Case)
        .join(CaseFollower, CaseFollower.case_id == Case.id)
        .where(CaseFollower.user_id == user.id)
        .order_by(Case.id.desc())
        .limit(limit)
    )
    return list((await uow.session.execute(stmt)).scalars().all())


async def my_cases(uow: UnitOfWork, user: User, limit: int = 20) -> list[Case]:
    stmt = select(Case).where(Case.resident_id == user.id).order_by(Case.id.desc()).limit(limit)
    return list((await uow.session.execute(stmt)).scalars().all())
