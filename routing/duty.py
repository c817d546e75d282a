"""Duty hours and leave of a staff member, and the parsing of their YAML form.

``duty: {days: [mon, tue, ...] | "mon-fri" | daily, hours: "08:00-18:00"}``; ``"24:00"`` is
accepted as the end of the day, ``"22:00-06:00"`` is an overnight shift starting on the listed
day. ``leave: [{from: 2026-12-24, to: 2026-12-26}]`` (inclusive, local dates). A missing duty
means on duty every day, all day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
END_OF_DAY = dt.time.max


@dataclass(frozen=True)
class Duty:
    days: frozenset[int]
    start: dt.time
    end: dt.time
    leave: tuple[tuple[dt.date, dt.date], ...] = ()
    timezone: str = "Asia/Shanghai"

    @classmethod
    def always(cls, timezone: str = "Asia/Shanghai") -> Duty:
        return cls(frozenset(range(7)), dt.time(0, 0), END_OF_DAY, (), timezone)

    def _local(self, when: dt.datetime) -> dt.datetime:
        if when.tzinfo is None:
            return when
        return when.astimezone(ZoneInfo(self.timezone))

    def on_leave(self, day: dt.date) -> bool:
        return any(a <= day <= b for a, b in self.leave)

    def on_duty(self, when: dt.datetime) -> bool:
        local = self._local(when)
        t, day = local.time(), local.weekday()
        if self.start <= self.end:
            within = (
                day in self.days and self.start <= t and (t < self.end or self.end == END_OF_DAY)
            )
            shift_day = local.date()
        else:  # overnight shift: belongs to the day it started
            if t >= self.start:
                within, shift_day = day in self.days, local.date()
            elif t < self.end:
                within, shift_day = (day - 1) % 7 in self.days, local.date() - dt.timedelta(days=1)
            else:
                within, shift_day = False, local.date()
        return within and not self.on_leave(shift_day)

    def describe(self, lang: str) -> str:
        """Compact text, e.g. ``Mon–Sat 08:00–18:00`` / ``周一至周六 08:00–18:00``."""
        zh = bool(lang) and lang.lower().startswith("zh")
        names = _ZH if zh else _EN
        days = sorted(self.days)
        if not days:
            return "—"
        runs: list[list[int]] = []
        for d in days:
            if runs and runs[-1][-1] == d - 1:
                runs[-1].append(d)
            else:
                runs.append([d])
        parts = []
        for r in runs:
            if len(r) >= 3:
                parts.append(
                    f"{names[r[0]]}至{names[r[-1]]}" if zh else f"{names[r[0]]}–{names[r[-1]]}"
                )
            else:
                parts.extend(names[d] for d in r)
        end = "24:00" if self.end == END_OF_DAY else self.end.strftime("%H:%M")
        return f"{('、' if zh else ', ').join(parts)} {self.start.strftime('%H:%M')}–{end}"


def parse_days(value: Any, where: str) -> frozenset[int]:
    """``[mon, tue]``, ``"mon-fri"``, ``"mon,wed"``, ``daily``/``all`` -> weekday numbers."""
    if value is None or value in ("daily", "all", "every day"):
        return frozenset(range(7))
    items: Iterable[Any] = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, Iterable):
        raise _err(f"{where}.days: expected a list of day names, got {value!r}")
    out: set[int] = set()
    for item in items:
        text = str(item).strip().lower()
        if "-" in text:
            a, _, b = text.partition("-")
            i, j = _day(a, where), _day(b, where)
            out.update((i + k) % 7 for k in range((j - i) % 7 + 1))
        elif text:
            out.add(_day(text, where))
    return frozenset(out)


def parse_hours(value: Any, where: str) -> tuple[dt.time, dt.time]:
    """``"08:00-18:00"`` -> (start, end); ``24:00`` is the end of the day."""
    if value is None:
        return dt.time(0, 0), END_OF_DAY
    text = str(value).replace("–", "-").replace(" ", "")
    a, sep, b = text.partition("-")
    if not sep:
        raise _err(f"{where}.hours: expected 'HH:MM-HH:MM', got {value!r}")
    return parse_clock(a, where), parse_clock(b, where, end=True)


def parse_clock(text: str, where: str, end: bool = False) -> dt.time:
    try:
        h, m = (int(x) for x in text.split(":"))
    except ValueError as exc:
        raise _err(f"{where}: bad time {text!r}, expected HH:MM") from exc
    if end and (h, m) == (24, 0):
        return END_OF_DAY
    if not (0 <= h < 24 and 0 <= m < 60):
        raise _err(f"{where}: bad time {text!r}")
    return dt.time(h, m)


def parse_duty(duty: Any, leave: Any, timezone: str, where: str) -> Duty:
    if duty is None:
        days, (start, end) = frozenset(range(7)), (dt.time(0, 0), END_OF_DAY)
    elif isinstance(duty, dict):
        days = parse_days(duty.get("days"), f"{where}.duty")
        start, end = parse_hours(duty.get("hours"), f"{where}.duty")
        if leave is None:
            leave = duty.get("leave")
    else:
        raise _err(f"{where}.duty: expected {{days: ..., hours: ...}}, got {duty!r}")
    periods: list[tuple[dt.date, dt.date]] = []
    for i, item in enumerate(leave or ()):
        if not isinstance(item, dict):
            raise _err(f"{where}.leave[{i}]: expected {{from: DATE, to: DATE}}")
        a, b = _date(item.get("from"), f"{where}.leave[{i}].from"), item.get("to")
        b = a if b is None else _date(b, f"{where}.leave[{i}].to")
        if b < a:
            raise _err(f"{where}.leave[{i}]: 'to' is before 'from'")
        periods.append((a, b))
    return Duty(days, start, end, tuple(periods), timezone)


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise _err(f"{where}: expected a date YYYY-MM-DD, got {value!r}") from exc


def _day(text: str, where: str) -> int:
    key = text.strip()[:3]
    if key not in DAY_NAMES:
        raise _err(f"{where}.days: unknown day {text!r}")
    return DAY_NAMES.index(key)


def _err(message: str) -> ValueError:
    from routing.gridmap import GridMapError

    return GridMapError(message)


# -- small YAML value parsers shared with the map loader -------------------------------------
def _point(value: Any, where: str) -> tuple[float, float]:
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise _err(f"{where}: expected [lat, lon], got {value!r}")
    lat, lon = float(value[0]), float(value[1])
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise _err(f"{where}: [lat, lon] out of range: {value!r}")
    return lat, lon


def _list(value: Any, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _err(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _mapping(value: Any, where: str) -> Mapping:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _err(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _id(entry: Mapping, where: str) -> str:
    value = entry.get("id")
    if not isinstance(value, str) or not value.strip():
        raise _err(f"{where}: missing or invalid 'id'")
    return value


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _err(f"{where}: expected an integer id, got {value!r}")
    return value


def _chat(value: Any, where: str) -> int | None:
    return None if value is None else _int(value, where)
