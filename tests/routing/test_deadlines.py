"""Deadlines, priority and durations."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from routing.deadlines import deadlines_for, parse_duration, priority_of
from routing.gridmap import GridMap

DEMO = Path(__file__).resolve().parents[2] / "bot" / "examples" / "demo-community.yaml"
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def demo() -> GridMap:
    return GridMap.from_file(DEMO)


@pytest.fixture(scope="module")
def office_hours() -> GridMap:
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    data["deadlines"]["working_hours"] = {
        "days": "mon-fri",
        "hours": "08:30-17:30",
        "holidays": ["2026-12-31"],
    }
    return GridMap.from_dict(data)


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("15m", dt.timedelta(minutes=15)),
        ("4h", dt.timedelta(hours=4)),
        ("3d", dt.timedelta(days=3)),
        ("1d12h", dt.timedelta(days=1, hours=12)),
        ("1h30m", dt.timedelta(minutes=90)),
    ],
)
def test_parse_duration(text: str, delta: dt.timedelta) -> None:
    assert parse_duration(text) == delta


@pytest.mark.parametrize("bad", ["", "soon", "4x", "h4", "4h and"])
def test_parse_duration_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("text", "priority"),
    [
        ("I smell gas in the stairwell", "urgent"),
        ("Flooding in the basement", "urgent"),
        ("楼道里有燃气味", "urgent"),
        ("电梯有人被困", "urgent"),
        ("路灯坏了", "normal"),
        ("the gasket of the tap is worn", "normal"),
        ("", "normal"),
    ],
)
def test_priority(demo: GridMap, text: str, priority: str) -> None:
    assert priority_of(demo, text) == priority


def test_wall_clock_defaults_and_categories(demo: GridMap) -> None:
    start = dt.datetime(2026, 11, 27, 16, 0, tzinfo=TZ)
    d = deadlines_for(demo, "facilities", "normal", start)
    assert (d.accept_by, d.resolve_by, d.priority) == (
        start + dt.timedelta(hours=4),
        start + dt.timedelta(days=3),
        "normal",
    )
    d = deadlines_for(demo, "safety", "normal", start)
    assert (d.accept_by - start, d.resolve_by - start) == (
        dt.timedelta(hours=1),
        dt.timedelta(days=1),
    )
    d = deadlines_for(demo, None, "normal", start)
    assert d.accept_by - start == dt.timedelta(hours=4)


def test_urgent_is_wall_clock_even_with_working_hours(office_hours: GridMap) -> None:
    start = dt.datetime(2026, 11, 28, 23, 0, tzinfo=TZ)  # Saturday night
    d = deadlines_for(office_hours, "safety", "urgent", start)
    assert (d.accept_by - start, d.resolve_by - start, d.priority) == (
        dt.timedelta(minutes=15),
        dt.timedelta(hours=4),
        "urgent",
    )


def test_working_hours(office_hours: GridMap) -> None:
    friday_16 = dt.datetime(2026, 11, 27, 16, 0, tzinfo=TZ)
    d = deadlines_for(office_hours, "facilities", "normal", friday_16)
    # 1.5 h left on Friday, 2.5 h on Monday from 08:30
    assert d.accept_by == dt.datetime(2026, 11, 30, 11, 0, tzinfo=TZ)
    # 3 working days: Mon, Tue, Wed -> Wednesday 16:00... counted from Friday 16:00
    assert d.resolve_by == dt.datetime(2026, 12, 2, 16, 0, tzinfo=TZ)
    saturday = dt.datetime(2026, 11, 28, 12, 0, tzinfo=TZ)
    assert deadlines_for(office_hours, "safety", "normal", saturday).accept_by == dt.datetime(
        2026, 11, 30, 9, 30, tzinfo=TZ
    )


def test_working_hours_skip_holidays_and_keep_input_zone(office_hours: GridMap) -> None:
    start = dt.datetime(2026, 12, 30, 9, 0, tzinfo=dt.UTC)  # 17:00 Shanghai, Wednesday
    d = deadlines_for(office_hours, "facilities", "normal", start)
    assert d.accept_by.tzinfo == dt.UTC
    # 30 min left on Wed; Thu 31 Dec is a holiday; 3.5 h on Fri 1 Jan from 08:30
    assert d.accept_by == dt.datetime(2027, 1, 1, 12, 0, tzinfo=TZ)


def test_naive_start_is_rejected(demo: GridMap) -> None:
    with pytest.raises(ValueError):
        deadlines_for(demo, "facilities", "normal", dt.datetime(2026, 11, 27, 16, 0))
