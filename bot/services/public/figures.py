"""The public figures of a community or a grid, as plain values (computed by
`bot.services.public.dashboard_queries`, read by the web pages). Definitions: `bot.services.public.dashboard`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.services.public.ratings import MIN_RATINGS, minimum_of


@dataclass(frozen=True)
class Rules:
    """The thresholds every figure is computed with; the numbers page states them."""

    window: timedelta
    new: timedelta
    stale: timedelta
    weeks: int
    minimum: int
    rating_minimum: int = MIN_RATINGS  # ratings a published rating figure stands on, at least
    rating_months: int = 3  # the whole months satisfaction covers

    @classmethod
    def of(cls, settings: Any) -> Rules:
        return cls(
            window=settings.dashboard_window,
            new=settings.dashboard_new,
            stale=settings.dashboard_stale,
            weeks=max(1, min(settings.dashboard_weeks, 104)),
            minimum=max(1, settings.dashboard_min_cases),
            rating_minimum=minimum_of(settings),
            rating_months=max(1, min(getattr(settings, "dashboard_rating_months", 3), 24)),
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
    # The official on-time rate (按期结案率): on time ÷ (due − deferred), where a deferred case
    # had a hold or an extension approved; `on_time` keeps every due case.
    official_on_time: Share
    deferred: int
    reopened: Share
    # Satisfaction over the last whole months, from published rating cells only
    # (bot/services/public/ratings.py): rated ÷ closed after a resolution, and the average.
    rated: Share
    rating: float | None
    top_categories: list[tuple[str, int]]
    weekly: list[Week]

    @property
    def empty(self) -> bool:
        """Nothing to show at all: no open case, none in the period, none in the chart's weeks."""
        return self.open.total == 0 and self.reported == 0 and self.quiet_weeks

    @property
    def quiet_weeks(self) -> bool:
        """Nothing reported or resolved in any week of the chart."""
        return not any(w.reported or w.resolved for w in self.weekly)


@dataclass(frozen=True)
class GridLine:
    """A grid's line in a community's table (listed by grid, never ranked)."""

    grid_id: str
    open: OpenCases
    reported: int
    resolved: int
    on_time: Share


def total_line(key: str, lines: Iterable[GridLine], minimum: int) -> GridLine:
    """Several grids' lines added up (a community's line on a page listing communities)."""
    total = new = stale = reported = resolved = part = whole = 0
    for line in lines:
        total, new, stale = total + line.open.total, new + line.open.new, stale + line.open.stale
        reported, resolved = reported + line.reported, resolved + line.resolved
        part, whole = part + line.on_time.part, whole + line.on_time.whole
    return GridLine(
        key, OpenCases(total, new, stale), reported, resolved, Share(part, whole, minimum)
    )


@dataclass(frozen=True)
class Overview:
    as_of: datetime
    rules: Rules
    figures: Figures
    grids: dict[str, GridLine] = field(default_factory=dict)
