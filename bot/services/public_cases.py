"""The ONE public view of a case: everything public (Open311, open data, the dashboard's
case pages) is built from `PublicCase`, an explicit allow-list of fields.

Safe by construction: the queries here select only allowed columns — never the resident,
the reporter's words, the place they typed, the owner's Telegram id or a staff name — and
coarsen the location before it leaves this module. The responsible party is an organisation
(a grid, a community, the street office or a party such as the property company), never a
person. Free text is limited to notes staff wrote when resolving or rejecting, plus a
description staff approved, and that only when `Settings.publish_descriptions` is on.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, Select, and_, case, func, or_, select, type_coerce

from bot.store.db import reading
from bot.store.models import Case, CaseEvent, CaseFollower
from routing.gridmap import GridMap, Text

if TYPE_CHECKING:
    from bot.services.domain import Domain

# Internal status -> public status (what a page or an open-data row shows).
PUBLIC_STATUS: dict[str, str] = {
    "triage": "received",
    "assigned": "assigned",
    "transferred": "assigned",
    "escalated": "escalated",
    "reopened": "reopened",
    "accepted": "in_progress",
    "needs_info": "waiting_for_information",
    "resolved": "resolved",
    "closed": "closed",
    "rejected": "rejected",
    "cancelled": "cancelled",
}
PUBLIC_STATUSES: tuple[str, ...] = tuple(dict.fromkeys(PUBLIC_STATUS.values()))
# Open311 knows two statuses: a resolved case (waiting for the resident's rating) is closed.
CLOSED_STATUSES: frozenset[str] = frozenset({"resolved", "closed", "rejected", "cancelled"})
OPEN_STATUSES: frozenset[str] = frozenset(PUBLIC_STATUS) - CLOSED_STATUSES
_CLOSED_PUBLIC = frozenset(PUBLIC_STATUS[s] for s in CLOSED_STATUSES)

# Audit events that are public, as the public event kind. Only status changes; never a note,
# never who acted.
PUBLIC_EVENTS: dict[str, str] = {
    "created": "created",
    "triaged": "assigned",
    "rerouted": "assigned",
    "accepted": "accepted",
    "asked": "waiting_for_information",
    "answered": "information_given",
    "transferred": "transferred",
    "escalated": "escalated",
    "resolved": "resolved",
    "rejected": "rejected",
    "reopened": "reopened",
    "rated": "closed",
    "auto_closed": "closed",
    "cancelled": "cancelled",
}
# The service code of a case the classifier could not place (yet).
UNPLACED_SERVICE = "other"
MAX_PAGE = 1000


@dataclass(frozen=True)
class PublicEvent:
    """A public step on a case's timeline: when, what happened, the public status after it."""

    at: datetime
    kind: str
    status: str


@dataclass(frozen=True)
class PublicCase:
    """A case as the public may see it. Adding a field here publishes it: think first."""

    human_id: str
    service_code: str
    service_name: Text
    grid_id: str
    grid_name: Text
    community_id: str | None
    community_name: Text | None
    responsible_role: str  # member | leader | centre | street | party: the rung that has it
    responsible_name: Text  # an organisation: the grid, community, street office or party
    status: str  # public status, one of PUBLIC_STATUSES
    status_notes: str | None  # the staff's resolution note or rejection reason
    description: str | None  # staff-approved, and only when the deployment publishes them
    lat: float | None  # coarsened (Settings.public_location_decimals)
    long: float | None
    source: str  # bot | open311
    requested_at: datetime
    updated_at: datetime
    accept_by: datetime | None
    expected_at: datetime | None  # the resolution deadline while the case is open
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    duplicates: int  # residents with the same problem who joined this case
    reopen_count: int
    timeline: tuple[PublicEvent, ...] = field(default=())

    @property
    def is_open(self) -> bool:
        return self.status not in _CLOSED_PUBLIC

    @property
    def open311_status(self) -> str:
        return "open" if self.is_open else "closed"

    def place(self, lang: str) -> str:
        """A grid-level place: the grid and its community, never a building or a door."""
        parts = [self.grid_name.get(lang)]
        if self.community_name is not None:
            parts.append(self.community_name.get(lang))
        return ("，" if lang == "zh" else ", ").join(p for p in parts if p)


@dataclass(frozen=True)
class CaseQuery:
    """Filters for public lists. Datetimes are inclusive bounds on requested/updated times."""

    human_ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()  # internal statuses (see statuses_for)
    grid_ids: tuple[str, ...] = ()
    requested_from: datetime | None = None
    requested_to: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    limit: int = 1000
    offset: int = 0
    # Keyset paging, newest first: only cases requested before this (requested_at, key).
    before: tuple[datetime, int] | None = None
    oldest_first: bool = False


def statuses_for(public: str) -> tuple[str, ...]:
    """Internal statuses behind an Open311 status (open/closed) or a public status."""
    if public == "open":
        return tuple(sorted(OPEN_STATUSES))
    if public == "closed":
        return tuple(sorted(CLOSED_STATUSES))
    return tuple(sorted(s for s, p in PUBLIC_STATUS.items() if p == public))


# The reason given when a case was rejected (only looked up for rejected cases).
_REJECT_NOTE = case(
    (
        Case.status == "rejected",
        select(CaseEvent.note)
        .where(CaseEvent.case_id == Case.id, CaseEvent.kind == "rejected")
        .order_by(CaseEvent.id.desc())
        .limit(1)
        .scalar_subquery(),
    ),
    else_=None,
).label("reject_note")
_DUPLICATES = (
    select(func.count())
    .where(CaseFollower.case_id == Case.id)
    .scalar_subquery()
    .label("duplicates")
)

# The allow-list, as columns: nothing else of a case is ever read for the public.
_COLUMNS = (
    Case.id,
    Case.human_id,
    Case.category,
    Case.grid_id,
    Case.building_id,
    Case.latitude,
    Case.longitude,
    Case.status,
    Case.rung,
    Case.party_id,
    Case.source,
    Case.created_at,
    Case.updated_at,
    Case.accept_by,
    Case.resolve_by,
    Case.accepted_at,
    Case.resolved_at,
    Case.closed_at,
    Case.resolution_note,
    Case.public_description,
    Case.reopen_count,
    _REJECT_NOTE,
    _DUPLICATES,
)
# A row of _COLUMNS as a plain named tuple: attribute access on it is cheap (1,000 rows a page).
_Row = namedtuple("_Row", [c.key for c in _COLUMNS])  # type: ignore[misc]  # noqa: PYI024
# PostgreSQL hands back aware UTC datetimes already: read them without UTCDateTime's per-value
# conversion (SQLite's naive strings still go through it).
_TIMES = frozenset(
    (
        "created_at",
        "updated_at",
        "accept_by",
        "resolve_by",
        "accepted_at",
        "resolved_at",
        "closed_at",
    )
)
_COLUMNS_AWARE = tuple(
    type_coerce(c, DateTime(timezone=True)).label(c.key) if c.key in _TIMES else c for c in _COLUMNS
)


def _columns(domain: Domain) -> tuple[Any, ...]:
    return _COLUMNS if domain.sqlite else _COLUMNS_AWARE


class Projection:
    """Turns allow-listed rows into `PublicCase`s with the names of the grid map in force."""

    def __init__(self, domain: Domain) -> None:
        self.gridmap: GridMap = domain.routing.gridmap
        self.renderer = domain.renderer
        self.decimals = domain.settings.public_location_decimals
        self.publish_descriptions = domain.settings.publish_descriptions
        self._services: dict[str, Text] = {}

    def service_name(self, code: str) -> Text:
        if code not in self._services:
            key = f"cat_{code}"
            names = {
                lang: self.renderer.label(lang, key) if self.renderer.has_label(lang, key) else code
                for lang in ("en", "zh")
            }
            self._services[code] = Text(en=names["en"], zh=names["zh"])
        return self._services[code]

    def responsible(self, grid_id: str, rung: str, party_id: str | None) -> Text:
        gm = self.gridmap
        if party_id and party_id in gm.parties:
            return gm.parties[party_id].name
        grid = gm.grids.get(grid_id)
        if rung == "street" and gm.street_office is not None:
            return gm.street_office.name
        if rung == "centre" and grid is not None and grid.community_id in gm.communities:
            return gm.communities[grid.community_id].name
        return grid.name if grid is not None else Text(en=grid_id, zh=grid_id)

    def coarse(self, row: Any) -> tuple[float | None, float | None]:
        """The pin, else the building, else the grid's middle — rounded to a block."""
        point: tuple[float, float] | None = None
        if row.latitude is not None and row.longitude is not None:
            point = (row.latitude, row.longitude)
        elif row.building_id and row.building_id in self.gridmap.buildings:
            point = self.gridmap.buildings[row.building_id].location
        if point is None:
            grid = self.gridmap.grids.get(row.grid_id)
            if grid is not None and grid.polygon:
                lats = [p[0] for p in grid.polygon]
                lons = [p[1] for p in grid.polygon]
                point = ((min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2)
        if point is None:
            return None, None
        return round(point[0], self.decimals), round(point[1], self.decimals)

    def build(
        self,
        row: Any,
        *,
        reject_note: str | None = None,
        duplicates: int = 0,
        timeline: tuple[PublicEvent, ...] = (),
    ) -> PublicCase:
        code = row.category or UNPLACED_SERVICE
        grid = self.gridmap.grids.get(row.grid_id)
        community = self.gridmap.communities.get(grid.community_id) if grid else None
        lat, long = self.coarse(row)
        if row.status in ("resolved", "closed"):
            notes = row.resolution_note
        elif row.status == "rejected":
            notes = reject_note
        else:
            notes = None
        return PublicCase(
            human_id=row.human_id or "",
            service_code=code,
            service_name=self.service_name(code),
            grid_id=row.grid_id,
            grid_name=grid.name if grid else Text(en=row.grid_id, zh=row.grid_id),
            community_id=community.id if community else None,
            community_name=community.name if community else None,
            responsible_role=row.rung,
            responsible_name=self.responsible(row.grid_id, row.rung, row.party_id),
            status=PUBLIC_STATUS.get(row.status, row.status),
            status_notes=notes,
            description=row.public_description if self.publish_descriptions else None,
            lat=lat,
            long=long,
            source=row.source,
            requested_at=row.created_at,
            updated_at=row.updated_at,
            accept_by=row.accept_by if row.accepted_at is None else None,
            expected_at=row.resolve_by if row.status in OPEN_STATUSES else None,
            first_response_at=row.accepted_at,
            resolved_at=row.resolved_at,
            closed_at=row.closed_at,
            duplicates=duplicates,
            reopen_count=row.reopen_count,
            timeline=timeline,
        )

    def build_many(self, rows: Sequence[Any]) -> list[PublicCase]:
        out = []
        for raw in rows:
            row = _Row._make(raw)
            out.append(self.build(row, reject_note=row.reject_note, duplicates=row.duplicates))
        return out


def _filtered(query: CaseQuery, columns: tuple[Any, ...] = _COLUMNS) -> Select[Any]:
    stmt = select(*columns).where(Case.human_id.is_not(None))
    if query.human_ids:
        stmt = stmt.where(Case.human_id.in_([h.strip().upper() for h in query.human_ids]))
    if query.service_codes:
        codes = list(query.service_codes)
        cond = Case.category.in_(codes)
        if UNPLACED_SERVICE in codes:
            cond = or_(cond, Case.category.is_(None))
        stmt = stmt.where(cond)
    if query.statuses:
        stmt = stmt.where(Case.status.in_(list(query.statuses)))
    if query.grid_ids:
        stmt = stmt.where(Case.grid_id.in_(list(query.grid_ids)))
    if query.requested_from is not None:
        stmt = stmt.where(Case.created_at >= query.requested_from)
    if query.requested_to is not None:
        stmt = stmt.where(Case.created_at <= query.requested_to)
    if query.updated_after is not None:
        stmt = stmt.where(Case.updated_at >= query.updated_after)
    if query.updated_before is not None:
        stmt = stmt.where(Case.updated_at <= query.updated_before)
    return stmt


def _ordered(stmt: Select[Any], query: CaseQuery) -> Select[Any]:
    if query.oldest_first:
        return stmt.order_by(Case.created_at, Case.id)
    if query.before is not None:
        at, key = query.before
        stmt = stmt.where(or_(Case.created_at < at, and_(Case.created_at == at, Case.id < key)))
    return stmt.order_by(Case.created_at.desc(), Case.id.desc())


def cursor_of(case: PublicCase) -> tuple[datetime, int]:
    """The keyset for `CaseQuery.before` that continues after this case (newest first)."""
    return case.requested_at, case_key(case.human_id)


def case_key(human_id: str) -> int:
    """The number in a human id (GV-2026-000123 -> 123)."""
    tail = human_id.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


async def find_public_case(domain: Domain, human_id: str) -> PublicCase | None:
    """One case by its human id, with its public timeline; None when there is no such case."""
    human_id = human_id.strip().upper()
    if not human_id or len(human_id) > 32:
        return None
    projection = Projection(domain)
    async with reading(domain.engine) as conn:
        row = (
            await conn.execute(select(*_columns(domain)).where(Case.human_id == human_id))
        ).one_or_none()
        if row is None:
            return None
        events = (
            await conn.execute(
                select(CaseEvent.at, CaseEvent.kind, CaseEvent.to_status)
                .where(CaseEvent.case_id == row.id, CaseEvent.kind.in_(list(PUBLIC_EVENTS)))
                .order_by(CaseEvent.id)
            )
        ).all()
        built = projection.build_many([row])[0]
    timeline = tuple(
        PublicEvent(at=e.at, kind=PUBLIC_EVENTS[e.kind], status=PUBLIC_STATUS.get(e.to_status, ""))
        for e in events
    )
    return PublicCase(**{**built.__dict__, "timeline": timeline})


async def list_public_cases(domain: Domain, query: CaseQuery) -> list[PublicCase]:
    """A page of cases, newest first (or oldest first), at most `MAX_PAGE` of them."""
    limit = max(0, min(query.limit, MAX_PAGE))
    stmt = _ordered(_filtered(query, _columns(domain)), query)
    stmt = stmt.limit(limit).offset(max(0, query.offset))
    projection = Projection(domain)
    async with reading(domain.engine) as conn:
        rows = (await conn.execute(stmt)).all()
    return projection.build_many(rows)


async def count_public_cases(domain: Domain, query: CaseQuery) -> int:
    stmt = _filtered(query).with_only_columns(func.count()).order_by(None)
    async with reading(domain.engine) as conn:
        return int((await conn.execute(stmt)).scalar_one())


async def stream_public_cases(
    domain: Domain, query: CaseQuery, *, batch: int = 1000
) -> AsyncIterator[PublicCase]:
    """Every matching case, oldest first, read with a server-side cursor in batches.

    Memory stays at one batch however many cases match (exports of a month or of all time).
    """
    stmt = _filtered(query, _columns(domain)).order_by(Case.created_at, Case.id)
    projection = Projection(domain)
    async with reading(domain.engine) as conn:
        result = await conn.stream(stmt.execution_options(yield_per=batch))
        async for rows in result.partitions(batch):
            for public in projection.build_many(rows):
                yield public
