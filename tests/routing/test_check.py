"""The map check: each broken example map is caught with a message naming the culprit."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from routing.check import check_gridmap, polygons_overlap
from routing.gridmap import GridMap

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "bot" / "examples" / "demo-community.yaml"
BAD = ROOT / "bot" / "examples" / "bad-maps"


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def demo_dict() -> dict:
    return _load(DEMO)


def _codes(problems) -> set[str]:
    return {p.code for p in problems}


def test_demo_map_passes(demo_dict: dict) -> None:
    assert check_gridmap(demo_dict) == []
    assert check_gridmap(GridMap.from_dict(demo_dict)) == []


@pytest.mark.parametrize(
    ("file", "code", "named"),
    [
        ("gap.yaml", "gap", "a-2-far"),
        ("overlap.yaml", "overlap", "shared"),
        ("unowned.yaml", "unowned_category", "a-2"),
        ("ladder-cycle.yaml", "ladder_cycle", "leader -> centre -> leader"),
    ],
)
def test_bad_maps(file: str, code: str, named: str) -> None:
    problems = check_gridmap(_load(BAD / file))
    hits = [p for p in problems if p.code == code]
    assert hits, problems
    assert any(named in p.message for p in hits), hits


def test_overlapping_polygons_named(demo_dict: dict) -> None:
    problems = check_gridmap(_load(BAD / "overlap.yaml"))
    assert any(
        p.code == "overlap"
        and "a-1" in p.message
        and "a-2" in p.message
        and "polygons" in p.message
        for p in problems
    )


def test_same_building_name_in_two_grids(demo_dict: dict) -> None:
    data = copy.deepcopy(demo_dict)
    data["communities"][0]["grids"][3]["buildings"][0]["name"]["zh"] = "幸福小区１号楼"
    problems = check_gridmap(data)
    assert any(
        p.code == "overlap" and "ak-1" in p.message and "xf-1" in p.message for p in problems
    )


def test_gap_variants(demo_dict: dict) -> None:
    data = copy.deepcopy(demo_dict)
    data["communities"][0]["grids"][1]["buildings"] = []
    data["communities"][0]["unassigned_buildings"] = ["幸福小区13号楼"]
    data["communities"][0]["grids"][0]["buildings"][0]["location"] = [39.9145, 116.4010]
    messages = [p.message for p in check_gridmap(data) if p.code == "gap"]
    assert any("xingfu-2" in m for m in messages)
    assert any("幸福小区13号楼" in m for m in messages)
    assert any("xf-1" in m and "xingfu-1" in m for m in messages)


def test_staffing_problems(demo_dict: dict) -> None:
    data = copy.deepcopy(demo_dict)
    data["staff"] = [s for s in data["staff"] if s["telegram_id"] not in (10002, 10010)]
    data["staff"][0]["duty"] = {"days": [], "hours": "08:00-18:00"}
    problems = check_gridmap(data)
    assert any(p.code == "no_member" and "xingfu-2" in p.message for p in problems)
    assert any(p.code == "no_leader" and "xingfu-4" in p.message for p in problems)
    assert any(p.code == "no_on_duty_member" and "xingfu-1" in p.message for p in problems)


def test_unknown_references_and_duplicates(demo_dict: dict) -> None:
    data = copy.deepcopy(demo_dict)
    data["staff"][0]["grids"] = ["xingfu-9"]
    data["responsibility"]["grids"]["xingfu-7"] = {"property": "grid"}
    data["responsibility"]["defaults"]["traffic"] = "party:ghost"
    data["communities"][0]["grids"][1]["id"] = "xingfu-1"
    problems = check_gridmap(data)
    unknown = " | ".join(p.message for p in problems if p.code == "unknown_reference")
    assert "xingfu-9" in unknown and "xingfu-7" in unknown and "ghost" in unknown
    assert any(p.code == "duplicate_id" and "xingfu-1" in p.message for p in problems)
    assert any(p.code == "unowned_category" and "traffic" in p.message for p in problems)


def test_street_cannot_escalate(demo_dict: dict) -> None:
    data = copy.deepcopy(demo_dict)
    data["ladder"]["street"] = "member"
    assert "ladder_cycle" in _codes(check_gridmap(data))


def test_malformed_is_a_problem_not_a_crash() -> None:
    problems = check_gridmap({"version": 1, "communities": "nope"})
    assert [p.code for p in problems] == ["malformed"]


def test_polygon_overlap_geometry() -> None:
    a = [(0, 0), (0, 1), (1, 1), (1, 0)]
    assert not polygons_overlap(a, [(0, 1), (0, 2), (1, 2), (1, 1)])  # shared edge
    assert polygons_overlap(a, [(0.5, 0.5), (0.5, 1.5), (1.5, 1.5), (1.5, 0.5)])  # crossing
    assert polygons_overlap(a, [(0.2, 0.2), (0.2, 0.4), (0.4, 0.4), (0.4, 0.2)])  # contained
    assert polygons_overlap(a, list(a))  # identical
    assert polygons_overlap(
        [(0, 0), (0, 2), (1, 2), (1, 0)], [(0, 1), (0, 3), (1, 3), (1, 1)]
    )  # collinear


def test_cli(capsys) -> None:
    assert main(["grids", "check", str(DEMO)]) == 0
    assert (
        capsys.readouterr().out.strip()
        == "OK: 4 grids, 32 buildings, 11 categories owned in every grid"
    )
    assert main(["grids", "check", str(BAD / "ladder-cycle.yaml")]) == 1
    assert capsys.readouterr().out.startswith("ERROR ladder_cycle ladder: ")


def _with_working_hours(demo_dict: dict, **working: object) -> dict:
    data = copy.deepcopy(demo_dict)
    data["deadlines"]["working_hours"] = {"days": "mon-fri", **working}
    return data


def test_calendar_conflict_and_bad_dates(demo_dict: dict) -> None:
    data = _with_working_hours(
        demo_dict, calendar="cn", holidays=["2026-10-10", "2026-12-31"], workdays=["2026-10-10"]
    )
    problems = check_gridmap(data, today=date(2026, 6, 1))
    assert [(p.code, p.message, p.warning) for p in problems] == [
        (
            "calendar_conflict",
            "2026-10-10 is listed both in holidays and in workdays",
            False,
        )
    ]
    bad = check_gridmap(_with_working_hours(demo_dict, workdays=["2026-02-30"]))
    assert [p.code for p in bad] == ["malformed"]
    assert "working_hours.workdays[0]" in bad[0].message
    assert "2026-02-30" in bad[0].message
    unknown = check_gridmap(_with_working_hours(demo_dict, calendar="mars"))
    assert [p.code for p in unknown] == ["malformed"]
    assert "unknown calendar 'mars'" in unknown[0].message


def test_a_year_the_calendar_does_not_know_is_a_warning(demo_dict: dict) -> None:
    data = _with_working_hours(demo_dict, calendar="cn")
    assert check_gridmap(data, today=date(2026, 6, 1)) == []
    (warning,) = check_gridmap(data, today=date(2026, 11, 15))  # 60 days on is 2027
    assert (warning.code, warning.warning) == ("calendar_year_unknown", True)
    assert "not 2027" in warning.message and "2004-2026" in warning.message
    # the map lists its own holidays for 2027: taken as that year's arrangement
    listed = _with_working_hours(demo_dict, calendar="cn", holidays=["2027-01-01"])
    assert check_gridmap(listed, today=date(2026, 11, 15)) == []
    # no calendar: nothing to be out of date
    assert check_gridmap(_with_working_hours(demo_dict), today=date(2030, 1, 1)) == []


def test_cli_prints_a_warning_and_still_passes(demo_dict: dict, tmp_path: Path, capsys) -> None:
    path = tmp_path / "map.yaml"
    data = _with_working_hours(demo_dict, calendar="cn")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["grids", "check", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("OK: 4 grids")
    # today is whatever it is: a year past the pinned data is warned of, never an error
    assert all(line.startswith("WARNING calendar_year_unknown") for line in out[:-1])
    conflict = _with_working_hours(demo_dict, holidays=["2026-10-10"], workdays=["2026-10-10"])
    path.write_text(yaml.safe_dump(conflict, allow_unicode=True), encoding="utf-8")
    assert main(["grids", "check", str(path)]) == 1
    assert capsys.readouterr().out.startswith(
        "ERROR calendar_conflict deadlines.working_hours: 2026-10-10"
    )


def test_clause_ids_are_unique_and_regulations_cited_exist(demo_dict: dict) -> None:
    """A return cites a clause by its id: two entries with one id, or a clause citing a
    regulation the map does not list, are reported by `gridvoice grids check`."""
    data = copy.deepcopy(demo_dict)
    data["responsibility"]["grids"]["xingfu-3"] = {
        "property": {"owner": "grid", "clause": "PM-1"},  # the same id as the default's
        "traffic": {"owner": "party:heping-police", "cites": ["no-such-law"]},
    }
    problems = check_gridmap(data)
    dup = [p for p in problems if p.code == "duplicate_clause"]
    assert dup and "PM-1" in dup[0].message and "xingfu-3.property" in dup[0].message
    unknown = [p for p in problems if p.code == "unknown_regulation"]
    assert (
        unknown and "no-such-law" in unknown[0].message and "xingfu-3.traffic" in unknown[0].message
    )
    # The derived ids are unique by construction; the demo map's citations are listed.
    assert check_gridmap(demo_dict) == []


def test_a_clause_id_must_be_short_and_plain(demo_dict: dict) -> None:
    data = copy.deepcopy(demo_dict)
    data["responsibility"]["defaults"]["property"] = {
        "owner": "party:xingfu-wuye",
        "clause": "a clause with spaces",
    }
    assert _codes(check_gridmap(data)) == {"malformed"}
