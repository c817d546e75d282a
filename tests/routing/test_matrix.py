"""The responsibility matrix: grid override -> community override -> defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from routing.gridmap import GridMap, GridMapError
from routing.matrix import matrix, ownership

DEMO = Path(__file__).resolve().parents[2] / "bot" / "examples" / "demo-community.yaml"


@pytest.fixture(scope="module")
def demo() -> GridMap:
    return GridMap.from_file(DEMO)


def test_defaults_and_party(demo: GridMap) -> None:
    o = ownership(demo, "xingfu-1", "property")
    assert (o.owner, o.party.id, o.follow_up_by_grid, o.source) == (
        "party",
        "xingfu-wuye",
        True,
        "default",
    )
    o = ownership(demo, "xingfu-1", "sanitation")
    assert (o.owner, o.party, o.follow_up_by_grid, o.source) == ("grid", None, False, "default")


def test_grid_override(demo: GridMap) -> None:
    o = ownership(demo, "xingfu-3", "property")
    assert (o.owner, o.source) == ("grid", "grid")


def test_community_override() -> None:
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    data["responsibility"]["communities"] = {"xingfu": {"dispute": "party:xingfu-committee"}}
    data["responsibility"]["follow_up"] = "none"
    gm = GridMap.from_dict(data)
    o = ownership(gm, "xingfu-2", "dispute")
    assert (o.owner, o.party.id, o.source, o.follow_up_by_grid) == (
        "party",
        "xingfu-committee",
        "community",
        False,
    )


def test_unknown_category_raises(demo: GridMap) -> None:
    with pytest.raises(GridMapError, match="pothole"):
        ownership(demo, "xingfu-1", "pothole")


def test_full_matrix(demo: GridMap) -> None:
    m = matrix(demo)
    assert set(m) == set(demo.grids)
    assert all(set(row) == set(demo.categories) for row in m.values())
    assert m["xingfu-4"]["traffic"].party.id == "heping-police"


def test_every_entry_is_a_clause_with_a_stable_id(demo: GridMap) -> None:
    from routing.matrix import clause_for, clauses, clauses_in

    ids = [c.id for c in clauses(demo)]
    assert len(ids) == len(set(ids))
    assert "PM-1" in ids and "all.sanitation" in ids and "xingfu-3.property" in ids
    pm = clause_for(demo, "xingfu-1", "property")
    assert (pm.id, pm.owner, pm.cites) == ("PM-1", "party:xingfu-wuye", ("wuye-tiaoli",))
    # In xingfu-3 the grid override is in force, not the default.
    assert clause_for(demo, "xingfu-3", "property").id == "xingfu-3.property"
    assert {c.category for c in clauses_in(demo, "xingfu-1")} == set(demo.categories)
    assert demo.regulations["wuye-tiaoli"].title.get("zh").startswith("《物业管理条例》")
    assert (demo.duty.adjudicator, demo.duty.ruling_within.days) == ("street", 1)


def test_an_amendment_changes_the_owner_for_its_scope_only(demo: GridMap) -> None:
    from dataclasses import replace

    from routing.matrix import Amendment, amend, ownership, unowned_after

    change = Amendment("community", "xingfu", "facilities", "party:xingfu-wuye")
    after = amend(demo, [change])
    assert ownership(after, "xingfu-2", "facilities").party.id == "xingfu-wuye"
    assert ownership(demo, "xingfu-2", "facilities").owner == "grid"  # the loaded map stays
    # A later grid-level amendment wins in its grid; unknown names are skipped.
    again = amend(
        demo,
        [
            change,
            Amendment("grid", "xingfu-2", "facilities", "grid"),
            Amendment("grid", "nowhere", "facilities", "grid"),
            Amendment("community", "xingfu", "facilities", "party:gone"),
        ],
    )
    assert ownership(again, "xingfu-2", "facilities").owner == "grid"
    assert ownership(again, "xingfu-1", "facilities").party.id == "xingfu-wuye"
    assert unowned_after(demo, change) == []
    bare = replace(demo.parties["heping-police"], chat_id=None, staff_ids=())
    lonely = replace(demo, parties={**demo.parties, "heping-police": bare})
    police = Amendment("community", "xingfu", "facilities", "party:heping-police")
    assert unowned_after(lonely, police) == ["xingfu-1", "xingfu-2", "xingfu-3", "xingfu-4"]


def test_a_bad_duty_section_is_refused(demo: GridMap) -> None:
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    for duty, words in (
        ({"adjudicator": "member"}, "duty.adjudicator"),
        ({"ruling_within": "soon"}, "duty.ruling_within"),
    ):
        with pytest.raises(GridMapError, match=words):
            GridMap.from_dict({**data, "duty": duty})
    with pytest.raises(GridMapError, match="url"):
        GridMap.from_dict({**data, "regulations": [{"id": "x", "url": "javascript:alert(1)"}]})
