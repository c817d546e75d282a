"""Residents: onboarding with consent, home address, language, their data and erasure."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from bot.services.shared.domain import UnitOfWork
from bot.store.models import Case, CaseEvent, CaseFollower, User
from routing.address import AddressMatch


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
    return await uow.session.get(User, user_id)


async def ensure_user(uow: UnitOfWork, person: Person, language: str) -> User:
    """The person's row. Stores nothing personal: only the id, language and pseudonym."""
    user = await uow.session.get(User, person.id)
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
    return user


def set_state(user: User, state: str | None, **data: Any) -> None:
    user.state = state
    user.state_data = dict(data)


def update_state(user: User, **data: Any) -> None:
    merged = dict(user.state_data or {})
    merged.update(data)
    user.state_data = merged


#: The state of a person who said no to the privacy notice.
DECLINED = "declined"


def may_hold_text(user: User) -> bool:
    """Whether text written before consent may be held for the consent dialogue: not after
    the person declined, erased their data with /forget, or started again after either."""
    return (
        user.erased_at is None
        and user.state != DECLINED
        and (user.state_data or {}).get("keep", True) is not False
    )


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
    user.home_building_id = building.id
    user.home_grid_id = building.grid_id
    user.home_address = building.name.get(user.language)
    return True


def set_home_point(uow: UnitOfWork, user: User, lat: float, lon: float) -> bool:
    grid = uow.routing.locator.locate(lat, lon)
    if grid is None:
        return False
    user.home_grid_id = grid.id
    user.home_building_id = None
    user.home_address = f"{lat:.5f}, {lon:.5f}"
    return True


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
    for case in cases:
        case.resident_id = None
        case.latitude = None
        case.longitude = None
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
    return len(cases)


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
