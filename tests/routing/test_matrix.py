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
