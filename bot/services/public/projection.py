"""The allow-list itself: public statuses, `PublicCase`, the columns a public read may select,
and the projection of those rows into `PublicCase`s (names from the grid map in force, places
coarsened, the responsible organisation instead of a person).

`bot/services/public_cases.py` is the API everyone public uses; this module is what it reads.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, func, select, type_coerce

from bot.services.cases.status import (
    AWAITING_ACCEPT,
    FINISHED,
    HOLD_REASONS,
    OPEN,
    PUBLIC_EVENT_KINDS,
    Status,
)
from bot.store.models import Case, CaseDispute, CaseFollower
from routing.gridmap import GridMap, Text

if TYPE_CHECKING:
    from bot.services.shared.domain import Domain

# Internal status -> public status (what a page or an open-data row shows).
PUBLIC_STATUS: dict[str, str] = {  # every Status (checked below)
    "triage": "received",
    "assigned": "assigned",
    "transferred": "assigned",
    "escalated": "escalated",
    "reopened": "reopened",
    "accepted": "in_progress",
    "needs_info": "waiting_for_information",
    "resolved": "resolved",
    # Publicly a resolved case stays resolved: the scheduler closes it later when the resident
    # rated it than when they did not, so a public "closed" (or its time) would tell.
    "closed": "resolved",
    "rejected": "rejected",
    "cancelled": "cancelled",
}
assert set(PUBLIC_STATUS) == set(Status), "every status of the lifecycle has a public name"
PUBLIC_STATUSES: tuple[str, ...] = tuple(dict.fromkeys(PUBLIC_STATUS.values()))
# Open311 knows two statuses: a resolved case (waiting for the resident's rating) is closed.
CLOSED_STATUSES: frozenset[str] = FINISHED
OPEN_STATUSES: frozenset[str] = OPEN
_CLOSED_PUBLIC = frozenset(PUBLIC_STATUS[s] for s in CLOSED_STATUSES)
# Where a public resolved time applies (a reopened case shows none until resolved again), and
# where a closing time does (a resolved case's closing is the scheduler's, after the rating).
_RESOLVED = frozenset({Status.RESOLVED, Status.CLOSED})
_ENDED = frozenset({Status.REJECTED, Status.CANCELLED})

# Audit events that are public, as the public event kind: status changes and the public note;
# never a note's words, never who acted, never the resident's rating nor the case's closing
# after it (`status.PUBLIC_EVENT_KINDS` says why).
PUBLIC_EVENTS: dict[str, str] = {
    "created": "created",
    "triaged": "assigned",
    "rerouted": "assigned",
    "reassigned": "transferred",
    "accepted": "accepted",
    "asked": "waiting_for_information",
    "answered": "information_given",
    "transferred": "transferred",
    "escalated": "escalated",
    "resolved": "resolved",
    "rejected": "rejected",
    "reopened": "reopened",
    "rework": "reopened",
    "cancelled": "cancelled",
    "public_note": "public_note",
    "held": "on_hold",  # with its reason category: `public_kind`
    "hold_ended": "resumed",
    "extended": "deadline_extended",
}


def public_kind(kind: str, data: dict[str, Any] | None) -> str:
    """An audit event's public kind: a hold names its reason category (never its note)."""
    public = PUBLIC_EVENTS[kind]
    reason = (data or {}).get("reason")
    if public == "on_hold" and reason in HOLD_REASONS:
        return f"on_hold_{reason}"
    return public


assert set(PUBLIC_EVENTS) == PUBLIC_EVENT_KINDS, "the public steps are the public events"
# The service code of a case the classifier could not place (yet).
UNPLACED_SERVICE = "other"


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
    status_notes: str | None  # the public note staff published on purpose, or None (never the
    # resolution note or the decline reason: those are the resident's)
    description: str | None  # staff-approved, and only when the deployment publishes them
    lat: float | None  # coarsened (Settings.public_location_decimals)
    long: float | None
    source: str  # bot | open311
    requested_at: datetime
    updated_at: datetime  # the last public event's time (a rating is none)
    accept_by: datetime | None  # the accept deadline while someone is yet to take it up
    expected_at: datetime | None  # the resolution deadline while the case is open
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None  # declined or withdrawn; a resolved case's end is its resolution
    duplicates: int  # residents with the same problem who joined this case
    reopen_count: int
    timeline: tuple[PublicEvent, ...] = field(default=())
    # On an approved hold: its reason category and end (never the owner's note; a case
    # waiting for the resident's answer is not on hold).
    hold_reason: str | None = None
    held_until: datetime | None = None
    supervised: bool = False  # a supervisor flagged it (督办); no staff words, no deadline
    under_review: bool = False  # its ownership is being reviewed (a return waits for a ruling)

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


_DUPLICATES = (
    select(func.count())
    .where(CaseFollower.case_id == Case.id)
    .scalar_subquery()
    .label("duplicates")
)
# Whose duty: a return of the case waits for a ruling (published as "ownership under review"
# only: never who returned it, the clause, or why).
_UNDER_REVIEW = (
    select(func.count())
    .where(CaseDispute.case_id == Case.id, CaseDispute.outcome.is_(None))
    .scalar_subquery()
    .label("under_review")
)

# The allow-list, as columns: nothing else of a case is ever read for the public. Never the
# resolution note, a decline reason, a rating or `updated_at` (a rating moves it).
PUBLIC_COLUMNS = (
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
    Case.public_updated_at,
    Case.accept_by,
    Case.resolve_by,
    Case.accepted_at,
    Case.first_response_at,
    Case.resolved_at,
    Case.closed_at,
    Case.public_note,
    Case.public_description,
    Case.reopen_count,
    Case.held_reason,
    Case.held_until,
    Case.supervised_at,  # published only as "under supervision": never who, why or until when
    _DUPLICATES,
    _UNDER_REVIEW,
)
# A row of PUBLIC_COLUMNS as a plain named tuple: attribute access on it is cheap (1,000 rows a page).
_Row = namedtuple("_Row", [c.key for c in PUBLIC_COLUMNS])  # type: ignore[misc]  # noqa: PYI024
# PostgreSQL hands back aware UTC datetimes already: read them without UTCDateTime's per-value
# conversion (SQLite's naive strings still go through it).
_TIMES = frozenset(
    (
        "created_at",
        "public_updated_at",
        "accept_by",
        "resolve_by",
        "accepted_at",
        "first_response_at",
        "resolved_at",
        "closed_at",
        "held_until",
        "supervised_at",
    )
)
AWARE_COLUMNS = tuple(
    type_coerce(c, DateTime(timezone=True)).label(c.key) if c.key in _TIMES else c
    for c in PUBLIC_COLUMNS
)


def public_columns(domain: Domain) -> tuple[Any, ...]:
    return PUBLIC_COLUMNS if domain.sqlite else AWARE_COLUMNS


class Projection:
    """Turns allow-listed rows into `PublicCase`s with the names of the grid map in force."""

    def __init__(self, domain: Domain) -> None:
        self.gridmap: GridMap = domain.routing.gridmap
        self.renderer = domain.renderer
        self.decimals = domain.settings.public_location_decimals
        self.publish_descriptions = domain.settings.publish_descriptions
        self._services: dict[str, Text] = {}
        # per grid: (grid name, community id, community name); per owner: the organisation
        self._grids: dict[str, tuple[Text, str | None, Text | None]] = {}
        self._owners: dict[tuple[str, str, str | None], Text] = {}

    def grid_info(self, grid_id: str) -> tuple[Text, str | None, Text | None]:
        info = self._grids.get(grid_id)
        if info is None:
            grid = self.gridmap.grids.get(grid_id)
            community = self.gridmap.communities.get(grid.community_id) if grid else None
            info = (
                grid.name if grid else Text(en=grid_id, zh=grid_id),
                community.id if community else None,
                community.name if community else None,
            )
            self._grids[grid_id] = info
        return info

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
        key = (grid_id, rung, party_id)
        name = self._owners.get(key)
        if name is None:
            name = self._owners[key] = self._organisation(grid_id, rung, party_id)
        return name

    def _organisation(self, grid_id: str, rung: str, party_id: str | None) -> Text:
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
        duplicates: int = 0,
        timeline: tuple[PublicEvent, ...] = (),
    ) -> PublicCase:
        code = row.category or UNPLACED_SERVICE
        grid_name, community_id, community_name = self.grid_info(row.grid_id)
        lat, long = self.coarse(row)
        return PublicCase(
            human_id=row.human_id or "",
            service_code=code,
            service_name=self.service_name(code),
            grid_id=row.grid_id,
            grid_name=grid_name,
            community_id=community_id,
            community_name=community_name,
            responsible_role=row.rung,
            responsible_name=self.responsible(row.grid_id, row.rung, row.party_id),
            status=PUBLIC_STATUS.get(row.status, row.status),
            status_notes=row.public_note or None,
            description=row.public_description if self.publish_descriptions else None,
            lat=lat,
            long=long,
            source=row.source,
            requested_at=row.created_at,
            updated_at=row.public_updated_at or row.created_at,
            # Only deadlines that still apply: taking it up while it waits for someone to, the
            # resolution while it is open.
            accept_by=row.accept_by if row.status in AWAITING_ACCEPT else None,
            expected_at=row.resolve_by if row.status in OPEN_STATUSES else None,
            first_response_at=row.first_response_at,
            resolved_at=row.resolved_at if row.status in _RESOLVED else None,
            closed_at=row.closed_at if row.status in _ENDED else None,
            duplicates=duplicates,
            reopen_count=row.reopen_count,
            timeline=timeline,
            hold_reason=row.held_reason if row.held_reason in HOLD_REASONS else None,
            held_until=row.held_until if row.held_reason in HOLD_REASONS else None,
            supervised=getattr(row, "supervised_at", None) is not None,
            under_review=bool(getattr(row, "under_review", 0)),
        )

    def build_many(self, rows: Sequence[Any]) -> list[PublicCase]:
        out = []
        for raw in rows:
            row = _Row._make(raw)
            out.append(self.build(row, duplicates=row.duplicates))
        return out
