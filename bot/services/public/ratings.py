"""Residents' ratings as the public may see them: never one rating, never a figure that moves
when one resident rates.

A rating is counted in a *cell*: the cases of one grid resolved in one calendar month (the
deployment's time zone) and closed since. A cell is published only when

* its month is over,
* no case resolved in that month is still waiting for its resident (status `resolved`: a
  rating or a reopening may still come), and
* at least `minimum` residents rated (`Settings.rating_min_count`, never below 5).

From then on the cell cannot change: a closed case stays closed with its rating, a reopened case
is resolved again in a later month, and the reopen window has passed. So every public rating
figure — the dashboard's satisfaction over the last whole months, a grid's, the `rated` and
`average_rating` columns of `/data/grid-months.csv` — is a sum of published cells and moves
only when a whole cell of at least `minimum` ratings is added: reading it before and after one
resident's rating, or comparing a community's figure with its grids', tells nothing about any
one rating.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.services.cases.status import Status
from bot.store.models import Case, UTCDateTime

# The smallest count of ratings a published figure stands on, whatever the settings say.
MIN_RATINGS = 5


def minimum_of(settings: Any) -> int:
    """The deployment's minimum count of ratings (`rating_min_count`), never below 5."""
    return max(MIN_RATINGS, int(getattr(settings, "rating_min_count", MIN_RATINGS)))


@dataclass(frozen=True)
class RatingCell:
    """The ratings of one grid's cases resolved in one month (and closed since)."""

    grid_id: str
    month: str  # YYYY-MM
    closed: int  # cases resolved in the month and closed since
    rated: int  # of those, rated by their resident
    stars: int  # the sum of their ratings

    @property
    def average(self) -> float:
        return self.stars / self.rated


@dataclass(frozen=True)
class Ratings:
    """The sum of some published cells: what a dashboard card shows."""

    closed: int = 0
    rated: int = 0
    stars: int = 0

    @property
    def average(self) -> float | None:
        return self.stars / self.rated if self.rated else None

    @classmethod
    def of(cls, cells: Sequence[RatingCell]) -> Ratings:
        return cls(
            sum(c.closed for c in cells), sum(c.rated for c in cells), sum(c.stars for c in cells)
        )


def month_start(moment: datetime, tz: tzinfo, back: int = 0) -> datetime:
    """The first instant (UTC) of the month `back` months before the one `moment` is in."""
    local = moment.astimezone(tz)
    index = local.year * 12 + local.month - 1 - back
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=tz).astimezone(UTC)


def _month_of(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m")


async def rating_cells(
    conn: AsyncConnection,
    *,
    now: datetime,
    tz: tzinfo,
    sqlite: bool,
    minimum: int,
    grid_ids: Sequence[str] | None = None,
    months: int | None = None,
) -> list[RatingCell]:
    """The published cells of the grids (None: every grid), of the last `months` whole months
    (None: every month), ordered by grid and month."""
    minimum = max(MIN_RATINGS, minimum)
    end = month_start(now, tz)
    where = [
        Case.resolved_at.is_not(None),
        Case.resolved_at < literal(end, UTCDateTime()),
        Case.status.in_([Status.RESOLVED.value, Status.CLOSED.value]),
    ]
    if months is not None:
        where.append(Case.resolved_at >= literal(month_start(now, tz, months), UTCDateTime()))
    if grid_ids is not None:
        where.append(Case.grid_id.in_(list(grid_ids)))
    counts: dict[tuple[str, str], list[int]] = {}  # closed, rated, stars, waiting
    if sqlite:
        # One small community: months in the zone computed here, exactly (SQLite knows no zones).
        stmt = select(Case.grid_id, Case.resolved_at, Case.status, Case.rating).where(*where)
        for grid_id, resolved_at, status, rating in (await conn.execute(stmt)).all():
            resolved = resolved_at if resolved_at.tzinfo else resolved_at.replace(tzinfo=UTC)
            cell = counts.setdefault((grid_id, _month_of(resolved, tz)), [0, 0, 0, 0])
            if status == Status.CLOSED:
                cell[0] += 1
                if rating is not None:
                    cell[1] += 1
                    cell[2] += int(rating)
            else:
                cell[3] += 1
    else:
        month = func.to_char(func.timezone(str(tz), Case.resolved_at), "YYYY-MM").label("month")
        closed = Case.status == Status.CLOSED.value
        stmt = (
            select(
                Case.grid_id,
                month,
                func.count().filter(closed),
                func.count(Case.rating).filter(closed),
                func.coalesce(func.sum(Case.rating).filter(closed), 0),
                func.count().filter(Case.status == Status.RESOLVED.value),
            )
            .where(*where)
            .group_by(Case.grid_id, month)
        )
        for grid_id, mon, *numbers in (await conn.execute(stmt)).all():
            counts[(grid_id, mon)] = [int(n or 0) for n in numbers]
    return [
        RatingCell(grid_id, mon, closed, rated, stars)
        for (grid_id, mon), (closed, rated, stars, waiting) in sorted(counts.items())
        if waiting == 0 and rated >= minimum
    ]
