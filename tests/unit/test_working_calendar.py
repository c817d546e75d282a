"""A month of cases on mainland China's 2026 working calendar, driven through the scheduler.

The map counts normal deadlines in working time, 08:30-17:30 on working days, with
`calendar: cn`. From Monday 14 September to Wednesday 14 October 2026 that is: ordinary weekends;
the Mid-Autumn weekend (Friday 25 to Sunday 27 September); National Day, Thursday 1 to
Wednesday 7 October; and two make-up working days, Sunday 20 September and Saturday 10
October. Cases are filed at all hours, day and night, working day or not; the clock moves in
30-minute steps around working hours and 2-hour steps at night and on days off (so whatever
fires at night is seen at night), and the scheduler runs at every step.

The expected calendar is written out here, from the State Council's 2026 arrangement, so the
test checks the calendar package's data as well as the code that reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import select
from unit_helpers import DEMO_MAP, file_case, new_resident

from bot.clock import ManualClock
from bot.services import scheduler
from bot.services.cases import lifecycle
from bot.services.cases.lifecycle import CaseActionError
from bot.services.shared.domain import Domain
from bot.services.shared.gridmap_store import load_document
from bot.store.models import Case, CaseEvent

TZ = ZoneInfo("Asia/Shanghai")
FIRST = datetime(2026, 9, 14, 0, 0, tzinfo=TZ)  # a Monday
LAST = datetime(2026, 10, 15, 0, 0, tzinfo=TZ)
STEP = timedelta(minutes=30)  # from 08:00 to 18:00 of a working day: hours open on the half hour
NIGHT_STEP = timedelta(hours=2)  # else, ending at 08:00: what fires at night is seen at night
OPEN, CLOSE = time(8, 30), time(17, 30)
LEAD = timedelta(hours=2)

OFF = {date(2026, 9, 25)} | {date(2026, 10, d) for d in range(1, 8)}  # Mid-Autumn, National Day
MAKE_UP = {date(2026, 9, 20), date(2026, 10, 10)}  # a Sunday and a Saturday worked

# What the map gives (bot/examples/demo-community.yaml): category -> (accept, resolve) hours of
# working time (one d = one 9-hour working day).
GIVEN = {"facilities": (4, 27), "safety": (1, 9), "sanitation": (4, 18)}


@pytest.fixture
def domain_settings() -> dict:
    return {"reminder_before": LEAD}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(FIRST.astimezone(UTC))


def working_day(day: date) -> bool:
    return day in MAKE_UP or (day.weekday() < 5 and day not in OFF)


def in_working_hours(at: datetime) -> bool:
    """Inside the day's window, its closing minute included (a deadline may end the day)."""
    local = at.astimezone(TZ)
    return working_day(local.date()) and OPEN <= local.time() and local.time() <= CLOSE


def working_between(a: datetime, b: datetime) -> timedelta:
    """Working time from a to b, by the calendar above."""
    total = timedelta()
    day = a.astimezone(TZ).date()
    while day <= b.astimezone(TZ).date():
        if working_day(day):
            start = max(a, datetime.combine(day, OPEN, TZ))
            end = min(b, datetime.combine(day, CLOSE, TZ))
            total += max(end - start, timedelta())
        day += timedelta(days=1)
    return total


def step(now: datetime) -> timedelta:
    local = now.astimezone(TZ)
    if working_day(local.date()) and time(8) <= local.time() < time(18):
        return STEP
    to_eight = (datetime.combine(local.date(), time(8), TZ) - local) % timedelta(days=1)
    return min(NIGHT_STEP, to_eight) if to_eight else NIGHT_STEP


async def use_calendar_map(domain: Domain) -> None:
    data = yaml.safe_load(DEMO_MAP.read_text(encoding="utf-8"))
    data["deadlines"]["working_hours"] = {
        "days": "mon-fri",
        "hours": "08:30-17:30",
        "calendar": "cn",
    }
    await load_document(domain, yaml.safe_dump(data, allow_unicode=True), "calendar.yaml")


# Every 9 h 50 min: every hour of the day comes round, on every kind of day.
FILE_EVERY = timedelta(hours=9, minutes=50)
KINDS = [
    ("facilities", "The street lamp outside my building is broken"),
    ("safety", "The railing on the stairs is loose"),
    ("sanitation", "Rubbish has not been collected"),
    ("facilities", "I smell gas in the stairwell"),  # urgent
]


async def test_a_month_of_deadlines_reminders_and_escalations_on_working_days(
    domain: Domain, clock: ManualClock
) -> None:
    await use_calendar_map(domain)
    async with domain.unit() as uow:
        resident_id = (await new_resident(uow)).id
    filed: list[Filed] = []
    deadlines: set[tuple[int, str, datetime]] = set()  # (case, which, when) of normal cases
    seen: list[Seen] = []
    before: dict[tuple[int, str], datetime] = {}  # each case's deadlines at the step before
    last_event, next_filing, n = 0, FIRST + timedelta(minutes=5), 0
    while clock.now() < LAST:
        changed = False
        if clock.now() >= next_filing and next_filing < LAST - timedelta(days=10):
            category, text = KINDS[n % len(KINDS)]
            async with domain.unit() as uow:
                resident = await uow.session.get(lifecycle.User, resident_id)
                case = await file_case(uow, resident, text, as_category=category)
                filed.append(Filed(case.id, uow.now, case.priority, category, case.accept_by))
            next_filing, n = next_filing + FILE_EVERY, n + 1
            changed = True
        changed = await scheduler.run_due(domain) or changed
        if not changed:
            clock.advance(step(clock.now()))
            continue  # deadlines change only when a case is filed or escalated
        async with domain.unit() as uow:
            rows = await uow.session.execute(
                select(CaseEvent, Case)
                .join(Case, Case.id == CaseEvent.case_id)
                .where(CaseEvent.id > last_event, CaseEvent.kind.in_(WATCHED))
                .order_by(CaseEvent.id)
            )
            for event, case in rows.all():
                last_event = event.id
                which = event.data.get("which") or event.note
                due = before.get((case.id, which)) or (
                    case.accept_by if which == "accept" else case.resolve_by
                )
                seen.append(Seen(event.kind, which, event.at, case.priority, case.category, due))
                # every other case is accepted by its owner when reminded: its resolve
                # deadline then runs to its own reminder and escalation
                if event.kind == "reminder" and case.id % 2 == 0 and case.owner_id is not None:
                    try:
                        await lifecycle.accept(uow, case.owner_id, case)
                    except CaseActionError:
                        pass  # a party's case, accepted in its group
            for case in (await uow.session.execute(select(Case))).scalars():
                before[case.id, "accept"] = case.accept_by
                before[case.id, "resolve"] = case.resolve_by
                if case.priority == "normal":
                    deadlines.add((case.id, "accept", case.accept_by))
                    deadlines.add((case.id, "resolve", case.resolve_by))
        clock.advance(step(clock.now()))

    normal = [s for s in seen if s.priority == "normal"]
    urgent = [s for s in seen if s.priority == "urgent"]
    assert {(s.kind, s.which) for s in normal} >= {
        ("reminder", "accept"),
        ("reminder", "resolve"),
        ("escalated", "accept"),
        ("escalated", "resolve"),
        ("escalation_top", "accept"),
    }

    # Deadlines of normal cases: inside working hours of working days, never on a holiday.
    assert len({c for c, _w, _d in deadlines}) >= 30
    outside = [(c, w, d.astimezone(TZ)) for c, w, d in deadlines if not in_working_hours(d)]
    assert outside == []
    days_due = {d.astimezone(TZ).date() for _c, _w, d in deadlines}
    assert MAKE_UP <= days_due  # make-up days are worked: deadlines fall on them
    assert not days_due & OFF

    # The time to accept a filed case: working time by the calendar above; urgent: wall-clock.
    for f in filed:
        if f.priority == "urgent":
            assert f.accept_by - f.at == timedelta(minutes=15)
        else:
            assert working_between(f.at, f.accept_by) == timedelta(hours=GIVEN[f.category][0])
    filed_at = [f.at.astimezone(TZ) for f in filed]
    assert any(t.date() in OFF for t in filed_at)  # on a public holiday
    assert any(t.weekday() >= 5 and t.date() not in MAKE_UP for t in filed_at)  # at a weekend
    assert any(working_day(t.date()) and not in_working_hours(t) for t in filed_at)  # at night

    # Reminders and escalations of normal cases: in working hours, on working days only.
    late = [(s.kind, s.which, s.at.astimezone(TZ)) for s in normal if not in_working_hours(s.at)]
    assert late == []
    assert MAKE_UP <= {s.at.astimezone(TZ).date() for s in normal}
    assert not {s.at.astimezone(TZ).date() for s in normal} & OFF
    # an escalation comes at the deadline (within one scheduler step)
    for s in normal:
        if s.kind != "reminder":
            assert timedelta() <= s.at - s.due < STEP, s

    # A reminder comes when at most the lead (at most half the time given) is left in working
    # time, within one step of it: across a night, a weekend or the holiday week it comes on
    # the working day before, never in the small hours before the deadline.
    reminders = [s for s in normal if s.kind == "reminder"]
    for s in reminders:
        given = timedelta(hours=GIVEN[s.category][0 if s.which == "accept" else 1])
        lead = min(LEAD, given / 2)
        assert lead - STEP < working_between(s.at, s.due) <= lead, s
    assert any(s.at.astimezone(TZ).date() != s.due.astimezone(TZ).date() for s in reminders)

    # Urgent cases keep the wall clock: their reminders and escalations come at night too.
    assert any(not in_working_hours(s.at) for s in urgent)


WATCHED = ("reminder", "escalated", "escalation_top")


@dataclass(frozen=True)
class Filed:
    case_id: int
    at: datetime
    priority: str
    category: str
    accept_by: datetime


@dataclass(frozen=True)
class Seen:
    """A reminder or an escalation, and the deadline in force just before it."""

    kind: str
    which: str
    at: datetime
    priority: str
    category: str
    due: datetime
