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


# Working days of an official calendar (mainland China's, 2026) and local days.

from routing.deadlines import (  # noqa: E402
    in_working_time,
    reminder_due,
    reminder_horizon,
    time_given,
    time_left,
)
from routing.gridmap import GridMapError  # noqa: E402


def _map(**working: object) -> GridMap:
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    data["deadlines"]["working_hours"] = {"days": "mon-fri", "hours": "08:30-17:30", **working}
    return GridMap.from_dict(data)


@pytest.fixture(scope="module")
def cn() -> GridMap:
    return _map(calendar="cn")


def at(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=TZ)


def test_public_holiday_run_is_skipped_and_make_up_days_count(cn: GridMap) -> None:
    # Wednesday 30 September 16:00: 1.5 h left that day, 1-7 October is National Day
    d = deadlines_for(cn, "facilities", "normal", at(9, 30, 16))
    assert d.accept_by == at(10, 8, 11)
    # 3 working days = 27 h: 1.5 h Wed, 9 h Thu 8, 9 h Fri 9, 7.5 h on make-up Saturday 10
    assert d.resolve_by == at(10, 10, 16)
    # Sunday 20 September is a make-up working day: a report on it runs at once
    assert deadlines_for(cn, "safety", "normal", at(9, 20, 9)).accept_by == at(9, 20, 10)
    # without a calendar the same map counts the holiday week as working days
    plain = _map()
    assert deadlines_for(plain, "facilities", "normal", at(9, 30, 16)).accept_by == at(10, 1, 11)
    assert deadlines_for(plain, "safety", "normal", at(9, 20, 9)).accept_by == at(9, 21, 9, 30)


def test_local_days_override_the_calendar() -> None:
    # Saturday 10 October (a make-up day) declared off, Sunday 11 October declared worked
    gm = _map(calendar="cn", holidays=["2026-10-10"], workdays=["2026-10-11"])
    d = deadlines_for(gm, "facilities", "normal", at(10, 9, 17))
    assert d.accept_by == at(10, 11, 12)  # 0.5 h Fri, Sat off, 3.5 h Sun from 08:30
    # the same local days without a calendar
    gm = _map(holidays=[dt.date(2026, 10, 9)], workdays=["2026-10-10"])
    assert deadlines_for(gm, "safety", "normal", at(10, 8, 17)).accept_by == at(10, 10, 9)


def test_a_year_the_calendar_does_not_know_counts_weekdays(cn: GridMap) -> None:
    # 2027 is past the pinned data: Friday 1 January is then an ordinary Friday
    assert deadlines_for(cn, "safety", "normal", at(1, 1, 9, year=2027)).accept_by == at(
        1, 1, 10, year=2027
    )


@pytest.mark.parametrize(
    "working",
    [
        {"calendar": "us"},
        {"holidays": ["2026-13-01"]},
        {"workdays": ["tomorrow"]},
        {"holidays": "2026-10-01"},
    ],
)
def test_bad_calendar_or_dates_are_refused(working: dict) -> None:
    with pytest.raises(GridMapError, match="working_hours"):
        _map(**working)


def test_time_given_and_time_left_count_working_time(cn: GridMap) -> None:
    # one d is one working day of 9 hours
    assert time_given(cn, "facilities", "normal", "resolve") == dt.timedelta(hours=27)
    assert time_given(cn, "facilities", "urgent", "resolve") == dt.timedelta(hours=4)
    monday_10 = at(11, 30, 10)
    sunday_night = at(11, 29, 22)
    assert time_left(cn, "normal", sunday_night, monday_10) == dt.timedelta(hours=1.5)
    assert time_left(cn, "urgent", sunday_night, monday_10) == dt.timedelta(hours=12)
    assert time_left(cn, "normal", at(11, 30, 11), monday_10) == -dt.timedelta(hours=1)
    # the holiday week adds nothing
    assert time_left(cn, "normal", at(9, 30, 17), at(10, 8, 9)) == dt.timedelta(hours=1)


def test_time_left_undoes_the_deadline(cn: GridMap) -> None:
    """Whatever the start, the deadline leaves exactly the time the rules give."""
    start = at(9, 12, 0)
    while start < at(10, 20, 0):
        for category in ("safety", "facilities", "welfare"):
            d = deadlines_for(cn, category, "normal", start)
            for which, due in (("accept", d.accept_by), ("resolve", d.resolve_by)):
                assert time_left(cn, "normal", start, due) == time_given(
                    cn, category, "normal", which
                ), (start, category, which)
                assert in_working_time(cn, "normal", due - dt.timedelta(seconds=1))
        start += dt.timedelta(hours=5, minutes=17)


def test_reminder_for_monday_morning_comes_on_friday_not_sunday_night(cn: GridMap) -> None:
    lead = dt.timedelta(hours=2)
    monday_10 = at(11, 30, 10)  # 1.5 h into Monday: the other 0.5 h is Friday's last
    due = reminder_due
    assert not due(cn, "facilities", "normal", "accept", monday_10, at(11, 27, 16, 59), lead)
    assert due(cn, "facilities", "normal", "accept", monday_10, at(11, 27, 17), lead)
    assert not due(cn, "facilities", "normal", "accept", monday_10, at(11, 29, 22), lead)
    assert due(cn, "facilities", "normal", "accept", monday_10, at(11, 30, 8, 30), lead)
    # an urgent case keeps the wall clock, night or not
    urgent_due = at(11, 29, 23)
    assert reminder_due(cn, None, "urgent", "accept", urgent_due, at(11, 29, 22, 53), lead)
    assert not reminder_due(cn, None, "urgent", "accept", urgent_due, at(11, 29, 22, 52), lead)


def test_reminder_horizon_reaches_across_the_weekend(cn: GridMap, demo: GridMap) -> None:
    lead = dt.timedelta(minutes=30)
    # Friday 17:10: 20 minutes left today, the other 10 on Monday; nothing opens before
    assert reminder_horizon(cn, at(11, 27, 17, 10), lead) == at(11, 30, 8, 40)
    # Wednesday 30 September 17:15: the holiday week and the make-up Saturday's gap
    assert reminder_horizon(cn, at(9, 30, 17, 15), lead) == at(10, 8, 8, 45)
    # Friday 17:00 exactly: the window ends with the day, Monday's opening adds nothing
    assert reminder_horizon(cn, at(11, 27, 17), lead) == at(11, 30, 8, 30)
    # wall clock
    assert reminder_horizon(demo, at(11, 29, 22), lead) == at(11, 29, 22, 30)


def test_a_pause_moves_deadlines_by_the_working_time_it_took(cn: GridMap, demo: GridMap) -> None:
    """A hold from Friday 16:00 to Monday 10:00 stood still for 1.5 h + 1.5 h of working time:
    the deadline moves on by that, not by the 66 hours of the weekend."""
    from routing.deadlines import moved_by_pause

    due = at(12, 2, 11)  # Wednesday 11:00
    since, until = at(11, 27, 16), at(11, 30, 10)
    assert moved_by_pause(cn, "normal", due, since, until) == at(12, 2, 14)
    # the National Day week gives back nothing; the make-up Saturday does
    assert moved_by_pause(cn, "normal", due, at(10, 1, 9), at(10, 7, 17)) == due
    assert moved_by_pause(cn, "normal", due, at(10, 10, 9), at(10, 10, 10)) == at(12, 2, 12)
    # urgent cases and a map without working hours: the wall clock
    assert moved_by_pause(cn, "urgent", due, since, until) == due + (until - since)
    assert moved_by_pause(demo, "normal", due, since, until) == due + (until - since)
    assert moved_by_pause(cn, "normal", due, until, since) == due  # nothing stood still
