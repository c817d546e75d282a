"""The ONE public view of a case: everything public (Open311, open data, the dashboard's
case pages) is built from `PublicCase`, an explicit allow-list of fields.

Safe by construction: the queries here select only allowed columns — never the resident,
the reporter's words, the place they typed, the owner's Telegram id or a staff name — and
coarsen the location before it leaves this module. The responsible party is an organisation
(a grid, a community, the street office or a party such as the property company), never a
person. Free text is limited to the public note staff publish on purpose (never the note to
the resident when resolving, nor a decline reason), plus a description staff approved, and
that only when `Settings.publish_descriptions` is on. Times are public times: a case's updated
time is its last public event's, so a resident's rating moves nothing here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, func, or_, select

from bot.services.public.projection import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    PUBLIC_COLUMNS,
    PUBLIC_EVENTS,
    PUBLIC_STATUS,
    PUBLIC_STATUSES,
    UNPLACED_SERVICE,
    Projection,
    PublicCase,
    PublicEvent,
    public_columns,
    public_kind,
)
from bot.store.db import reading
from bot.store.models import Case, CaseEvent, Handoff

if TYPE_CHECKING:
    from bot.services.shared.domain import Domain

__all__ = [
    "CLOSED_STATUSES",
    "OPEN_STATUSES",
    "PUBLIC_EVENTS",
    "PUBLIC_STATUS",
    "PUBLIC_STATUSES",
    "UNPLACED_SERVICE",
    "CaseQuery",
    "PublicCase",
    "PublicEvent",
    "count_public_cases",
    "cursor_of",
    "find_public_case",
    "list_public_cases",
    "statuses_for",
    "stream_public_cases",
]

MAX_PAGE = 1000


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


def _filtered(query: CaseQuery, columns: tuple[Any, ...] = PUBLIC_COLUMNS) -> Select[Any]:
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
        stmt = stmt.where(Case.public_updated_at >= query.updated_after)
    if query.updated_before is not None:
        stmt = stmt.where(Case.public_updated_at <= query.updated_before)
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
            await conn.execute(select(*public_columns(domain)).where(Case.human_id == human_id))
        ).one_or_none()
        if row is None:
            return None
        events = (
            await conn.execute(
                select(CaseEvent.at, CaseEvent.kind, CaseEvent.to_status, CaseEvent.data)
                .where(CaseEvent.case_id == row.id, CaseEvent.kind.in_(list(PUBLIC_EVENTS)))
                .order_by(CaseEvent.id)
            )
        ).all()
        built = projection.build_many([row])[0]
    timeline = tuple(
        PublicEvent(
            at=e.at, kind=public_kind(e.kind, e.data), status=PUBLIC_STATUS.get(e.to_status, "")
        )
        for e in events
    )
    return PublicCase(**{**built.__dict__, "timeline": timeline})


async def list_public_cases(domain: Domain, query: CaseQuery) -> list[PublicCase]:
    """A page of cases, newest first (or oldest first), at most `MAX_PAGE` of them."""
    limit = max(0, min(query.limit, MAX_PAGE))
    stmt = _ordered(_filtered(query, public_columns(domain)), query)
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
    stmt = _filtered(query, public_columns(domain)).order_by(Case.created_at, Case.id)
    projection = Projection(domain)
    async with reading(domain.engine) as conn:
        result = await conn.stream(stmt.execution_options(yield_per=batch))
        async for rows in result.partitions(batch):
            for public in projection.build_many(rows):
                yield public


async def public_link(domain: Domain, human_id: str) -> dict[str, Any] | None:
    """Where the case is being handled when another system has it (the superior centre, a
    department): the link's name and the step it reached — never their notes, nor ids."""
    async with reading(domain.engine) as conn:
        row = (
            await conn.execute(
                select(Handoff.link_id, Handoff.step, Handoff.status)
                .join(Case, Case.id == Handoff.case_id)
                .where(Case.human_id == human_id.strip().upper())
                .where(Handoff.status.in_(("sent", "done")))
                .order_by(Handoff.id.desc())
                .limit(1)
            )
        ).one_or_none()
    if row is None or row.step == "returned":
        return None
    link = domain.routing.gridmap.links.get(row.link_id)
    if link is None:
        return None
    return {"name": link.name, "step": row.step}
