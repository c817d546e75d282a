"""The public dashboard's read models: a community's and a grid's figures, computed in SQL.

Every figure is defined on /about/numbers (templates/web/numbers.html) from the `Rules` below:

* open now, split into new (reported within `rules.new`), stale (no update for `rules.stale`)
  and older (the rest);
* over the period (cases reported within `rules.window`): reported, resolved, median and 90th
  percentile time to first response and to resolution, on-time closure (resolved by the
  published resolution deadline, without an escalation, ÷ cases due: resolved, past their
  deadline, or escalated for a missed deadline), reopen rate (reopened ÷ resolved), satisfaction (average stars, and
  rated ÷ closed after a resolution);
* top categories of the last seven days, and reported vs resolved per week for `rules.weeks`.

A rate or a time over fewer than `rules.minimum` cases is not shown ("too few cases"): no grid
is judged on a handful of cases. Figures are aggregated by the database with GROUP BY over
covering indexes (migration 0004_dashboard), percentiles with `percentile_cont` on PostgreSQL
(SQLite, one community, sorts the durations here), and reused for `settings.dashboard_cache`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, Integer, and_, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.case_views import OPEN
from bot.services.domain import Domain
from bot.store.models import Case, UTCDateTime

WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Rules:
    """The thresholds every figure is computed with; the numbers page states them."""

    window: timedelta
    new: timedelta
    stale: timedelta
    weeks: int
    minimum: int

    @classmethod
    def of(cls, settings: Any) -> Rules:
        return cls(
            window=settings.dashboard_window,
            new=settings.dashboard_new,
            stale=settings.dashboard_stale,
            weeks=max(1, min(settings.dashboard_weeks, 104)),
            minimum=max(1, settings.dashboard_min_cases),
        )


@dataclass(frozen=True)
class Share:
    """part ÷ whole, shown only when the whole reaches the minimum count."""

    part: int
    whole: int
    minimum: int

    @property
    def enough(self) -> bool:
        return self.whole >= self.minimum

    @property
    def value(self) -> float | None:
        return self.part / self.whole if self.enough and self.whole else None


@dataclass(frozen=True)
class Timing:
    """Median and 90th percentile of a duration in seconds, over `count` cases."""

    count: int
    median: float | None
    p90: float | None
    minimum: int

    @property
    def enough(self) -> bool:
        return self.count >= self.minimum and self.median is not None


@dataclass(frozen=True)
class OpenCases:
    total: int = 0
    new: int = 0
    stale: int = 0

    @property
    def older(self) -> int:
        return self.total - self.new - self.stale


@dataclass(frozen=True)
class Week:
    start: datetime
    reported: int
    resolved: int


@dataclass(frozen=True)
class Figures:
    """One scope's figures (a community or a grid)."""

    open: OpenCases
    reported: int
    resolved: int
    first_response: Timing
    resolution: Timing
    on_time: Share
    reopened: Share
    rated: Share
    rating: float | None
    top_categories: list[tuple[str, int]]
    weekly: list[Week]


@dataclass(frozen=True)
class GridLine:
    """A grid's line in a community's table (listed by grid, never ranked)."""

    grid_id: str
    open: OpenCases
    reported: int
    resolved: int
    on_time: Share


@dataclass(frozen=True)
class Overview:
    as_of: datetime
    rules: Rules
    figures: Figures
    grids: dict[str, GridLine] = field(default_factory=dict)


class Dashboard:
    """The read models behind the public pages, with a short-lived cache per scope."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self._cache: dict[tuple[str, ...], tuple[float, Any]] = {}

    @property
    def rules(self) -> Rules:
        return Rules.of(self.domain.settings)

    async def community(self, grid_ids: Sequence[str] | None = None) -> Overview:
        """The figures of a set of grids (None: every grid), with a line per grid."""
        key = ("community", *(sorted(grid_ids) if grid_ids is not None else ["*"]))
        return await self._cached(key, lambda s: _overview(s, self._ctx(), grid_ids, lines=True))

    async def grid(self, grid_id: str) -> Overview:
        return await self._cached(
            ("grid", grid_id), lambda s: _overview(s, self._ctx(), [grid_id], lines=False)
        )

    async def open_cases(self, grid_ids: Sequence[str]) -> dict[str, int]:
        """Open cases per grid (for a map around a grid): one pass over the open-case index."""
        key = ("open", *sorted(grid_ids))

        async def compute(session: AsyncSession) -> dict[str, int]:
            found = await _open_cases(session, self._ctx(), _scope(list(grid_ids)))
            return {g: o.total for g, o in found.items()}

        return await self._cached(key, compute)

    def _ctx(self) -> _Context:
        return _Context(self.domain.clock.now(), self.rules, self.domain.sqlite)

    async def _cached(self, key: tuple[str, ...], compute: Any) -> Any:
        ttl = self.domain.settings.dashboard_cache.total_seconds()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        async with self.domain.sessions() as session:
            value = await compute(session)
        if ttl > 0:
            if len(self._cache) > 2048:  # a crawler walking every grid: forget, do not grow
                self._cache.clear()
            self._cache[key] = (time.monotonic() + ttl, value)
        return value


@dataclass(frozen=True)
class _Context:
    now: datetime
    rules: Rules
    sqlite: bool

    @property
    def since(self) -> datetime:
        return self.now - self.rules.window


def _at(value: datetime) -> ColumnElement[Any]:
    return literal(value, UTCDateTime())


def _seconds(later: Any, earlier: Any, sqlite: bool) -> ColumnElement[float]:
    if sqlite:
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return cast(func.extract("epoch", later - earlier), Float)


def _scope(grid_ids: Sequence[str] | None) -> list[ColumnElement[bool]]:
    if grid_ids is None:
        return []
    if len(grid_ids) == 1:
        return [Case.grid_id == grid_ids[0]]
    return [Case.grid_id.in_(list(grid_ids))]


def _period_columns(ctx: _Context) -> list[Any]:
    resolved = Case.resolved_at.is_not(None)
    # Due: resolved, or past its resolution deadline, or escalated (a deadline was missed; an
    # escalation also moves the deadline on, so the deadline alone would hide it).
    due = and_(
        Case.resolve_by.is_not(None),
        resolved | (Case.resolve_by < _at(ctx.now)) | (Case.escalation_count > 0),
    )
    on_time = and_(resolved, Case.resolved_at <= Case.resolve_by, Case.escalation_count == 0)
    return [
        func.count().label("reported"),
        func.count().filter(resolved).label("resolved"),
        func.count().filter(due).label("due"),
        func.count().filter(on_time).label("on_time"),
        func.count().filter(Case.reopen_count > 0).label("reopened"),
        func.count().filter(and_(Case.status == "closed", resolved)).label("closed"),
        func.count(Case.rating).label("rated"),
        func.avg(Case.rating).label("rating"),
    ]


async def _overview(
    session: AsyncSession, ctx: _Context, grid_ids: Sequence[str] | None, *, lines: bool
) -> Overview:
    scope = _scope(grid_ids)
    opened = await _open_cases(session, ctx, scope)
    period = (
        await session.execute(
            select(*_period_columns(ctx)).where(Case.created_at >= _at(ctx.since), *scope)
        )
    ).one()
    response, resolution = await _timings(session, ctx, scope)
    minimum = ctx.rules.minimum
    figures = Figures(
        open=_sum_open(opened.values()),
        reported=period.reported,
        resolved=period.resolved,
        first_response=response,
        resolution=resolution,
        on_time=Share(period.on_time, period.due, minimum),
        reopened=Share(period.reopened, period.resolved, minimum),
        rated=Share(period.rated, period.closed, minimum),
        rating=float(period.rating)
        if period.rating is not None and period.rated >= minimum
        else None,
        top_categories=await _top_categories(session, ctx, scope),
        weekly=await _weekly(session, ctx, scope),
    )
    grids: dict[str, GridLine] = {}
    if lines:
        grids = await _grid_lines(session, ctx, scope, opened)
    return Overview(as_of=ctx.now, rules=ctx.rules, figures=figures, grids=grids)


async def _open_cases(
    session: AsyncSession, ctx: _Context, scope: list[ColumnElement[bool]]
) -> dict[str, OpenCases]:
    """Open cases per grid: one pass over the partial index of open cases."""
    stmt = (
        select(
            Case.grid_id,
            func.count(),
            func.count().filter(Case.created_at >= _at(ctx.now - ctx.rules.new)),
            func.count().filter(Case.updated_at < _at(ctx.now - ctx.rules.stale)),
        )
        .where(Case.status.in_(sorted(OPEN)), *scope)
        .group_by(Case.grid_id)
    )
    return {
        grid: OpenCases(total, new, stale)
        for grid, total, new, stale in (await session.execute(stmt)).all()
    }


def _sum_open(items: Any) -> OpenCases:
    total = new = stale = 0
    for o in items:
        total, new, stale = total + o.total, new + o.new, stale + o.stale
    return OpenCases(total, new, stale)


async def _timings(
    session: AsyncSession, ctx: _Context, scope: list[ColumnElement[bool]]
) -> tuple[Timing, Timing]:
    response = _seconds(Case.first_response_at, Case.created_at, ctx.sqlite)
    resolution = _seconds(Case.resolved_at, Case.created_at, ctx.sqlite)
    where = [Case.created_at >= _at(ctx.since), *scope]
    minimum = ctx.rules.minimum
    if not ctx.sqlite:
        row = (
            await session.execute(
                select(
                    func.count(Case.first_response_at),
                    func.percentile_cont(0.5).within_group(response),
                    func.percentile_cont(0.9).within_group(response),
                    func.count(Case.resolved_at),
                    func.percentile_cont(0.5).within_group(resolution),
                    func.percentile_cont(0.9).within_group(resolution),
                ).where(*where)
            )
        ).one()
        return (
            Timing(row[0], _num(row[1]), _num(row[2]), minimum),
            Timing(row[3], _num(row[4]), _num(row[5]), minimum),
        )
    found: list[Timing] = []
    for column, seconds in ((Case.first_response_at, response), (Case.resolved_at, resolution)):
        values = list(
            (await session.execute(select(seconds).where(*where, column.is_not(None))))
            .scalars()
            .all()
        )
        found.append(
            Timing(
                len(values), _num(percentile(values, 0.5)), _num(percentile(values, 0.9)), minimum
            )
        )
    return found[0], found[1]


def _num(value: Any) -> float | None:
    """Whole seconds: SQLite's julianday arithmetic is off by fractions of a second."""
    return None if value is None else float(round(float(value)))


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks: what PostgreSQL's percentile_cont returns."""
    if not values:
        return None
    ordered = sorted(float(v) for v in values)
    if len(ordered) == 1:
        return ordered[0]
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


async def _top_categories(
    session: AsyncSession, ctx: _Context, scope: list[ColumnElement[bool]], limit: int = 5
) -> list[tuple[str, int]]:
    stmt = (
        select(Case.category, func.count())
        .where(Case.created_at >= _at(ctx.now - WEEK), *scope)
        .group_by(Case.category)
    )
    counts = [(cat or "triage", n) for cat, n in (await session.execute(stmt)).all()]
    counts.sort(key=lambda item: (-item[1], item[0]))
    return counts[:limit]


def _week_of(column: Any, start: datetime, sqlite: bool) -> ColumnElement[int]:
    seconds = _seconds(column, _at(start), sqlite)
    if sqlite:  # never negative here: CAST truncates, which is floor
        return cast(seconds / WEEK.total_seconds(), Integer)
    return cast(func.floor(seconds / WEEK.total_seconds()), Integer)


async def _weekly(
    session: AsyncSession, ctx: _Context, scope: list[ColumnElement[bool]]
) -> list[Week]:
    """Reported and resolved per week, the last week ending now."""
    weeks = ctx.rules.weeks
    start = ctx.now - weeks * WEEK
    counts: dict[str, dict[int, int]] = {}
    for name, column in (("reported", Case.created_at), ("resolved", Case.resolved_at)):
        week = _week_of(column, start, ctx.sqlite).label("week")
        stmt = (
            select(week, func.count())
            .where(column >= _at(start), column <= _at(ctx.now), *scope)
            .group_by(week)
        )
        counts[name] = {int(w): n for w, n in (await session.execute(stmt)).all()}
    last = weeks - 1  # a case at exactly `now` belongs to the last week
    for by_week in counts.values():
        if weeks in by_week:
            by_week[last] = by_week.get(last, 0) + by_week.pop(weeks)
    return [
        Week(start + i * WEEK, counts["reported"].get(i, 0), counts["resolved"].get(i, 0))
        for i in range(weeks)
    ]


async def _grid_lines(
    session: AsyncSession,
    ctx: _Context,
    scope: list[ColumnElement[bool]],
    opened: dict[str, OpenCases],
) -> dict[str, GridLine]:
    cols = _period_columns(ctx)
    stmt = (
        select(Case.grid_id, *cols[:4])
        .where(Case.created_at >= _at(ctx.since), *scope)
        .group_by(Case.grid_id)
    )
    lines: dict[str, GridLine] = {}
    for grid, reported, resolved, due, on_time in (await session.execute(stmt)).all():
        lines[grid] = GridLine(
            grid,
            opened.get(grid, OpenCases()),
            reported,
            resolved,
            Share(on_time, due, ctx.rules.minimum),
        )
    for grid, o in opened.items():
        lines.setdefault(grid, GridLine(grid, o, 0, 0, Share(0, 0, ctx.rules.minimum)))
    return lines


__all__ = [
    "Dashboard",
    "Figures",
    "GridLine",
    "OpenCases",
    "Overview",
    "Rules",
    "Share",
    "Timing",
    "Week",
    "percentile",
]
