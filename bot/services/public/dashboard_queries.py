"""The SQL behind the dashboard's figures: GROUP BY aggregates with FILTER clauses over the
covering indexes of migration 0004_dashboard; percentiles with `percentile_cont` on PostgreSQL,
sorted here on SQLite. Read-only; returns `bot.services.public.figures` values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.services.cases.status import OPEN
from bot.services.public.figures import (
    Duties,
    Figures,
    GridLine,
    HandedOut,
    HandoffLine,
    Handoffs,
    OpenCases,
    Overview,
    Rules,
    Share,
    Summons,
    Supervision,
    Timing,
    Verified,
    Week,
)
from bot.services.public.ratings import Ratings, rating_cells
from bot.store.models import (
    Case,
    CaseDispute,
    CaseIntake,
    CaseTask,
    Handoff,
    UTCDateTime,
    Verification,
)

WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Context:
    now: datetime
    rules: Rules
    sqlite: bool
    tz: tzinfo = UTC  # the deployment's: months of ratings are its months

    @property
    def since(self) -> datetime:
        return self.now - self.rules.window


def _at(value: datetime) -> ColumnElement[Any]:
    return literal(value, UTCDateTime())


def _seconds(later: Any, earlier: Any, sqlite: bool) -> ColumnElement[float]:
    if sqlite:
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return cast(func.extract("epoch", later - earlier), Float)


def scope_of(grid_ids: Sequence[str] | None) -> list[ColumnElement[bool]]:
    if grid_ids is None:
        return []
    if len(grid_ids) == 1:
        return [Case.grid_id == grid_ids[0]]
    return [Case.grid_id.in_(list(grid_ids))]


def _period_columns(ctx: Context) -> list[Any]:
    resolved = Case.resolved_at.is_not(None)
    # Due: resolved, or past its resolution deadline, or escalated (a deadline was missed; an
    # escalation also moves the deadline on, so the deadline alone would hide it).
    # A held case's deadline stands still (it moves on by the time held when the hold ends).
    passed = and_(Case.resolve_by < _at(ctx.now), Case.held_since.is_(None))
    due = and_(
        Case.resolve_by.is_not(None),
        resolved | passed | (Case.escalation_count > 0),
    )
    on_time = and_(resolved, Case.resolved_at <= Case.resolve_by, Case.escalation_count == 0)
    # The official rate (按期结案率): cases with an approved hold or extension (缓办) count in
    # neither part.
    deferred = and_(due, Case.deferrals > 0)
    return [
        func.count().label("reported"),
        func.count().filter(resolved).label("resolved"),
        func.count().filter(due).label("due"),
        func.count().filter(on_time).label("on_time"),
        func.count().filter(Case.reopen_count > 0).label("reopened"),
        func.count().filter(deferred).label("deferred"),
        func.count().filter(and_(on_time, Case.deferrals == 0)).label("official_on_time"),
        # Who brought the case in (主动发现率): found by staff on patrol, filed by staff for
        # a resident without Telegram; the rest residents reported themselves.
        func.count().filter(Case.source == "staff_patrol").label("found"),
        func.count().filter(Case.source == "assisted").label("assisted"),
    ]


async def overview(
    session: AsyncConnection, ctx: Context, grid_ids: Sequence[str] | None, *, lines: bool
) -> Overview:
    scope = scope_of(grid_ids)
    opened = await open_cases(session, ctx, scope)
    minimum = ctx.rules.minimum
    columns = _period_columns(ctx) + ([] if ctx.sqlite else _timing_columns(ctx))
    if _chart_in_period(ctx):
        columns += _week_columns(Case.created_at, ctx, "reported")
    period = (
        await session.execute(select(*columns).where(Case.created_at >= _at(ctx.since), *scope))
    ).one()
    # Ratings: never over the period above (one rating would move it), only over whole months
    # whose cells are published (bot/services/public/ratings.py).
    ratings = Ratings.of(
        await rating_cells(
            session,
            now=ctx.now,
            tz=ctx.tz,
            sqlite=ctx.sqlite,
            minimum=ctx.rules.rating_minimum,
            grid_ids=grid_ids,
            months=ctx.rules.rating_months,
        )
    )
    if ctx.sqlite:
        response, resolution = await _timings_sqlite(session, ctx, scope)
    else:  # the same pass over the period's cases as the counts
        response, resolution = _timings_of(period, minimum)
    figures = Figures(
        open=_sum_open(opened.values()),
        reported=period.reported,
        resolved=period.resolved,
        first_response=response,
        resolution=resolution,
        on_time=Share(period.on_time, period.due, minimum),
        official_on_time=Share(period.official_on_time, period.due - period.deferred, minimum),
        deferred=period.deferred,
        reopened=Share(period.reopened, period.resolved, minimum),
        rated=Share(ratings.rated, ratings.closed, ctx.rules.rating_minimum),
        rating=ratings.average,
        top_categories=await _top_categories(session, ctx, scope),
        weekly=await _weekly(session, ctx, scope, period),
        supervision=await supervision(session, ctx, scope),
        verification=await verification(session, ctx, grid_ids),
        summons=await summons(session, ctx, grid_ids),
        duties=await duties(session, ctx, scope),
        found=Share(period.found, period.reported, minimum),
        assisted=period.assisted,
        handoffs=await handoffs(session, ctx, scope),
        handed_out=await handed_out(session, ctx, scope),
    )
    grids: dict[str, GridLine] = {}
    if lines:
        grids = await _grid_lines(session, ctx, scope, opened)
    return Overview(as_of=ctx.now, rules=ctx.rules, figures=figures, grids=grids)


async def open_cases(
    session: AsyncConnection, ctx: Context, scope: list[ColumnElement[bool]]
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


def _timing_columns(ctx: Context) -> list[Any]:
    """PostgreSQL: both percentiles of a duration from one sort (an ordered-set aggregate)."""
    quantiles = literal_column("ARRAY[0.5, 0.9]")
    return [
        func.count(Case.first_response_at).label("responded"),
        func.percentile_cont(quantiles)
        .within_group(_seconds(Case.first_response_at, Case.created_at, False))
        .label("response"),
        func.count(Case.resolved_at).label("resolutions"),
        func.percentile_cont(quantiles)
        .within_group(_seconds(Case.resolved_at, Case.created_at, False))
        .label("resolution"),
    ]


def _timings_of(row: Any, minimum: int) -> tuple[Timing, Timing]:
    def timing(count: int, values: Any) -> Timing:
        values = values or (None, None)
        return Timing(count, _num(values[0]), _num(values[1]), minimum)

    return timing(row.responded, row.response), timing(row.resolutions, row.resolution)


async def _timings_sqlite(
    session: AsyncConnection, ctx: Context, scope: list[ColumnElement[bool]]
) -> tuple[Timing, Timing]:
    """SQLite (one community) has no percentile_cont: sort the durations here."""
    where = [Case.created_at >= _at(ctx.since), *scope]
    found: list[Timing] = []
    for column in (Case.first_response_at, Case.resolved_at):
        seconds = _seconds(column, Case.created_at, True)
        values = list(
            (await session.execute(select(seconds).where(*where, column.is_not(None))))
            .scalars()
            .all()
        )
        found.append(
            Timing(
                len(values),
                _num(percentile(values, 0.5)),
                _num(percentile(values, 0.9)),
                ctx.rules.minimum,
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
    session: AsyncConnection, ctx: Context, scope: list[ColumnElement[bool]], limit: int = 5
) -> list[tuple[str, int]]:
    stmt = (
        select(Case.category, func.count())
        .where(Case.created_at >= _at(ctx.now - WEEK), *scope)
        .group_by(Case.category)
    )
    counts = [(cat or "triage", n) for cat, n in (await session.execute(stmt)).all()]
    counts.sort(key=lambda item: (-item[1], item[0]))
    return counts[:limit]


def _week_columns(column: Any, ctx: Context, prefix: str) -> list[Any]:
    """A count per week of the chart (the last ending now): plain range comparisons in FILTER
    clauses, so the weeks ride along a pass the page makes anyway."""
    weeks = ctx.rules.weeks
    start = ctx.now - weeks * WEEK
    columns = []
    for i in range(weeks):
        low = start + i * WEEK
        high = column < _at(low + WEEK) if i < weeks - 1 else column <= _at(ctx.now)
        columns.append(func.count().filter(column >= _at(low), high).label(f"{prefix}{i}"))
    return columns


def _chart_in_period(ctx: Context) -> bool:
    return ctx.rules.weeks * WEEK <= ctx.rules.window


async def _weekly(
    session: AsyncConnection,
    ctx: Context,
    scope: list[ColumnElement[bool]],
    period: Any,
) -> list[Week]:
    """Reported and resolved per week, the last week ending now."""
    weeks = ctx.rules.weeks
    start = ctx.now - weeks * WEEK
    rows: dict[str, Any] = {}
    for name, column in (("reported", Case.created_at), ("resolved", Case.resolved_at)):
        if name == "reported" and _chart_in_period(ctx):
            rows[name] = period  # counted by the period's own pass
            continue
        stmt = select(*_week_columns(column, ctx, name)).where(
            column >= _at(start), column <= _at(ctx.now), *scope
        )
        rows[name] = (await session.execute(stmt)).one()
    return [
        Week(
            start + i * WEEK,
            getattr(rows["reported"], f"reported{i}"),
            getattr(rows["resolved"], f"resolved{i}"),
        )
        for i in range(weeks)
    ]


async def _grid_lines(
    session: AsyncConnection,
    ctx: Context,
    scope: list[ColumnElement[bool]],
    opened: dict[str, OpenCases],
) -> dict[str, GridLine]:
    cols = _period_columns(ctx)
    found = func.count().filter(Case.source == "staff_patrol")
    stmt = (
        select(Case.grid_id, *cols[:4], found)
        .where(Case.created_at >= _at(ctx.since), *scope)
        .group_by(Case.grid_id)
    )
    lines: dict[str, GridLine] = {}
    for grid, reported, resolved, due, on_time, by_staff in (await session.execute(stmt)).all():
        lines[grid] = GridLine(
            grid,
            opened.get(grid, OpenCases()),
            reported,
            resolved,
            Share(on_time, due, ctx.rules.minimum),
            Share(by_staff, reported, ctx.rules.minimum),
        )
    for grid, o in opened.items():
        lines.setdefault(grid, GridLine(grid, o, 0, 0, Share(0, 0, ctx.rules.minimum)))
    return lines


# --- supervision (督办) and independent verification of closures ----------------------------


async def supervision(
    session: AsyncConnection, ctx: Context, scope: list[ColumnElement[bool]]
) -> Supervision:
    """The period's supervised cases by outcome (one pass; the supervision deadline is the
    case's own column): resolved by it, resolved after it, open now. A declined or withdrawn
    supervised case is counted as supervised only."""
    is_open = Case.status.in_(sorted(OPEN))
    # Resolved and not reopened since (a reopened case is open again, whatever it did before).
    resolved = and_(Case.resolved_at.is_not(None), ~is_open)
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(resolved, Case.resolved_at <= Case.supervise_by),
                func.count().filter(resolved, Case.resolved_at > Case.supervise_by),
                func.count().filter(is_open),
                func.count().filter(Case.supervise_missed_at.is_not(None)),
            ).where(Case.created_at >= _at(ctx.since), Case.supervised_at.is_not(None), *scope)
        )
    ).one()
    return Supervision(*row, minimum=ctx.rules.minimum)


async def verification(
    session: AsyncConnection, ctx: Context, grid_ids: Sequence[str] | None
) -> Verified:
    """Checks of the closures of the period (closed within the window) by outcome."""
    where = [Verification.closed_at >= _at(ctx.since)]
    if grid_ids is not None:
        where.append(Verification.grid_id.in_(list(grid_ids)))
    row = (
        await session.execute(
            select(
                func.count().filter(Verification.outcome == "passed"),
                func.count().filter(Verification.outcome == "failed"),
                func.count().filter(Verification.outcome == "expired"),
                func.count().filter(Verification.outcome.is_(None)),
            ).where(*where)
        )
    ).one()
    return Verified(*row, minimum=ctx.rules.minimum)


# --- joint handling and summons (吹哨报到) ---------------------------------------------------


async def summons(
    session: AsyncConnection, ctx: Context, grid_ids: Sequence[str] | None
) -> Summons:
    """The period's co-handlers' tasks (given within the window): summons signed in and
    contacted on time, summons that missed either, tasks done by their deadline."""
    where = [CaseTask.added_at >= _at(ctx.since)]
    if grid_ids is not None:
        where.append(CaseTask.grid_id.in_(list(grid_ids)))
    is_summons = CaseTask.kind == "summons"
    row = (
        await session.execute(
            select(
                func.count().filter(is_summons),
                func.count().filter(is_summons, CaseTask.signed_at <= CaseTask.sign_by),
                func.count().filter(is_summons, CaseTask.contacted_at <= CaseTask.contact_by),
                func.count().filter(
                    is_summons,
                    or_(
                        CaseTask.sign_missed_at.is_not(None),
                        CaseTask.contact_missed_at.is_not(None),
                    ),
                ),
                func.count(),
                func.count().filter(
                    CaseTask.status == "done", CaseTask.closed_at <= CaseTask.due_at
                ),
            ).where(*where)
        )
    ).one()
    return Summons(*row, minimum=ctx.rules.minimum)


async def handed_out(
    session: AsyncConnection, ctx: Context, scope: list[ColumnElement[bool]]
) -> HandedOut:
    """The period's hand-offs to other systems of the scope's cases (few rows: read here)."""
    rows = (
        await session.execute(
            select(
                Handoff.link_id,
                Handoff.status,
                Handoff.step,
                Handoff.sent_at,
                Handoff.acked_at,
                Handoff.contacted_at,
                Handoff.ack_missed_at,
                Handoff.contact_missed_at,
            )
            .join(Case, Case.id == Handoff.case_id)
            .where(*scope, Handoff.created_at >= _at(ctx.since))
            .limit(200_000)
        )
    ).all()
    waiting: dict[str, int] = {}
    returned = answered = 0
    hours = 0.0
    per_link: dict[str, list[Any]] = {}
    for row in rows:
        link_id, status, step, sent_at, acked_at = row[:5]
        if sent_at is not None:
            per_link.setdefault(link_id, []).append(row)
        if status in ("pending", "sending", "token", "sent", "unknown"):
            waiting[link_id] = waiting.get(link_id, 0) + 1
        if status == "refused" or step == "returned":
            returned += 1
        if sent_at is not None and acked_at is not None:
            answered += 1
            hours += (_aware(acked_at) - _aware(sent_at)).total_seconds() / 3600
    minimum = ctx.rules.minimum
    return HandedOut(
        lines=tuple(
            _receiver_line(link, group, minimum) for link, group in sorted(per_link.items())
        ),
        sent=len(rows),
        waiting=sum(waiting.values()),
        returned=returned,
        answered=answered,
        feedback_hours=hours / answered if answered else None,
        where=tuple(sorted(waiting.items())) if len(rows) >= minimum else (),
        minimum=minimum,
    )


def _receiver_line(link_id: str, group: list[Any], minimum: int) -> HandoffLine:
    """One receiving system's answers to our hand-offs: time from our post to its sign-for
    (acknowledgement) and to its first contact, on time = met before the link's deadline
    fired; due = met or missed."""

    def hours(later: str) -> list[float]:
        return sorted(
            (_aware(getattr(r, later)) - _aware(r.sent_at)).total_seconds()
            for r in group
            if getattr(r, later) is not None
        )

    enough = len(group) >= minimum
    lines = []
    for met, missed in (("acked_at", "ack_missed_at"), ("contacted_at", "contact_missed_at")):
        took = hours(met)
        due = [r for r in group if getattr(r, met) is not None or getattr(r, missed) is not None]
        on_time = sum(1 for r in due if getattr(r, met) is not None and getattr(r, missed) is None)
        lines.append(
            (
                Timing(
                    len(took),
                    percentile(took, 0.5) if enough else None,
                    percentile(took, 0.9) if enough else None,
                    minimum,
                ),
                Share(on_time, len(due), minimum),
            )
        )
    (sign, signed), (contact, contacted) = lines
    return HandoffLine(
        level=link_id,
        received=len(group),
        sign=sign,
        signed_on_time=signed,
        contact=contact,
        contacted_on_time=contacted,
        missed=sum(1 for r in group if r.ack_missed_at is not None or r.contact_missed_at),
        returned=sum(1 for r in group if r.status == "refused" or r.step == "returned"),
    )


def _aware(value: Any) -> Any:
    return value if getattr(value, "tzinfo", None) else value.replace(tzinfo=UTC)


async def duties(
    session: AsyncConnection, ctx: Context, scope: list[ColumnElement[bool]]
) -> Duties:
    """Returns on the period's cases by ruling (few rows: counted here), and the mean number
    of distinct owners of the period's cases."""
    rows = (
        await session.execute(
            select(
                CaseDispute.returner,
                CaseDispute.outcome,
                CaseDispute.opened_at,
                CaseDispute.ruled_at,
                CaseDispute.escalated_at,
            )
            .join(Case, Case.id == CaseDispute.case_id)
            .where(Case.created_at >= _at(ctx.since), *scope)
        )
    ).all()
    counted = [r for r in rows if r.outcome != "lapsed"]
    waited = [
        (r.ruled_at - r.opened_at).total_seconds() / 3600
        for r in counted
        if r.outcome in ("upheld", "reassigned") and r.ruled_at is not None
    ]
    parties: dict[str, list[int]] = {}
    for r in counted:
        if r.returner.startswith("party:"):
            tally = parties.setdefault(r.returner[6:], [0, 0])
            tally[0] += 1
            tally[1] += r.outcome == "upheld"
    cases, owners = (
        await session.execute(
            select(func.count(), func.avg(Case.owner_count)).where(
                Case.created_at >= _at(ctx.since), *scope
            )
        )
    ).one()
    return Duties(
        returns=len(counted),
        overruled=sum(r.outcome == "upheld" for r in counted),
        reassigned=sum(r.outcome == "reassigned" for r in counted),
        escalated=sum(r.escalated_at is not None for r in counted),
        waiting=sum(r.outcome is None for r in counted),
        hours=sum(waited) / len(waited) if waited else None,
        cases=int(cases or 0),
        owners=float(owners) if owners is not None else None,
        by_party=tuple((p, n, o) for p, (n, o) in sorted(parties.items())),
        minimum=ctx.rules.minimum,
    )


# --- hand-offs received from a link (bot/services/cases/intake.py) --------------------------

HANDOFF_LEVELS = ("community", "street", "district", "city", "department", "hotline")


async def handoffs(
    session: AsyncConnection, ctx: Context, scope: list[ColumnElement[bool]]
) -> Handoffs:
    """Hand-offs received in the period, per sending level: times to sign for and to first
    contact (median, 90th percentile, share on time), misses and returns. Few rows per
    period: computed here, the same on SQLite and PostgreSQL."""
    rows = (
        await session.execute(
            select(
                CaseIntake.level,
                CaseIntake.received_at,
                CaseIntake.sign_by,
                CaseIntake.signed_at,
                CaseIntake.contact_by,
                CaseIntake.contacted_at,
                CaseIntake.sign_missed_at,
                CaseIntake.contact_missed_at,
                CaseIntake.returned_at,
            )
            .join(Case, Case.id == CaseIntake.case_id)
            .where(CaseIntake.received_at >= _at(ctx.since), *scope)
        )
    ).all()
    minimum = ctx.rules.minimum
    by_level: dict[str, list[Any]] = {}
    for r in rows:
        by_level.setdefault(r.level, []).append(r)
    order = {lvl: i for i, lvl in enumerate(HANDOFF_LEVELS)}
    lines = []
    for level in sorted(by_level, key=lambda lvl: (order.get(lvl, 99), lvl)):
        group = by_level[level]
        sign = sorted((r.signed_at - r.received_at).total_seconds() for r in group if r.signed_at)
        contact = sorted(
            (r.contacted_at - r.received_at).total_seconds() for r in group if r.contacted_at
        )
        # Due: met, or its deadline passed (a hand-off still within its time is not counted yet).
        sign_due = [r for r in group if r.signed_at or r.sign_by <= ctx.now]
        contact_due = [r for r in group if r.contacted_at or r.contact_by <= ctx.now]
        enough = len(group) >= minimum
        lines.append(
            HandoffLine(
                level=level,
                received=len(group),
                sign=Timing(
                    len(sign),
                    percentile(sign, 0.5) if enough else None,
                    percentile(sign, 0.9) if enough else None,
                    minimum,
                ),
                signed_on_time=Share(
                    sum(1 for r in sign_due if r.signed_at and r.signed_at <= r.sign_by),
                    len(sign_due),
                    minimum,
                ),
                contact=Timing(
                    len(contact),
                    percentile(contact, 0.5) if enough else None,
                    percentile(contact, 0.9) if enough else None,
                    minimum,
                ),
                contacted_on_time=Share(
                    sum(
                        1 for r in contact_due if r.contacted_at and r.contacted_at <= r.contact_by
                    ),
                    len(contact_due),
                    minimum,
                ),
                missed=sum(1 for r in group if r.sign_missed_at is not None or r.contact_missed_at),
                returned=sum(1 for r in group if r.returned_at is not None),
            )
        )
    return Handoffs(lines=tuple(lines))
