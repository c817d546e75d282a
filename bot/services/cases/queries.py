"""Read models over cases for both edges: the board, its counts, one case's page, reports.

Every query is limited by `access.scope`, the same rule that authorises a chat button.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, case, func, select

from bot.bounds import MAX_TELEGRAM_ID, parse_id
from bot.services.cases import intake
from bot.services.cases.status import (
    AWAITING_ACCEPT,
    COLUMNS,
    OPEN,
    PUBLIC_EVENT_KINDS,
    STAFF_ONLY_KINDS,
    WORKING,
)
from bot.services.people.access import may_see_contact, may_view, scope, scope_grids
from bot.services.shared.domain import UnitOfWork
from bot.store.db import hot_get, hot_rows
from bot.store.models import ApiKey, Case, CaseEvent, CaseIntake, CasePhoto, Open311Contact

BOARD_LIMIT = 300


async def find_case(uow: UnitOfWork, human_id: str) -> Case | None:
    human_id = human_id.strip().upper()
    return (
        await uow.session.execute(select(Case).where(Case.human_id == human_id))
    ).scalar_one_or_none()


async def find_case_by_id(uow: UnitOfWork, case_id: int) -> Case | None:
    """A case by its database id, without a lock (for display); in a hot transaction read on
    the driver (`hot_get`)."""
    if not 0 < case_id < 2**63:
        return None
    return await hot_get(uow.session, Case, case_id)  # type: ignore[no-any-return]


_OPEN_COUNTS = (
    select(Case.owner_id, func.count())
    .where(Case.status.in_(OPEN), Case.owner_id.is_not(None))
    .group_by(Case.owner_id)
)
#: built once (SQLAlchemy remembers a statement's cache key on it): a case's routing asks it
_OPEN_COUNTS_OF = _OPEN_COUNTS.where(Case.owner_id.in_(bindparam("owners", expanding=True)))


async def open_counts(uow: UnitOfWork, owner_ids: Collection[int] | None = None) -> dict[int, int]:
    if owner_ids is None:
        found = (await uow.session.execute(_OPEN_COUNTS)).all()
    else:
        found = await hot_rows(uow.session, _OPEN_COUNTS_OF, {"owners": list(owner_ids)})
    return {owner: n for owner, n in found}


async def grid_counts(uow: UnitOfWork, grid_id: str) -> dict[int, int]:
    """Open cases of the people who could get a case of this grid (not of the whole district)."""
    gridmap = uow.routing.gridmap
    people = {s.telegram_id for s in gridmap.members_of(grid_id)}
    people |= {s.telegram_id for s in gridmap.leaders_of(grid_id)}
    community = gridmap.grids[grid_id].community_id if grid_id in gridmap.grids else None
    if community:
        people |= {s.telegram_id for s in gridmap.centre_of(community)}
    people |= {s.telegram_id for s in gridmap.street_staff()}
    return await open_counts(uow, people)


async def photo_ids(uow: UnitOfWork, case: Case, kind: str = "report") -> list[str]:
    stmt = select(CasePhoto.file_id).where(CasePhoto.case_id == case.id, CasePhoto.kind == kind)
    return list((await uow.session.execute(stmt.order_by(CasePhoto.id))).scalars().all())


async def timeline(
    uow: UnitOfWork, case: Case, *, only_public: bool = False, staff: bool = True
) -> list[CaseEvent]:
    """The case's audit trail, oldest first; `only_public`: its public steps (what a follower
    reads: never a rating, its comment or the messages between staff and the reporter);
    without `staff`, none of the steps among staff (co-handlers and summons)."""
    stmt = select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
    if only_public:
        stmt = stmt.where(CaseEvent.kind.in_(sorted(PUBLIC_EVENT_KINDS)))
    if not staff:
        stmt = stmt.where(CaseEvent.kind.not_in(sorted(STAFF_ONLY_KINDS)))
    return list((await uow.session.execute(stmt)).scalars().all())


@dataclass(frozen=True)
class BoardFilter:
    """What the board shows: every field narrows; empty means no filter."""

    grid: str | None = None
    category: str | None = None
    status: str | None = None
    due: str | None = None  # overdue | today
    owner: int | None = None
    unassigned: bool = False
    party: str | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> BoardFilter:
        def text(name: str) -> str | None:
            value = (query.get(name) or "").strip()
            return value[:64] or None

        owner = text("owner")
        due = text("due")
        status = text("status")
        return cls(
            grid=text("grid"),
            category=text("category"),
            status=status if status in COLUMNS else None,
            due=due if due in ("overdue", "today") else None,
            owner=parse_id(owner, high=MAX_TELEGRAM_ID),
            unassigned=query.get("unassigned") in ("1", "on", "true"),
            party=text("party"),
        )

    def query(self) -> dict[str, str]:
        """The filter as query parameters (to link to and keep in forms)."""
        out = {
            "grid": self.grid or "",
            "category": self.category or "",
            "status": self.status or "",
            "due": self.due or "",
            "owner": str(self.owner) if self.owner else "",
            "party": self.party or "",
            "unassigned": "1" if self.unassigned else "",
        }
        return {k: v for k, v in out.items() if v}


@dataclass(frozen=True)
class BoardRow:
    case: Case
    due_kind: str  # accept | resolve
    due_at: datetime | None
    overdue: bool


@dataclass
class Board:
    rows: list[BoardRow]
    columns: dict[str, int]  # status -> open cases (every filter but the status)
    grids: dict[str, int]  # grid -> open cases in scope
    total: int
    triage: list[Case] = field(default_factory=list)


def due_expression() -> ColumnElement[Any]:
    """The deadline that matters now: resolve-by once accepted, accept-by before."""
    return case((Case.status.in_(sorted(WORKING)), Case.resolve_by), else_=Case.accept_by)


def due_of(c: Case) -> tuple[str, datetime | None]:
    if c.status in WORKING:
        return "resolve", c.resolve_by
    return "accept", c.accept_by


def _local_day(uow: UnitOfWork) -> tuple[datetime, datetime]:
    tz = uow.routing.gridmap.tz
    today = uow.now.astimezone(tz).date()
    start = datetime.combine(today, time.min, tzinfo=tz)
    return start, start + timedelta(days=1)


def _filtered(uow: UnitOfWork, user_id: int, f: BoardFilter, *, status: bool) -> Select[Any]:
    stmt = select(Case).where(scope(uow, user_id), Case.status.in_(sorted(OPEN)))
    due = due_expression()
    if f.grid:
        stmt = stmt.where(Case.grid_id == f.grid)
    if f.category:
        stmt = stmt.where(Case.category == f.category)
    if status and f.status:
        stmt = stmt.where(Case.status == f.status)
    if f.owner:
        stmt = stmt.where(Case.owner_id == f.owner)
    if f.unassigned:
        stmt = stmt.where(Case.owner_id.is_(None))
    if f.party:
        stmt = stmt.where(Case.party_id == f.party)
    if f.due == "overdue":  # a held case's deadline stands still: it is not overdue
        stmt = stmt.where(due < uow.now, Case.held_since.is_(None))
    elif f.due == "today":
        start, end = _local_day(uow)
        stmt = stmt.where(and_(due >= start, due < end))
    return stmt


async def board(uow: UnitOfWork, user_id: int, f: BoardFilter) -> Board:
    """Open cases in this person's scope, soonest deadline first, with the column counts."""
    due = due_expression()
    stmt = _filtered(uow, user_id, f, status=True)
    stmt = stmt.order_by(due.is_(None), due, Case.id).limit(BOARD_LIMIT)
    cases = list((await uow.session.execute(stmt)).scalars().all())
    rows = []
    for c in cases:
        kind, at = due_of(c)
        late = at is not None and at < uow.now and c.held_since is None
        rows.append(BoardRow(c, kind, at, late))
    counted = _filtered(uow, user_id, f, status=False).subquery()
    columns = {
        s: n
        for s, n in (
            await uow.session.execute(
                select(counted.c.status, func.count()).group_by(counted.c.status)
            )
        ).all()
    }
    grids = await open_per_grid(uow, user_id)
    total = sum(columns.values()) if not f.status else columns.get(f.status, 0)
    return Board(rows=rows, columns=columns, grids=grids, total=total)


async def open_per_grid(uow: UnitOfWork, user_id: int) -> dict[str, int]:
    stmt = (
        select(Case.grid_id, func.count())
        .where(scope(uow, user_id), Case.status.in_(sorted(OPEN)))
        .group_by(Case.grid_id)
    )
    return {g: n for g, n in (await uow.session.execute(stmt)).all()}


async def find_in_scope(uow: UnitOfWork, user_id: int, human_id: str) -> Case | None:
    """A case by its human id, only if this person may view it."""
    human_id = human_id.strip().upper()[:32]
    found = (
        await uow.session.execute(select(Case).where(Case.human_id == human_id))
    ).scalar_one_or_none()
    return found if found is not None and may_view(uow, user_id, found) else None


@dataclass(frozen=True)
class CasePhotoRef:
    index: int
    kind: str
    file_id: str


async def case_photos(uow: UnitOfWork, c: Case) -> list[CasePhotoRef]:
    stmt = (
        select(CasePhoto.kind, CasePhoto.file_id)
        .where(CasePhoto.case_id == c.id)
        .order_by(CasePhoto.id)
    )
    rows = (await uow.session.execute(stmt)).all()
    return [CasePhotoRef(i, kind, file_id) for i, (kind, file_id) in enumerate(rows)]


@dataclass(frozen=True)
class Submitter:
    """How to reach whoever filed an Open311 request, as their client told us: for staff who
    may see the case, never on a public page, in Open311 or in open data."""

    name: str
    email: str | None
    phone: str | None
    address: str | None  # the place in the submitter's words
    client: str  # the Open311 client (API key) it came through


async def submitter(uow: UnitOfWork, user_id: int, c: Case) -> Submitter | None:
    """The submitter of an Open311 case, for a staff member who may see the case."""
    if c.source not in ("open311", "hotline") or not may_see_contact(uow, user_id, c):
        return None
    contact = await uow.session.get(Open311Contact, c.id)
    if contact is None:
        return None  # dropped a month after the case closed
    key = await uow.session.get(ApiKey, contact.api_key_id)
    return Submitter(
        name=" ".join(n for n in (contact.first_name, contact.last_name) if n),
        email=contact.email,
        phone=contact.phone,
        address=contact.address_string,
        client=key.name if key is not None else "",
    )


async def received_from(uow: UnitOfWork, c: Case) -> CaseIntake | None:
    """Where a hand-off came from (a link or a hotline) and its receive-side deadlines."""
    if c.source not in intake.SOURCES:
        return None
    return await uow.session.get(CaseIntake, c.id)


def awaiting_accept(c: Case) -> bool:
    return c.status in AWAITING_ACCEPT


async def latest_event(uow: UnitOfWork) -> int:
    """The newest audit row's id: it moves whenever any case changes, in any replica."""
    return int((await uow.session.execute(select(func.max(CaseEvent.id)))).scalar_one() or 0)


async def latest_event_in(session: Any) -> int:
    """`latest_event` on a plain session (a read outside any unit of work)."""
    return int((await session.execute(select(func.max(CaseEvent.id)))).scalar_one() or 0)


async def party_assessment(
    uow: UnitOfWork, user_id: int, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """Per responsible party: cases reported in [since, until) and in scope, weighted by
    difficulty (the grid map's category weights), on-time and reopen rates, satisfaction."""
    stmt = select(Case).where(
        scope(uow, user_id),
        Case.party_id.is_not(None),
        Case.created_at >= since,
        Case.created_at < until,
    )
    gridmap = uow.routing.gridmap
    per: dict[str, dict[str, Any]] = {}
    for c in (await uow.session.execute(stmt)).scalars().all():
        p = per.setdefault(
            c.party_id or "",
            {"cases": 0, "weighted": 0.0, "timed": 0, "in_time": 0, "reopened": 0, "ratings": []},
        )
        p["cases"] += 1
        p["weighted"] += float(gridmap.category_weights.get(c.category or "other", 1.0))
        if c.resolved_at is not None:
            p["timed"] += 1
            p["in_time"] += int(c.resolve_by is None or c.resolved_at <= c.resolve_by)
        p["reopened"] += int(bool(c.reopen_count))
        if c.rating:
            p["ratings"].append(c.rating)
        p.setdefault("owners", []).append(c.owner_count or 1)
    from bot.services.cases import duty  # whose duty: returns by the party (duty builds on this)

    returned = await duty.figures(uow, since=since, until=until, grids=scope_grids(uow, user_id))
    report = []
    for party_id, p in per.items():
        party = gridmap.parties.get(party_id)
        f = returned.get(f"party:{party_id}") or duty.DutyFigures()
        report.append(
            {
                "id": party_id,
                "party": party,
                "cases": p["cases"],
                "weighted": round(p["weighted"], 2),
                "within_deadline": p["in_time"] / p["timed"] if p["timed"] else None,
                "reopen_rate": p["reopened"] / p["cases"],
                "avg_rating": sum(p["ratings"]) / len(p["ratings"]) if p["ratings"] else None,
                "returns": f.returns,
                "overruled": f.overruled,
                "dispute_hours": f.mean_hours,
                "owners_per_case": sum(p["owners"]) / len(p["owners"]),
            }
        )
    report.sort(key=lambda r: (-r["weighted"], r["id"]))
    return report
