"""Official working-day calendars a deployment can name in ``deadlines.working_hours.calendar``.

A calendar says, for a date, whether it is a public holiday (a day off even on a weekday), a
make-up working day (a Saturday or Sunday worked in exchange for a longer holiday, China's
调休), or neither (then the map's working ``days`` decide). ``cn`` is mainland China's State
Council arrangement, taken from the ``chinese-calendar`` package; its data is published year by
year, so a year it does not know has no holidays and no make-up days (``covers`` tells, and
``gridvoice grids check`` warns). ``none`` is no official calendar: weekdays and the map's own
listed days only.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

NAMES = ("none", "cn")


@lru_cache(maxsize=1)
def _cn() -> tuple[frozenset[dt.date], frozenset[dt.date], int, int]:
    try:
        import chinese_calendar
    except ImportError as exc:  # a dependency of the distribution; only a broken install lacks it
        raise ValueError("calendar cn needs the chinese-calendar package installed") from exc

    holidays = frozenset(chinese_calendar.holidays)
    workdays = frozenset(chinese_calendar.workdays)
    years = [d.year for d in holidays]
    return holidays, workdays, min(years), max(years)


def official_day(name: str, day: dt.date) -> bool | None:
    """``False`` for a public holiday, ``True`` for a make-up working day, ``None`` otherwise
    (an ordinary day, a year the calendar does not know, or no calendar)."""
    if name != "cn":
        return None
    holidays, workdays, _first, _last = _cn()
    if day in workdays:
        return True
    if day in holidays:
        return False
    return None


def covers(name: str, year: int) -> bool:
    """Whether the calendar knows the holidays of ``year`` (no calendar knows every year)."""
    if name != "cn":
        return True
    _h, _w, first, last = _cn()
    return first <= year <= last


def known_years(name: str) -> tuple[int, int] | None:
    """The first and last year the calendar knows; ``None`` for no calendar."""
    if name != "cn":
        return None
    _h, _w, first, last = _cn()
    return first, last


__all__ = ["NAMES", "covers", "known_years", "official_day"]
