"""Deadlines: how long the owner has to accept and to resolve a case, and its priority.

Durations are ``"15m"``, ``"4h"``, ``"3d"``, ``"1d12h"``. When ``deadlines.working_hours`` is
set, normal cases count only working time: one ``d`` is one working day (the length of the
working-hours window), ``h``/``m`` are working hours/minutes, and listed ``holidays`` are skipped.
Urgent cases always count wall-clock time.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from routing.fields import parse_clock, parse_days, parse_hours

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
    days: frozenset[int]
    start: dt.time
    end: dt.time
    holidays: frozenset[dt.date]

    @property
    def day_seconds(self) -> int:
        return _secs(self.end) - _secs(self.start)


def _secs(t: dt.time) -> int:
    if t == dt.time.max:
        return 86400
    return t.hour * 3600 + t.minute * 60 + t.second


def _working(value: Any) -> _Working:
    if not isinstance(value, Mapping):
        raise ValueError("working_hours: expected {days: ..., hours: ...}")
    days = parse_days(value.get("days", "mon-fri"), "working_hours")
    start, end = parse_hours(value.get("hours", "08:30-17:30"), "working_hours")
    if end <= start:
        raise ValueError("working_hours.hours: the end must be after the start")
    holidays = frozenset(dt.date.fromisoformat(str(h)) for h in value.get("holidays") or ())
    return _Working(days, start, end, holidays)


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
    wh = cfg.get("working_hours")
    if not wh:
        return Deadlines(start + parse_duration(accept), start + parse_duration(resolve), "normal")
    working = _working(wh)
    tz = ZoneInfo(gridmap.timezone)
    return Deadlines(
        add_working_time(start, accept, working, tz),
        add_working_time(start, resolve, working, tz),
        "normal",
    )


def time_given(gridmap: GridMap, category: str | None, priority: str, which: str) -> dt.timedelta:
    """How long the rules give to accept (`which="accept"`) or resolve a case (working time)."""
    cfg = _cfg(gridmap)
    if priority == "urgent":
        rule = cfg.get("urgent") or {}
        fallback = URGENT_ACCEPT if which == "accept" else URGENT_RESOLVE
        return parse_duration(rule.get(which) or fallback)
    rule = (cfg.get("categories") or {}).get(category or "") or {}
    default = cfg.get("default") or {}
    fallback = DEFAULT_ACCEPT if which == "accept" else DEFAULT_RESOLVE
    return parse_duration(rule.get(which) or default.get(which) or fallback)


def reminder_lead(
    gridmap: GridMap, category: str | None, priority: str, which: str, lead: dt.timedelta
) -> dt.timedelta:
    """How long before a deadline its reminder comes: the configured lead, but never more than
    half the time given, so a 15-minute deadline is reminded of after 7.5 minutes, not in the
    same second as the card."""
    return min(lead, time_given(gridmap, category, priority, which) / 2)


def add_working_time(
    start: dt.datetime, duration: str, working: _Working, tz: ZoneInfo
) -> dt.datetime:
    """Add a duration counting only working time; the result is in ``start``'s time zone."""
    days, secs = _split(duration)
    remaining = days * working.day_seconds + secs
    if not working.days or working.day_seconds <= 0:
        return start + parse_duration(duration)
    local = start.astimezone(tz)
    day = local.date()
    cursor = local
    for _ in range(3660):  # ten years of calendar days is plenty
        if day.weekday() in working.days and day not in working.holidays:
            open_at = dt.datetime.combine(day, working.start, tz)
            close_at = (
                dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tz)
                if working.end == dt.time.max
                else dt.datetime.combine(day, working.end, tz)
            )
            begin = max(cursor, open_at)
            if begin < close_at:
                available = (close_at - begin).total_seconds()
                if remaining <= available:
                    return (begin + dt.timedelta(seconds=remaining)).astimezone(start.tzinfo)
                remaining -= available
        day += dt.timedelta(days=1)
        cursor = dt.datetime.combine(day, dt.time(0), tz)
    raise ValueError("working hours never add up to the duration")


__all__ = [
    "Deadlines",
    "add_working_time",
    "deadlines_for",
    "parse_clock",
    "parse_duration",
    "priority_of",
    "validate_deadlines",
]
