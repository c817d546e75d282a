"""Deadlines: how long the owner has to accept and to resolve a case, and its priority.

Durations are ``"15m"``, ``"4h"``, ``"3d"``, ``"1d12h"``. When ``deadlines.working_hours`` is
set, normal cases count only working time: one ``d`` is one working day (the length of the
working-hours window), ``h``/``m`` are working hours/minutes, on working days only: the map's
working ``days`` less public holidays, plus make-up working days, from the official ``calendar``
the map names (`routing/calendars.py`) and its own listed ``holidays`` and ``workdays``.
Urgent cases always count wall-clock time. Everything that measures a case's time on its
clock — the deadlines, the time left, when a reminder is due — is here, on one calendar.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from routing.calendars import NAMES as CALENDARS
from routing.calendars import known_years, official_day
from routing.fields import parse_clock, parse_date, parse_days, parse_hours

if TYPE_CHECKING:
    from routing.gridmap import GridMap

_DURATION = re.compile(r"(\d+)\s*([dhms])")
_UNIT = {"d": 86400, "h": 3600, "m": 60, "s": 1}
DEFAULT_ACCEPT, DEFAULT_RESOLVE = "4h", "3d"
URGENT_ACCEPT, URGENT_RESOLVE = "15m", "4h"


@dataclass(frozen=True)
class Deadlines:
    accept_by: dt.datetime
    resolve_by: dt.datetime
    priority: str


def _split(s: str) -> tuple[int, int]:
    """-> (days, seconds) of a duration string."""
    text = str(s).strip().lower().replace(" ", "")
    if not text or _DURATION.sub("", text):
        raise ValueError(f"bad duration {s!r}, expected e.g. '15m', '4h', '3d', '1d12h'")
    days = secs = 0
    for n, unit in _DURATION.findall(text):
        if unit == "d":
            days += int(n)
        else:
            secs += int(n) * _UNIT[unit]
    return days, secs


def parse_duration(s: str) -> dt.timedelta:
    days, secs = _split(s)
    return dt.timedelta(days=days, seconds=secs)


def validate_deadlines(cfg: Mapping[str, Any]) -> list[str]:
    """Raise ValueError on a malformed ``deadlines`` section; return its category keys."""
    for key in ("default", "urgent"):
        _pair(cfg.get(key), key)
    cats = cfg.get("categories") or {}
    if not isinstance(cats, Mapping):
        raise ValueError("categories: expected a mapping")
    for cat, v in cats.items():
        _pair(v, f"categories.{cat}")
    words = cfg.get("urgent_words") or {}
    if not isinstance(words, Mapping) or not all(isinstance(v, list) for v in words.values()):
        raise ValueError("urgent_words: expected {lang: [word, ...]}")
    if cfg.get("working_hours") is not None:
        _working(cfg["working_hours"])
    return [str(c) for c in cats]


def _pair(value: Any, where: str) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected {{accept: ..., resolve: ...}}")
    for k in ("accept", "resolve"):
        if value.get(k) is not None:
            try:
                parse_duration(value[k])
            except ValueError as exc:
                raise ValueError(f"{where}.{k}: {exc}") from exc


@dataclass(frozen=True)
class _Working:
    """The deployment's working time: the daily window on working days. A listed ``holidays``
    date is a day off; else a listed ``workdays`` date is a working day; else the official
    ``calendar`` decides its public holidays and make-up working days; else the ``days``."""

    days: frozenset[int]
    start: dt.time
    end: dt.time
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date] = frozenset()
    calendar: str = "none"

    @property
    def day_seconds(self) -> int:
        return _secs(self.end) - _secs(self.start)

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.holidays:
            return False
        if day in self.workdays:
            return True
        official = official_day(self.calendar, day)
        if official is not None:
            return official
        return day.weekday() in self.days

    def window(self, day: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime] | None:
        """The day's opening and closing instants, ``None`` on a day off."""
        if not self.is_working_day(day):
            return None
        close_at = (
            dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tz)
            if self.end == dt.time.max
            else dt.datetime.combine(day, self.end, tz)
        )
        return dt.datetime.combine(day, self.start, tz), close_at


def _secs(t: dt.time) -> int:
    if t == dt.time.max:
        return 86400
    return t.hour * 3600 + t.minute * 60 + t.second


def _dates(value: Any, where: str) -> frozenset[dt.date]:
    if value is None:
        return frozenset()
    if not isinstance(value, list | tuple):
        raise ValueError(f"{where}: expected a list of dates YYYY-MM-DD")
    return frozenset(parse_date(v, f"{where}[{i}]") for i, v in enumerate(value))


def _working(value: Any) -> _Working:
    if not isinstance(value, Mapping):
        raise ValueError("working_hours: expected {days: ..., hours: ...}")
    days = parse_days(value.get("days", "mon-fri"), "working_hours")
    start, end = parse_hours(value.get("hours", "08:30-17:30"), "working_hours")
    if end <= start:
        raise ValueError("working_hours.hours: the end must be after the start")
    calendar = str(value.get("calendar") or "none").strip().lower()
    if calendar not in CALENDARS:
        raise ValueError(
            f"working_hours.calendar: unknown calendar {value.get('calendar')!r}, "
            f"expected one of {', '.join(CALENDARS)}"
        )
    known_years(calendar)  # the calendar's data is there (raises if not)
    holidays = _dates(value.get("holidays"), "working_hours.holidays")
    workdays = _dates(value.get("workdays"), "working_hours.workdays")
    return _Working(days, start, end, holidays, workdays, calendar)


def working_time(gridmap: GridMap) -> _Working | None:
    """The map's working time, ``None`` when normal deadlines run on wall-clock time."""
    wh = _cfg(gridmap).get("working_hours")
    return _working(wh) if wh else None


@lru_cache(maxsize=64)
def _urgent_patterns(words: tuple[tuple[str, tuple[str, ...]], ...]) -> re.Pattern[str] | None:
    parts: list[str] = []
    for _lang, ws in words:
        for w in ws:
            w = str(w).strip().lower()
            if not w:
                continue
            if re.fullmatch(r"[a-z0-9' -]+", w):
                parts.append(rf"\b{re.escape(w)}(?:s|es|ed|ing|y)?\b")  # flood/flooding, not gasket
            else:
                parts.append(re.escape(w))
    return re.compile("|".join(parts)) if parts else None


def _cfg(gridmap: GridMap) -> Mapping[str, Any]:
    return gridmap.raw.get("deadlines") or {}


def priority_of(gridmap: GridMap, text: str) -> str:
    """``'urgent'`` if the text contains one of the urgent words (any language), else ``'normal'``."""
    words = _cfg(gridmap).get("urgent_words") or {}
    key = tuple(sorted((str(k), tuple(str(w) for w in v)) for k, v in words.items()))
    pattern = _urgent_patterns(key)
    if pattern and pattern.search((text or "").lower()):
        return "urgent"
    return "normal"


def _runs_on_working_time(gridmap: GridMap, priority: str) -> tuple[_Working, ZoneInfo] | None:
    """The working time a case's clock runs on; ``None`` for wall-clock time (an urgent case,
    or a map without working hours)."""
    if priority == "urgent":
        return None
    working = working_time(gridmap)
    if working is None or not working.days:
        return None
    return working, ZoneInfo(gridmap.timezone)


def deadlines_for(
    gridmap: GridMap, category: str | None, priority: str, start: dt.datetime
) -> Deadlines:
    if start.tzinfo is None:
        raise ValueError("deadlines_for needs a timezone-aware start")
    cfg = _cfg(gridmap)
    default = cfg.get("default") or {}
    if priority == "urgent":
        rule = cfg.get("urgent") or {}
        accept = rule.get("accept") or URGENT_ACCEPT
        resolve = rule.get("resolve") or URGENT_RESOLVE
        return Deadlines(start + parse_duration(accept), start + parse_duration(resolve), "urgent")
    rule = (cfg.get("categories") or {}).get(category or "") or {}
    accept = rule.get("accept") or default.get("accept") or DEFAULT_ACCEPT
    resolve = rule.get("resolve") or default.get("resolve") or DEFAULT_RESOLVE
    clock = _runs_on_working_time(gridmap, priority)
    if clock is None:
        return Deadlines(start + parse_duration(accept), start + parse_duration(resolve), "normal")
    working, tz = clock
    return Deadlines(
        add_working_time(start, accept, working, tz),
        add_working_time(start, resolve, working, tz),
        "normal",
    )


def time_given(gridmap: GridMap, category: str | None, priority: str, which: str) -> dt.timedelta:
    """How long the rules give to accept (`which="accept"`) or resolve a case: working time
    for a normal case under working hours (one ``d`` is one working day), else wall-clock."""
    cfg = _cfg(gridmap)
    if priority == "urgent":
        rule = cfg.get("urgent") or {}
        fallback = URGENT_ACCEPT if which == "accept" else URGENT_RESOLVE
        return parse_duration(rule.get(which) or fallback)
    rule = (cfg.get("categories") or {}).get(category or "") or {}
    default = cfg.get("default") or {}
    fallback = DEFAULT_ACCEPT if which == "accept" else DEFAULT_RESOLVE
    duration = rule.get(which) or default.get(which) or fallback
    clock = _runs_on_working_time(gridmap, priority)
    if clock is None:
        return parse_duration(duration)
    days, secs = _split(duration)
    return dt.timedelta(seconds=days * clock[0].day_seconds + secs)


def reminder_lead(
    gridmap: GridMap, category: str | None, priority: str, which: str, lead: dt.timedelta
) -> dt.timedelta:
    """How long before a deadline its reminder comes: the configured lead, but never more than
    half the time given, so a 15-minute deadline is reminded of after 7.5 minutes, not in the
    same second as the card. Counted on the case's clock (see `time_left`)."""
    return min(lead, time_given(gridmap, category, priority, which) / 2)


def time_left(
    gridmap: GridMap, priority: str, now: dt.datetime, deadline: dt.datetime
) -> dt.timedelta:
    """Time from ``now`` to ``deadline`` on the case's clock: working time for a normal case
    under working hours (nights, weekends and holidays do not count), else wall-clock.
    Negative when the deadline has passed."""
    clock = _runs_on_working_time(gridmap, priority)
    if clock is None:
        return deadline - now
    working, tz = clock
    if deadline < now:
        return -_working_between(deadline, now, working, tz)
    return _working_between(now, deadline, working, tz)


def moved_by_pause(
    gridmap: GridMap, priority: str, deadline: dt.datetime, since: dt.datetime, until: dt.datetime
) -> dt.datetime:
    """A deadline after its case's clock stood still from ``since`` to ``until``: later by the
    time that stood still on the case's clock — working time for a normal case under working
    hours (a hold over a weekend gives back no weekend), else wall-clock."""
    if until <= since:
        return deadline
    clock = _runs_on_working_time(gridmap, priority)
    if clock is None:
        return deadline + (until - since)
    working, tz = clock
    held = _working_between(since, until, working, tz).total_seconds()
    if held <= 0:
        return deadline
    return _forward(deadline, held, working, tz)


def in_working_time(gridmap: GridMap, priority: str, at: dt.datetime) -> bool:
    """Whether ``at`` lies in the case's working time (always, for wall-clock cases)."""
    clock = _runs_on_working_time(gridmap, priority)
    if clock is None:
        return True
    working, tz = clock
    local = at.astimezone(tz)
    window = working.window(local.date(), tz)
    return window is not None and window[0] <= local < window[1]


def reminder_due(
    gridmap: GridMap,
    category: str | None,
    priority: str,
    which: str,
    deadline: dt.datetime,
    now: dt.datetime,
    lead: dt.timedelta,
) -> bool:
    """Whether the reminder of a deadline is due at ``now``: at most the reminder lead is left
    on the case's clock, and, for a case on working time, ``now`` is working time, so a case
    due Monday 10:00 is reminded of on Friday afternoon or Monday morning, never on Sunday
    night."""
    left = time_left(gridmap, priority, now, deadline)
    if left > reminder_lead(gridmap, category, priority, which, lead):
        return False
    return in_working_time(gridmap, priority, now)


def reminder_horizon(gridmap: GridMap, now: dt.datetime, lead: dt.timedelta) -> dt.datetime:
    """The latest deadline whose reminder (of at most ``lead``) can be due at ``now``: a wide
    bound for a query, ``now + lead`` on wall-clock time, further across a night, weekend or
    holiday run on working time. `reminder_due` decides each case."""
    clock = _runs_on_working_time(gridmap, "normal")
    if clock is None:
        return now + lead
    working, tz = clock
    end = _forward(now, lead.total_seconds(), working, tz)
    local = end.astimezone(tz)
    window = working.window(local.date(), tz)
    if window is None or local >= window[1]:
        end = _next_open(end, working, tz)  # the gap after it adds no working time
    return max(end, now + lead)


def add_working_time(
    start: dt.datetime, duration: str, working: _Working, tz: ZoneInfo
) -> dt.datetime:
    """Add a duration counting only working time; the result is in ``start``'s time zone."""
    days, secs = _split(duration)
    if not working.days:
        return start + parse_duration(duration)
    return _forward(start, days * working.day_seconds + secs, working, tz)


_HORIZON_DAYS = 3660  # ten years of calendar days is plenty


def _windows(local: dt.datetime, working: _Working, tz: ZoneInfo):  # type: ignore[no-untyped-def]
    """The working windows from the day of ``local`` on, clipped to start at ``local``."""
    day = local.date()
    for _ in range(_HORIZON_DAYS):
        window = working.window(day, tz)
        if window is not None and local < window[1]:
            yield max(local, window[0]), window[1]
        day += dt.timedelta(days=1)
    raise ValueError("working hours never add up to the duration")


def _forward(start: dt.datetime, seconds: float, working: _Working, tz: ZoneInfo) -> dt.datetime:
    remaining = seconds
    for begin, close_at in _windows(start.astimezone(tz), working, tz):
        available = (close_at - begin).total_seconds()
        if remaining <= available:
            return (begin + dt.timedelta(seconds=remaining)).astimezone(start.tzinfo)
        remaining -= available
    raise AssertionError("unreachable")


def _next_open(at: dt.datetime, working: _Working, tz: ZoneInfo) -> dt.datetime:
    """``at`` itself inside working time, else the next opening."""
    for begin, _close in _windows(at.astimezone(tz), working, tz):
        return begin.astimezone(at.tzinfo)
    raise AssertionError("unreachable")


def _working_between(
    a: dt.datetime, b: dt.datetime, working: _Working, tz: ZoneInfo
) -> dt.timedelta:
    total = 0.0
    b_local = b.astimezone(tz)
    for begin, close_at in _windows(a.astimezone(tz), working, tz):
        if begin >= b_local:
            break
        total += (min(close_at, b_local) - begin).total_seconds()
        if close_at >= b_local:
            break
    return dt.timedelta(seconds=total)


__all__ = [
    "Deadlines",
    "add_working_time",
    "deadlines_for",
    "in_working_time",
    "moved_by_pause",
    "parse_clock",
    "parse_duration",
    "priority_of",
    "reminder_due",
    "reminder_horizon",
    "reminder_lead",
    "time_given",
    "time_left",
    "validate_deadlines",
    "working_time",
]
