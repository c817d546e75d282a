"""Point -> grid lookup."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from routing.geo import GridIndex, distance_m, point_in_polygon
from routing.gridmap import GridMap

DEMO = Path(__file__).resolve().parents[2] / "bot" / "examples" / "demo-community.yaml"


@pytest.fixture(scope="module")
def demo() -> GridMap:
    return GridMap.from_file(DEMO)


@pytest.mark.parametrize(
    ("lat", "lon", "grid_id"),
    [
        (39.9110, 116.4010, "xingfu-1"),
        (39.9150, 116.4010, "xingfu-2"),
        (39.9110, 116.4090, "xingfu-3"),
        (39.9159, 116.4099, "xingfu-4"),
    ],
)
def test_locate_inside_polygons(demo: GridMap, lat: float, lon: float, grid_id: str) -> None:
    grid = GridIndex(demo).locate(lat, lon)
    assert grid is not None and grid.id == grid_id


def test_every_demo_building_locates_to_its_grid(demo: GridMap) -> None:
    index = GridIndex(demo)
    for b in demo.buildings.values():
        assert b.location is not None
        assert index.locate(*b.location).id == b.grid_id, b.id


def test_far_away_is_none_and_near_edge_uses_nearest_building(demo: GridMap) -> None:
    index = GridIndex(demo)
    assert index.locate(31.23, 121.47) is None  # Shanghai
    # 100 m south of the map, below building xf-1 (39.9105, 116.4008)
    grid = index.locate(39.9093, 116.4008)
    assert grid is not None and grid.id == "xingfu-1"


def test_fallback_without_polygons(demo: GridMap) -> None:
    grids = {gid: dataclasses.replace(g, polygon=None) for gid, g in demo.grids.items()}
    index = GridIndex(dataclasses.replace(demo, grids=grids))
    assert index.locate(39.9122, 116.4066).id == "xingfu-3"  # next to hp-* buildings
    assert index.locate(39.95, 116.40) is None  # > 300 m from every building


def test_concave_polygon() -> None:
    l_shape = [(0, 0), (0, 2), (1, 2), (1, 1), (2, 1), (2, 0)]
    assert point_in_polygon(0.5, 1.5, l_shape)
    assert point_in_polygon(1.5, 0.5, l_shape)
    assert not point_in_polygon(1.5, 1.5, l_shape)


def test_distance() -> None:
    assert 105 < distance_m((39.9100, 116.4000), (39.9110, 116.4000)) < 118
