"""The YAML field parsers of the grid map: one value each, an error that names where it is.

A leaf of `routing/`: the map loader (gridmap.py), duty hours (duty.py), the responsibility
matrix and the deadlines all parse their parts of the same YAML document with these, and all
raise the same `GridMapError`, so none of them needs to import another to report a mistake.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
END_OF_DAY = dt.time.max


class GridMapError(ValueError):
    """The grid map is malformed; the message names the offending key, grid or building."""


def parse_point(value: Any, where: str) -> tuple[float, float]:
    """``[lat, lon]`` in range."""
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise GridMapError(f"{where}: expected [lat, lon], got {value!r}")
    lat, lon = float(value[0]), float(value[1])
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise GridMapError(f"{where}: [lat, lon] out of range: {value!r}")
    return lat, lon


def parse_list(value: Any, where: str) -> list:
    """A list; a missing key is an empty one."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise GridMapError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def parse_mapping(value: Any, where: str) -> Mapping:
    """A mapping; a missing key is an empty one."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise GridMapError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def parse_id(entry: Mapping, where: str) -> str:
    """An entry's non-empty ``id``."""
    value = entry.get("id")
    if not isinstance(value, str) or not value.strip():
        raise GridMapError(f"{where}: missing or invalid 'id'")
    return value


def parse_int(value: Any, where: str) -> int:
    """An integer id (a Telegram user or chat id); a bool is not one."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise GridMapError(f"{where}: expected an integer id, got {value!r}")
    return value


def parse_chat(value: Any, where: str) -> int | None:
    """An optional Telegram chat id."""
    return None if value is None else parse_int(value, where)


def parse_days(value: Any, where: str) -> frozenset[int]:
    """``[mon, tue]``, ``"mon-fri"``, ``"mon,wed"``, ``daily``/``all`` -> weekday numbers."""
    if value is None or value in ("daily", "all", "every day"):
        return frozenset(range(7))
    items: Iterable[Any] = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, Iterable):
        raise GridMapError(f"{where}.days: expected a list of day names, got {value!r}")
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
        raise GridMapError(f"{where}.hours: expected 'HH:MM-HH:MM', got {value!r}")
    return parse_clock(a, where), parse_clock(b, where, end=True)


def parse_clock(text: str, where: str, end: bool = False) -> dt.time:
    """``"HH:MM"``; with ``end``, ``24:00`` is the end of the day."""
    try:
        h, m = (int(x) for x in text.split(":"))
    except ValueError as exc:
        raise GridMapError(f"{where}: bad time {text!r}, expected HH:MM") from exc
    if end and (h, m) == (24, 0):
        return END_OF_DAY
    if not (0 <= h < 24 and 0 <= m < 60):
        raise GridMapError(f"{where}: bad time {text!r}")
    return dt.time(h, m)


def parse_date(value: Any, where: str) -> dt.date:
    """A local date, ``YYYY-MM-DD`` (YAML may already have made it a date)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise GridMapError(f"{where}: expected a date YYYY-MM-DD, got {value!r}") from exc


def _day(text: str, where: str) -> int:
    key = text.strip()[:3]
    if key not in DAY_NAMES:
        raise GridMapError(f"{where}.days: unknown day {text!r}")
    return DAY_NAMES.index(key)
