"""Assignment policy, escalation ladder and transfer targets."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from routing.assignment import assign, escalate, transfer_targets
from routing.duty import parse_duty
from routing.gridmap import GridMap, Staff

DEMO = Path(__file__).resolve().parents[2] / "bot" / "examples" / "demo-community.yaml"
TZ = ZoneInfo("Asia/Shanghai")
MONDAY_10 = dt.datetime(2026, 11, 30, 10, 0, tzinfo=TZ)
SUNDAY_10 = dt.datetime(2026, 11, 29, 10, 0, tzinfo=TZ)
WEEKDAYS = parse_duty({"days": "mon-fri", "hours": "08:30-17:30"}, None, "Asia/Shanghai", "t")


@pytest.fixture(scope="module")
def demo() -> GridMap:
    return GridMap.from_file(DEMO)


@pytest.fixture
def three(demo: GridMap) -> GridMap:
    """xingfu-1 with three members: 10001 (always), 10006 (always), 10007 (weekdays)."""
    return demo.with_staff(
        [
            Staff(10006, "周婷", "member", ("xingfu-1",), "xingfu"),
            Staff(10007, "孙杰", "member", ("xingfu-1",), "xingfu", duty=WEEKDAYS),
        ]
    )


def test_least_loaded_on_duty(three: GridMap) -> None:
    a = assign(three, "xingfu-1", "sanitation", MONDAY_10, {10001: 3, 10006: 2, 10007: 1})
    assert (a.owner_id, a.chat_id, a.rung, a.reason) == (
        10007,
        10007,
        "member",
        "on_duty_least_loaded",
    )
    assert a.detail["candidates"] == 3 and a.detail["open_cases"] == 1
    assert a.party_id is None and a.follow_up_id is None


def test_off_duty_member_is_skipped(three: GridMap) -> None:
    a = assign(three, "xingfu-1", "sanitation", SUNDAY_10, {10001: 3, 10006: 2, 10007: 0})
    assert a.owner_id == 10006
    assert a.detail["off_duty"] == [10007]


def test_ties_are_broken_by_telegram_id(three: GridMap) -> None:
    assert assign(three, "xingfu-1", "dispute", MONDAY_10, {}).owner_id == 10001
    assert assign(three, "xingfu-1", "dispute", MONDAY_10, {10001: 1}).owner_id == 10006


def test_exclude(three: GridMap) -> None:
    a = assign(three, "xingfu-1", "dispute", MONDAY_10, {}, exclude={10001, 10006})
    assert (a.owner_id, a.reason) == (10007, "only_on_duty")


def test_category_restriction(three: GridMap) -> None:
    gm = three.with_staff(
        [dataclasses.replace(three.staff[10001], categories=frozenset({"welfare"}))]
    )
    assert assign(gm, "xingfu-1", "dispute", MONDAY_10, {}).owner_id == 10006


def test_none_on_duty_falls_back_to_leader(demo: GridMap) -> None:
    gm = demo.with_staff([dataclasses.replace(demo.staff[10001], duty=WEEKDAYS)])
    a = assign(gm, "xingfu-1", "dispute", SUNDAY_10, {})
    assert (a.owner_id, a.rung, a.reason) == (10010, "leader", "none_on_duty_fallback_leader")
    assert a.detail["off_duty"] == [10001]


def test_no_leader_falls_back_to_centre_then_street(demo: GridMap) -> None:
    gm = demo.with_staff(
        [
            dataclasses.replace(demo.staff[10001], duty=WEEKDAYS),
            dataclasses.replace(demo.staff[10010], active=False),
        ]
    )
    a = assign(gm, "xingfu-1", "dispute", SUNDAY_10, {})
    assert (a.owner_id, a.rung, a.reason) == (10020, "centre", "none_on_duty_fallback_centre")
    gm = gm.with_staff([dataclasses.replace(demo.staff[10020], active=False)])
    a = assign(gm, "xingfu-1", "dispute", SUNDAY_10, {})
    assert (a.owner_id, a.rung) == (10030, "street")


def test_party_owner_with_grid_follow_up(demo: GridMap) -> None:
    a = assign(demo, "xingfu-1", "property", MONDAY_10, {})
    assert (a.owner_id, a.chat_id, a.party_id, a.rung, a.reason) == (
        None,
        -100501,
        "xingfu-wuye",
        "party",
        "party_owner",
    )
    assert a.follow_up_id == 10001


def test_grid_override_keeps_property_with_member(demo: GridMap) -> None:
    a = assign(demo, "xingfu-3", "property", MONDAY_10, {})
    assert (a.owner_id, a.rung) == (10003, "member")


def test_triage_when_classifier_abstains(demo: GridMap) -> None:
    a = assign(demo, "xingfu-2", None, SUNDAY_10, {})
    assert (a.owner_id, a.rung, a.reason) == (10010, "leader", "triage")


def test_escalation_ladder(demo: GridMap) -> None:
    steps = []
    rung = "member"
    while (a := escalate(demo, "xingfu-1", rung, MONDAY_10, {})) is not None:
        steps.append((a.rung, a.owner_id, a.reason))
        rung = a.rung
    assert steps == [
        ("leader", 10010, "escalated"),
        ("centre", 10020, "escalated"),
        ("street", 10030, "escalated"),
    ]
    assert escalate(demo, "xingfu-1", "street", MONDAY_10, {}) is None
    assert escalate(demo, "xingfu-1", "party", MONDAY_10, {}).owner_id == 10010


def test_escalation_skips_empty_rung(demo: GridMap) -> None:
    gm = demo.with_staff([dataclasses.replace(demo.staff[10020], active=False)])
    a = escalate(gm, "xingfu-1", "leader", MONDAY_10, {})
    assert (a.rung, a.owner_id, a.detail["skipped"]) == ("street", 10030, ["centre"])


def test_transfer_targets(three: GridMap) -> None:
    targets = transfer_targets(three, "xingfu-1", "traffic", exclude={10001})
    assert [(t.kind, t.id) for t in targets][:3] == [
        ("member", "10006"),
        ("member", "10007"),
        ("party", "heping-police"),
    ]
    assert {t.id for t in targets if t.kind == "party"} == {
        "heping-police",
        "urban-mgmt",
        "xingfu-wuye",
        "xingfu-committee",
    }
    assert all(t.chat_id for t in targets)
