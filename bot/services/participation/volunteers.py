"""Organisations and volunteers: opting in and out, tasks with a capacity, claims, attendance,
hours, public thanks with consent, and the organisations a committee invited.

The capacity is the database's: a claim takes a seat by one conditional UPDATE
(``claimed < capacity``, a CHECK keeps it true) and a volunteer holds one claim row per task
(a unique constraint), so concurrent, repeated, forged or stale presses never over-fill a task
or count a person twice. A volunteer and an organisation see a task's title, its coarse place
(a grid, a street) and its hours: never a resident's identity or address.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from bot.services.people import policy
from bot.services.people.policy import Capability
from bot.services.shared.domain import Domain, UnitOfWork
from bot.store.db import reading
from bot.store.models import (
    CaseEvent,
    Organisation,
    User,
    Volunteer,
    VolunteerClaim,
    VolunteerTask,
)

MAX_CAPACITY = 500
MAX_HOURS = 24.0
TITLE_MAX = 200
FIELD_MAX = 256
ABOUT_MAX = 1000
INVITE_PREFIX = "org_"


class VolunteerError(Exception):
    """A refusal with the label key to answer with."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


# --- volunteers --------------------------------------------------------------------------------


async def volunteer_of(uow: UnitOfWork, user_id: int) -> Volunteer | None:
    return await uow.session.get(Volunteer, user_id)


async def opt_in(
    uow: UnitOfWork, user: User, *, skills: str, times: str, area: str, thank_publicly: bool
) -> Volunteer:
    """Opt in (or update what one offers): skills, times and area in the volunteer's words."""
    row = await volunteer_of(uow, user.id)
    if row is None:
        row = Volunteer(user_id=user.id, joined_at=uow.now)
        uow.session.add(row)
    row.skills, row.times, row.area = skills[:FIELD_MAX], times[:FIELD_MAX], area[:FIELD_MAX]
    row.thank_publicly = thank_publicly
    await uow.session.flush()
    return row


async def opt_out(uow: UnitOfWork, user_id: int) -> int:
    """Stop volunteering: the open claims are withdrawn (their seats free again) and the
    profile goes. Attended hours stay counted, without a name. Returns claims withdrawn."""
    open_claims = (
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
    for task_id in open_claims:
        await withdraw(uow, user_id, task_id)
    row = await volunteer_of(uow, user_id)
    if row is not None:
        await uow.session.delete(row)
        await uow.session.flush()
    return len(open_claims)


# --- who posts tasks -------------------------------------------------------------------------


async def organisation_of(uow: UnitOfWork, user_id: int) -> Organisation | None:
    """The organisation whose contact this person is (joined), if any."""
    return (
        await uow.session.execute(
            select(Organisation).where(
                Organisation.contact_id == user_id, Organisation.joined_at.is_not(None)
            )
        )
    ).scalar_one_or_none()


def staff_community(uow: UnitOfWork, user_id: int) -> str | None:
    """The community a staff member works in (their first grid's), for tasks they post."""
    staff = uow.routing.gridmap.staff.get(user_id)
    if staff is None or not staff.active:
        return None
    if staff.community_id:
        return staff.community_id
    for grid_id in staff.grid_ids:
        grid = uow.routing.gridmap.grids.get(grid_id)
        if grid is not None:
            return grid.community_id
    return next(iter(uow.routing.gridmap.communities), None)


def may_post_as_staff(uow: UnitOfWork, user_id: int) -> bool:
    return policy.may(uow, user_id, Capability.ACT) or policy.may(
        uow, user_id, Capability.COMMITTEE
    )


async def post_task(
    uow: UnitOfWork,
    organiser_id: int,
    *,
    title: str,
    capacity: int,
    hours: float,
    grid_id: str | None = None,
    place: str = "",
    case_id: int | None = None,
) -> VolunteerTask:
    """A grid member (their community) or an organisation's contact (its community) posts a
    task. The place is a grid's name or the organiser's coarse words, never an address."""
    organisation = None
    community = None
    if may_post_as_staff(uow, organiser_id):
        community = staff_community(uow, organiser_id)
    else:
        organisation = await organisation_of(uow, organiser_id)
        community = organisation.community_id if organisation else None
    if community is None:
        raise VolunteerError("not_allowed")
    if not 1 <= capacity <= MAX_CAPACITY or not 0 < hours <= MAX_HOURS:
        raise VolunteerError("vol_bad_number")
    title = title.strip()[:TITLE_MAX]
    if not title:
        raise VolunteerError("vol_bad_text")
    gridmap = uow.routing.gridmap
    if grid_id is not None and (
        grid_id not in gridmap.grids or gridmap.grids[grid_id].community_id != community
    ):
        grid_id = None
    task = VolunteerTask(
        community_id=community,
        grid_id=grid_id,
        title=title,
        place=place[:FIELD_MAX],
        hours=hours,
        capacity=capacity,
        claimed=0,
        organiser_id=organiser_id,
        organisation_id=organisation.id if organisation else None,
        case_id=case_id,
        status="open",
        created_at=uow.now,
    )
    uow.session.add(task)
    await uow.session.flush()
    return task


async def get_task(uow: UnitOfWork, task_id: int) -> VolunteerTask | None:
    task = await uow.session.get(VolunteerTask, task_id)
    if task is not None:
        await uow.session.refresh(task)
    return task


async def open_tasks(uow: UnitOfWork, community_id: str | None) -> list[VolunteerTask]:
    stmt = select(VolunteerTask).where(VolunteerTask.status == "open")
    if community_id is not None:
        stmt = stmt.where(VolunteerTask.community_id == community_id)
    return list((await uow.session.execute(stmt.order_by(VolunteerTask.id))).scalars())


async def organiser_tasks(uow: UnitOfWork, organiser_id: int) -> list[VolunteerTask]:
    stmt = (
        select(VolunteerTask)
        .where(VolunteerTask.organiser_id == organiser_id, VolunteerTask.status == "open")
        .order_by(VolunteerTask.id)
    )
    return list((await uow.session.execute(stmt)).scalars())


async def claims_of(uow: UnitOfWork, task_id: int) -> list[tuple[VolunteerClaim, str]]:
    """A task's claims with the volunteer's first name (what the organiser needs to meet
    them), for the organiser only."""
    rows = await uow.session.execute(
        select(VolunteerClaim, User.first_name)
        .join(User, User.id == VolunteerClaim.user_id)
        .where(VolunteerClaim.task_id == task_id, VolunteerClaim.state != "withdrawn")
        .order_by(VolunteerClaim.id)
    )
    return [(claim, name or "—") for claim, name in rows.all()]


async def my_claims(uow: UnitOfWork, user_id: int) -> dict[int, str]:
    rows = await uow.session.execute(
        select(VolunteerClaim.task_id, VolunteerClaim.state).where(
            VolunteerClaim.user_id == user_id
        )
    )
    return {task_id: state for task_id, state in rows.all()}


# --- claims ------------------------------------------------------------------------------------


async def _take_seat(uow: UnitOfWork, task_id: int) -> bool:
    took = await uow.session.execute(
        update(VolunteerTask)
        .where(
            VolunteerTask.id == task_id,
            VolunteerTask.status == "open",
            VolunteerTask.claimed < VolunteerTask.capacity,
        )
        .values(claimed=VolunteerTask.claimed + 1)
        .execution_options(synchronize_session=False)
    )
    return took.rowcount == 1  # type: ignore[attr-defined]


async def _give_seat(uow: UnitOfWork, task_id: int) -> None:
    await uow.session.execute(
        update(VolunteerTask)
        .where(VolunteerTask.id == task_id, VolunteerTask.claimed > 0)
        .values(claimed=VolunteerTask.claimed - 1)
        .execution_options(synchronize_session=False)
    )


async def claim(uow: UnitOfWork, user_id: int, task_id: int) -> str:
    """One tap: take a seat on a task. Answers "claimed", or why not: "not_volunteer",
    "not_found", "closed", "already", "full". Nothing changes unless "claimed"."""
    if await volunteer_of(uow, user_id) is None:
        return "not_volunteer"
    task = await uow.session.get(VolunteerTask, task_id)
    if task is None:
        return "not_found"
    if task.status != "open":
        return "closed"
    row = (
        await uow.session.execute(
            select(VolunteerClaim).where(
                VolunteerClaim.task_id == task_id, VolunteerClaim.user_id == user_id
            )
        )
    ).scalar_one_or_none()
    if row is not None and row.state != "withdrawn":
        return "already"
    if not await _take_seat(uow, task_id):
        return "full"
    if row is None:
        try:
            async with uow.session.begin_nested():
                uow.session.add(
                    VolunteerClaim(
                        task_id=task_id, user_id=user_id, state="claimed", claimed_at=uow.now
                    )
                )
        except IntegrityError:  # the same person's other press won: one claim, one seat
            await _give_seat(uow, task_id)
            return "already"
        return "claimed"
    back = await uow.session.execute(
        update(VolunteerClaim)
        .where(VolunteerClaim.id == row.id, VolunteerClaim.state == "withdrawn")
        .values(state="claimed", claimed_at=uow.now)
        .execution_options(synchronize_session=False)
    )
    if back.rowcount != 1:  # type: ignore[attr-defined]
        await _give_seat(uow, task_id)
        return "already"
    return "claimed"


async def withdraw(uow: UnitOfWork, user_id: int, task_id: int) -> str:
    """Give the seat back: "withdrawn", or "not_claimed" (nothing changes; attendance already
    confirmed cannot be withdrawn)."""
    gone = await uow.session.execute(
        update(VolunteerClaim)
        .where(
            VolunteerClaim.task_id == task_id,
            VolunteerClaim.user_id == user_id,
            VolunteerClaim.state == "claimed",
        )
        .values(state="withdrawn")
        .execution_options(synchronize_session=False)
    )
    if gone.rowcount != 1:  # type: ignore[attr-defined]
        return "not_claimed"
    await _give_seat(uow, task_id)
    return "withdrawn"


async def may_organise(uow: UnitOfWork, user_id: int, task: VolunteerTask) -> bool:
    """The task's organiser, or the contact of the organisation that posted it."""
    if task.organiser_id == user_id:
        return True
    if task.organisation_id is not None:
        org = await uow.session.get(Organisation, task.organisation_id)
        return org is not None and org.contact_id == user_id
    return False


async def confirm(
    uow: UnitOfWork, organiser_id: int, claim_id: int
) -> tuple[str, VolunteerClaim | None]:
    """The organiser confirms a volunteer came: the task's hours are counted once.
    Answers "confirmed", "already", "not_allowed" (a stranger, a forged id)."""
    row = await uow.session.get(VolunteerClaim, claim_id)
    if row is None:
        return "not_allowed", None
    task = await uow.session.get(VolunteerTask, row.task_id)
    if task is None or not await may_organise(uow, organiser_id, task):
        return "not_allowed", None
    done = await uow.session.execute(
        update(VolunteerClaim)
        .where(VolunteerClaim.id == claim_id, VolunteerClaim.state == "claimed")
        .values(state="attended", confirmed_at=uow.now, hours=task.hours)
        .execution_options(synchronize_session=False)
    )
    await uow.session.refresh(row)
    return ("confirmed" if done.rowcount == 1 else "already"), row  # type: ignore[attr-defined]


async def attendee(
    uow: UnitOfWork, claim: VolunteerClaim
) -> tuple[User | None, VolunteerTask | None]:
    """Whom to thank for a confirmed claim, and for which task."""
    return await uow.session.get(User, claim.user_id), await get_task(uow, claim.task_id)


async def hours_of(uow: UnitOfWork, user_id: int) -> float:
    total = await uow.session.execute(
        select(func.coalesce(func.sum(VolunteerClaim.hours), 0.0)).where(
            VolunteerClaim.user_id == user_id, VolunteerClaim.state == "attended"
        )
    )
    return float(total.scalar_one())


async def volunteered_residents(
    session: Any, grid_ids: list[str] | None, start: datetime, end: datetime
) -> set[int]:
    """Distinct residents whose attendance was confirmed in [start, end) on a task of these
    grids (None: every grid; a task posted for a whole community counts by the volunteer's
    home grid). For the participation figure; the caller applies the minimum counts."""
    stmt = (
        select(VolunteerClaim.user_id)
        .join(VolunteerTask, VolunteerTask.id == VolunteerClaim.task_id)
        .join(User, User.id == VolunteerClaim.user_id)
        .where(
            VolunteerClaim.state == "attended",
            VolunteerClaim.confirmed_at >= start,
            VolunteerClaim.confirmed_at < end,
        )
    )
    if grid_ids is not None:
        stmt = stmt.where(
            (VolunteerTask.grid_id.in_(grid_ids))
            | (VolunteerTask.grid_id.is_(None) & User.home_grid_id.in_(grid_ids))
        )
    return set((await session.execute(stmt.distinct())).scalars())


# --- organisations -----------------------------------------------------------------------------


async def joined_organisations(
    uow: UnitOfWork, community_id: str
) -> list[tuple[Organisation, str]]:
    """The organisations of a community that joined, with their contact's language."""
    rows = await uow.session.execute(
        select(Organisation, User.language)
        .outerjoin(User, User.id == Organisation.contact_id)
        .where(
            Organisation.community_id == community_id,
            Organisation.joined_at.is_not(None),
            Organisation.contact_id.is_not(None),
        )
        .order_by(Organisation.id)
    )
    return [(org, lang or uow.settings.default_language) for org, lang in rows.all()]


#: How long a card trusts what it last read of whether a community has organisations that
#: joined (`any_joined`): a join through this process counts at once, one through another
#: replica within this many seconds. Offering a case reads them again.
JOINED_FOR = 30.0


async def any_joined(uow: UnitOfWork, community_id: str) -> bool:
    """Whether organisations joined the community, for the card's *Offer to organisations*:
    read at most every `JOINED_FOR` seconds, not on every card."""
    now = time.monotonic()
    known = uow.domain.joined_organisations.get(community_id)
    if known is not None and known[1] > now:
        return known[0]
    found = (
        await uow.session.execute(
            select(Organisation.id)
            .where(
                Organisation.community_id == community_id,
                Organisation.joined_at.is_not(None),
                Organisation.contact_id.is_not(None),
            )
            .limit(1)
        )
    ).first() is not None
    uow.domain.joined_organisations[community_id] = (found, now + JOINED_FOR)
    return found


async def offered_before(uow: UnitOfWork, case_id: int) -> bool:
    """Whether the case was offered to organisations already (its audit trail says)."""
    found = await uow.session.execute(
        select(CaseEvent.id).where(CaseEvent.case_id == case_id, CaseEvent.kind == "offered_org")
    )
    return found.first() is not None


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


async def invite_organisation(
    uow: UnitOfWork, committee_id: int, community_id: str, name: str
) -> str:
    """The committee invites an organisation by name: a one-time code its contact sends back
    in the chat (`/start org_<code>`). Only the code's hash is kept."""
    if not policy.may(uow, committee_id, Capability.COMMITTEE):
        raise VolunteerError("not_allowed")
    name = name.strip()[:128]
    if not name:
        raise VolunteerError("vol_bad_text")
    code = secrets.token_urlsafe(12)
    uow.session.add(
        Organisation(
            community_id=community_id,
            name=name,
            kind="social",
            about="",
            area="",
            invite_hash=_hash(code),
            invited_by=committee_id,
            invited_at=uow.now,
        )
    )
    await uow.session.flush()
    return code


async def accept_invitation(uow: UnitOfWork, user_id: int, code: str) -> Organisation | None:
    """The organisation's contact accepts; a used, unknown or malformed code finds nothing."""
    if not code or len(code) > 64:
        return None
    org = (
        await uow.session.execute(
            select(Organisation).where(Organisation.invite_hash == _hash(code))
        )
    ).scalar_one_or_none()
    if org is None or org.joined_at is not None:
        return None
    org.contact_id, org.joined_at, org.invite_hash = user_id, uow.now, None
    await uow.session.flush()
    uow.domain.joined_organisations.pop(org.community_id, None)
    return org


async def set_profile(uow: UnitOfWork, org: Organisation, about: str, area: str) -> None:
    org.about, org.area = about.strip()[:ABOUT_MAX], area.strip()[:FIELD_MAX]
    await uow.session.flush()


# --- the public page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicTask:
    title: str
    place: str
    grid_id: str | None
    hours: float
    capacity: int
    claimed: int
    organisation: str | None


@dataclass(frozen=True)
class Thanks:
    name: str
    hours: float


@dataclass(frozen=True)
class PublicOrganisation:
    name: str
    kind: str
    about: str
    area: str


@dataclass(frozen=True)
class VolunteerPage:
    tasks: list[PublicTask]
    thanks: list[Thanks]
    organisations: list[PublicOrganisation]
    hours_total: float | None  # None: fewer volunteers than the dashboard's minimum gave them
    minimum: int = 1


async def public_page(domain: Domain, community_id: str) -> VolunteerPage:
    """What anyone may read about a community's volunteering: open tasks (title, coarse
    place, seats), organisations' profiles, total hours, and thanks by first name for the
    volunteers who asked for it. Nothing else of a person."""
    async with reading(domain.engine) as conn:
        minimum = max(1, domain.settings.dashboard_min_cases)
        return await page_of(conn, community_id, minimum)


async def page_of(conn: Any, community_id: str, minimum: int = 1) -> VolunteerPage:
    """`public_page` on an open connection or session (plain column reads). The hours total
    is published only once `minimum` volunteers gave them, so one person's attendance never
    shows as a move of the public figure."""
    orgs = dict(
        (
            await conn.execute(
                select(Organisation.id, Organisation.name).where(
                    Organisation.community_id == community_id
                )
            )
        ).all()
    )
    task_rows = await conn.execute(
        select(
            VolunteerTask.title,
            VolunteerTask.place,
            VolunteerTask.grid_id,
            VolunteerTask.hours,
            VolunteerTask.capacity,
            VolunteerTask.claimed,
            VolunteerTask.organisation_id,
        )
        .where(VolunteerTask.community_id == community_id, VolunteerTask.status == "open")
        .order_by(VolunteerTask.id)
    )
    tasks = [
        PublicTask(title, place, grid, float(hours), capacity, claimed, orgs.get(org))
        for title, place, grid, hours, capacity, claimed, org in task_rows.all()
    ]
    in_community = VolunteerTask.community_id == community_id
    thanks_rows = await conn.execute(
        select(User.first_name, func.sum(VolunteerClaim.hours))
        .join(VolunteerClaim, VolunteerClaim.user_id == User.id)
        .join(VolunteerTask, VolunteerTask.id == VolunteerClaim.task_id)
        .join(Volunteer, Volunteer.user_id == User.id)
        .where(
            in_community,
            VolunteerClaim.state == "attended",
            Volunteer.thank_publicly.is_(True),
            User.first_name.is_not(None),
        )
        .group_by(User.id, User.first_name)
        .order_by(User.first_name)
    )
    thanks = [Thanks(name, float(hours or 0)) for name, hours in thanks_rows.all()]
    total_row = (
        await conn.execute(
            select(
                func.coalesce(func.sum(VolunteerClaim.hours), 0.0),
                func.count(func.distinct(VolunteerClaim.user_id)),
            )
            .join(VolunteerTask, VolunteerTask.id == VolunteerClaim.task_id)
            .where(in_community, VolunteerClaim.state == "attended")
        )
    ).one()
    givers = int(total_row[1] or 0)
    hours_total = float(total_row[0]) if givers >= minimum else None
    profile_rows = await conn.execute(
        select(Organisation.name, Organisation.kind, Organisation.about, Organisation.area)
        .where(Organisation.community_id == community_id, Organisation.joined_at.is_not(None))
        .order_by(Organisation.name)
    )
    profiles = [PublicOrganisation(*row) for row in profile_rows.all()]
    return VolunteerPage(tasks, thanks, profiles, hours_total, minimum)
