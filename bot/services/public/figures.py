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
    # Independent checks of closures (bot/services/cases/verification.py), as stated publicly.
    verify_share: float = 0.10
    verify_after_days: int = 3
    verify_within_days: int = 7

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
            verify_share=float(getattr(settings, "verify_share", 0.10)),
            verify_after_days=getattr(settings, "verify_after", timedelta(days=3)).days,
            verify_within_days=getattr(settings, "verify_within", timedelta(days=7)).days,
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


# --- supervision (督办) and independent verification of closures ----------------------------
Z95 = 1.959963984540054  # the standard normal quantile of a two-sided 95 % interval


def wilson(passed: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion passed/n (95 % by default): unlike p ± z·se it
    stays within [0, 1] and is honest for small n and rates near 0 or 1."""
    if n <= 0:
        return (0.0, 1.0)
    p = passed / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * ((p * (1 - p) / n + z2 / (4 * n * n)) ** 0.5) / (1 + z2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Supervision:
    """Cases of the period put under supervision and how each ended: resolved by its
    supervision deadline, resolved after it (late), or open now (a reopened one too; a
    declined or withdrawn one is in none of the three); `missed` were escalated for the missed
    supervision deadline. Outcomes shown from `minimum` supervised cases."""

    supervised: int = 0
    on_time: int = 0
    late: int = 0
    open: int = 0
    missed: int = 0
    minimum: int = 1

    @property
    def enough(self) -> bool:
        return self.supervised >= self.minimum


@dataclass(frozen=True)
class Verified:
    """Independent checks of the period's closures: the verified-fix rate is passed ÷ checks
    decided (passed + failed + unanswered), with its 95 % Wilson interval, from `minimum`."""

    passed: int = 0
    failed: int = 0
    expired: int = 0
    pending: int = 0
    minimum: int = 1

    @property
    def checked(self) -> int:
        return self.passed + self.failed + self.expired

    @property
    def enough(self) -> bool:
        return self.checked >= self.minimum

    @property
    def rate(self) -> float | None:
        return self.passed / self.checked if self.enough else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.passed, self.checked) if self.enough else None


@dataclass(frozen=True)
class Summons:
    """Joint handling and summons (吹哨报到) of the period's tasks: parties and members summoned
    to a case, how many signed in (报到) and made first contact on time, how many missed either;
    co-handlers' tasks and how many were done by their deadline. Shown from `minimum`."""

    summons: int = 0
    signed_on_time: int = 0
    contacted_on_time: int = 0
    missed: int = 0
    tasks: int = 0
    done_on_time: int = 0
    minimum: int = 1

    @property
    def enough(self) -> bool:
        return self.summons >= self.minimum

    @property
    def tasks_enough(self) -> bool:
        return self.tasks >= self.minimum


@dataclass(frozen=True)
class HandoffLine:
    """Hand-offs received in the period from one sending level (交办 from a street or district
    centre, a report from a community, a department's or a hotline's order): how many, how
    soon we signed for them (accepted) and made first contact (median hours, share on time),
    how many missed either deadline, and how many we returned (declined back). Times and
    shares are shown from `minimum` hand-offs of the level."""

    level: str
    received: int
    sign: Timing
    signed_on_time: Share
    contact: Timing
    contacted_on_time: Share
    missed: int
    returned: int

    @property
    def enough(self) -> bool:
        return self.received >= self.sign.minimum


@dataclass(frozen=True)
class Handoffs:
    """Cases received from links in the period, per sending level (bot/services/cases/intake.py)."""

    lines: tuple[HandoffLine, ...] = ()

    @property
    def received(self) -> int:
        return sum(line.received for line in self.lines)

    @property
    def returned(self) -> int:
        return sum(line.returned for line in self.lines)


@dataclass(frozen=True)
class Duties:
    """Whose duty: returns ("not ours", citing the duty list) made on the period's cases, how
    the adjudicator ruled (overruled 推诿: the returner keeps it), those escalated for a missed
    ruling deadline, the mean hours a ruled return waited, and the mean number of distinct
    owners the period's cases had (ping-pong). Per party: (party id, returns, overruled).
    Rates and means shown from `minimum` returns or cases."""

    returns: int = 0
    overruled: int = 0
    reassigned: int = 0
    escalated: int = 0
    waiting: int = 0
    hours: float | None = None
    cases: int = 0
    owners: float | None = None
    by_party: tuple[tuple[str, int, int], ...] = ()
    minimum: int = 1

    @property
    def enough(self) -> bool:
        return self.returns >= self.minimum

    @property
    def owners_shown(self) -> float | None:
        return self.owners if self.cases >= self.minimum else None


@dataclass(frozen=True)
class HandedOut:
    """Cases handed to other systems in the period (the superior centre, departments): how many,
    how many are waiting there now (and where: (link id, count)), how many came back returned or
    refused, and the mean hours until the other side's first feedback (上级反馈时长 for the
    superior). The mean and the places are shown from `minimum` hand-offs."""

    sent: int = 0
    waiting: int = 0
    returned: int = 0
    answered: int = 0
    feedback_hours: float | None = None
    where: tuple[tuple[str, int], ...] = ()
    minimum: int = 1
    # per receiving system (the link's id in `level`): how soon it signed for our hand-offs and
    # made first contact, the misses and the returns, shown from `minimum` hand-offs of a link
    lines: tuple[HandoffLine, ...] = ()

    @property
    def enough(self) -> bool:
        return self.sent >= self.minimum

    @property
    def feedback_shown(self) -> float | None:
        return self.feedback_hours if self.answered >= self.minimum else None


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
    supervision: Supervision = Supervision()
    verification: Verified = Verified()
    summons: Summons = Summons()  # joint handling and summons (吹哨报到)
    duties: Duties = Duties()
    # Cases found by staff on patrol ÷ all the period's cases (主动发现率), and how many staff
    # filed for residents without Telegram (counted as the residents' own reports).
    found: Share = Share(0, 0, 1)
    assisted: int = 0
    handoffs: Handoffs = Handoffs()  # cases received from a link or a hotline
    handed_out: HandedOut = HandedOut()  # cases handed to other systems

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
    found: Share = Share(0, 0, 1)  # found by staff on patrol ÷ reported


def total_line(key: str, lines: Iterable[GridLine], minimum: int) -> GridLine:
    """Several grids' lines added up (a community's line on a page listing communities)."""
    total = new = stale = reported = resolved = part = whole = found = 0
    for line in lines:
        found += line.found.part
        total, new, stale = total + line.open.total, new + line.open.new, stale + line.open.stale
        reported, resolved = reported + line.reported, resolved + line.resolved
        part, whole = part + line.on_time.part, whole + line.on_time.whole
    return GridLine(
        key,
        OpenCases(total, new, stale),
        reported,
        resolved,
        Share(part, whole, minimum),
        Share(found, reported, minimum),
    )


@dataclass(frozen=True)
class Overview:
    as_of: datetime
    rules: Rules
    figures: Figures
    grids: dict[str, GridLine] = field(default_factory=dict)
