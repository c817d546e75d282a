"""Duty hours and leave of a staff member, and the reading of their YAML form.

``duty: {days: [mon, tue, ...] | "mon-fri" | daily, hours: "08:00-18:00"}``; ``"24:00"`` is
accepted as the end of the day, ``"22:00-06:00"`` is an overnight shift starting on the listed
day. ``leave: [{from: 2026-12-24, to: 2026-12-26}]`` (inclusive, local dates). A missing duty
means on duty every day, all day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from routing.fields import END_OF_DAY, GridMapError, parse_date, parse_days, parse_hours

_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


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


def parse_duty(duty: Any, leave: Any, timezone: str, where: str) -> Duty:
    if duty is None:
        days, (start, end) = frozenset(range(7)), (dt.time(0, 0), END_OF_DAY)
    elif isinstance(duty, dict):
        days = parse_days(duty.get("days"), f"{where}.duty")
        start, end = parse_hours(duty.get("hours"), f"{where}.duty")
        if leave is None:
            leave = duty.get("leave")
    else:
        raise GridMapError(f"{where}.duty: expected {{days: ..., hours: ...}}, got {duty!r}")
    periods: list[tuple[dt.date, dt.date]] = []
    for i, item in enumerate(leave or ()):
        if not isinstance(item, dict):
            raise GridMapError(f"{where}.leave[{i}]: expected {{from: DATE, to: DATE}}")
        a, b = parse_date(item.get("from"), f"{where}.leave[{i}].from"), item.get("to")
        b = a if b is None else parse_date(b, f"{where}.leave[{i}].to")
        if b < a:
            raise GridMapError(f"{where}.leave[{i}]: 'to' is before 'from'")
        periods.append((a, b))
    return Duty(days, start, end, tuple(periods), timezone)


__all__ = ["Duty", "parse_duty"]
