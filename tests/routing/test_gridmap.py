"""Loading the grid map: the demo file, Text, Duty, staff indexes and malformed input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from routing.duty import parse_duty
from routing.gridmap import GridMap, GridMapError, Staff, Text

DEMO = Path(__file__).resolve().parents[2] / "bot" / "examples" / "demo-community.yaml"
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def demo() -> GridMap:
    return GridMap.from_file(DEMO)


def test_demo_loads(demo: GridMap) -> None:
    assert len(demo.grids) == 4
    assert len(demo.buildings) >= 30
    assert demo.community_of("xingfu-3").name.get("zh") == "幸福社区"
    assert demo.buildings["xf-3"].grid_id == "xingfu-1"
    assert [s.telegram_id for s in demo.members_of("xingfu-2")] == [10002]
    assert [s.telegram_id for s in demo.leaders_of("xingfu-4")] == [10010]
    assert [s.telegram_id for s in demo.centre_of("xingfu")] == [10020]
    assert [s.telegram_id for s in demo.street_staff()] == [10030]
    assert demo.staff[20001].role == "party" and demo.staff[20001].party_id == "xingfu-wuye"
    assert demo.category_weights["dispute"] == 1.5
    assert demo.street_office and demo.street_office.chat_id == -100900


def test_text_falls_back_to_english() -> None:
    assert Text("Grid 1", "第一网格").get("zh-hans") == "第一网格"
    assert Text("Grid 1", "").get("zh") == "Grid 1"
    assert Text("Grid 1", "第一网格").get("fr") == "Grid 1"


def test_duty_hours_days_and_leave() -> None:
    duty = parse_duty(
        {"days": ["mon", "tue", "wed", "thu", "fri", "sat"], "hours": "08:00-18:00"},
        [{"from": dt.date(2026, 12, 24), "to": dt.date(2026, 12, 26)}],
        "Asia/Shanghai",
        "staff 1",
    )
    monday_9 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=TZ)
    assert duty.on_duty(monday_9)
    assert not duty.on_duty(monday_9.replace(hour=18))
    assert not duty.on_duty(dt.datetime(2026, 11, 29, 9, 0, tzinfo=TZ))  # Sunday
    assert not duty.on_duty(dt.datetime(2026, 12, 24, 9, 0, tzinfo=TZ))  # on leave
    # 01:30 UTC is 09:30 in Shanghai
    assert duty.on_duty(dt.datetime(2026, 11, 30, 1, 30, tzinfo=dt.UTC))
    assert duty.describe("en") == "Mon–Sat 08:00–18:00"
    assert duty.describe("zh") == "周一至周六 08:00–18:00"


def test_duty_all_day_and_overnight() -> None:
    always = parse_duty({"days": "daily", "hours": "00:00-24:00"}, None, "Asia/Shanghai", "s")
    assert always.on_duty(dt.datetime(2026, 11, 29, 23, 59, 59, tzinfo=TZ))
    assert always.describe("en") == "Mon–Sun 00:00–24:00"
    night = parse_duty({"days": "fri", "hours": "22:00-06:00"}, None, "Asia/Shanghai", "s")
    assert night.on_duty(dt.datetime(2026, 11, 27, 23, 0, tzinfo=TZ))  # Friday night
    assert night.on_duty(dt.datetime(2026, 11, 28, 5, 0, tzinfo=TZ))  # Saturday early
    assert not night.on_duty(dt.datetime(2026, 11, 28, 23, 0, tzinfo=TZ))


def test_with_staff_replaces_and_extends(demo: GridMap) -> None:
    off = Staff(10001, "王芳", "member", ("xingfu-1",), "xingfu", active=False)
    new = Staff(10006, "周婷", "member", ("xingfu-1",), "xingfu")
    gm = demo.with_staff([off, new])
    assert [s.telegram_id for s in gm.members_of("xingfu-1")] == [10006]
    assert [s.telegram_id for s in demo.members_of("xingfu-1")] == [10001]
    assert gm.grids is demo.grids


def _demo_dict() -> dict:
    return yaml.safe_load(DEMO.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d["communities"][0]["grids"][1].update(id="xingfu-1"), "xingfu-1"),
        (lambda d: d["communities"][0]["grids"][0]["buildings"][0].update(location=[1]), "xf-1"),
        (lambda d: d["staff"][0].update(grids=["nowhere"]), "nowhere"),
        (lambda d: d["staff"][0].update(role="boss"), "role"),
        (lambda d: d["staff"][0]["duty"].update(hours="8-18"), "staff 10001"),
        (lambda d: d["responsibility"]["defaults"].update(traffic="party:ghost"), "ghost"),
        (lambda d: d["deadlines"]["default"].update(accept="soon"), "deadlines"),
        (lambda d: d.update(timezone="Mars/Olympus"), "timezone"),
    ],
)
def test_malformed_maps_name_the_culprit(mutate, needle: str) -> None:
    data = _demo_dict()
    mutate(data)
    with pytest.raises(GridMapError, match=needle):
        GridMap.from_dict(data)


def test_from_yaml_rejects_garbage() -> None:
    with pytest.raises(GridMapError):
        GridMap.from_yaml("- just\n- a list\n")
    with pytest.raises(GridMapError):
        GridMap.from_yaml("version: 1\ncommunities: [")
