"""The pictures' geometry: plain data in, plain data out (no browser, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.web.drawing import (
    LABEL_LIMIT,
    OPEN_CLASSES,
    fill_for,
    grid_map,
    legend,
    neighbourhood,
    weekly_chart,
)
from routing.gridmap import GridMap

DEMO_MAP = Path(__file__).resolve().parents[2] / "bot" / "examples" / "demo-community.yaml"


def test_every_grid_with_a_polygon_is_one_shape_north_up() -> None:
    gridmap = GridMap.from_file(DEMO_MAP)
    drawing = grid_map(gridmap.grids.values(), {"xingfu-1": 4}, current="xingfu-2")
    assert sorted(s.grid_id for s in drawing.shapes) == sorted(gridmap.grids)
    assert drawing.shapes[-1].grid_id == "xingfu-2"  # the page's grid is drawn last
    by_id = {s.grid_id: s for s in drawing.shapes}
    # xingfu-2 lies north of xingfu-1: smaller y on the page; xingfu-3 lies east: larger x
    assert by_id["xingfu-2"].label_y < by_id["xingfu-1"].label_y
    assert by_id["xingfu-3"].label_x > by_id["xingfu-1"].label_x
    assert by_id["xingfu-1"].fill == fill_for(4) != by_id["xingfu-3"].fill
    assert drawing.labels and not drawing.undrawn
    for s in drawing.shapes:
        for point in s.points.split():
            x, y = (float(v) for v in point.split(","))
            assert 0 <= x <= drawing.width and 0 <= y <= drawing.height


def test_open_case_classes_cover_every_count_once() -> None:
    assert [e.fill for e in legend()] == [c[2] for c in OPEN_CLASSES]
    for n in range(0, 40):
        matching = [c for c in OPEN_CLASSES if n >= c[0] and (c[1] is None or n <= c[1])]
        assert len(matching) == 1 and fill_for(n) == matching[0][2]
    assert fill_for(10**9) == OPEN_CLASSES[-1][2]


def test_no_polygons_no_shapes() -> None:
    assert grid_map([], {}).empty


def test_weekly_chart_scales_to_the_busiest_week() -> None:
    start = datetime(2026, 9, 1, tzinfo=UTC)
    weeks = [(start + timedelta(days=7 * i), i, i // 2) for i in range(12)]
    chart = weekly_chart(weeks)
    assert len(chart.weeks) == 12
    top = chart.weeks[-1].reported
    assert top.value == 11 and top.y >= chart.plot_top and top.y + top.height == chart.plot_bottom
    assert chart.weeks[0].reported.height == 0
    assert chart.ticks[0][1] == 0 and chart.ticks[-1][1] >= 11
    assert chart.weeks[-1].show_label
    empty = weekly_chart([(start, 0, 0)])
    assert empty.weeks[0].reported.height == 0


def test_a_grid_page_of_a_big_community_draws_only_the_neighbourhood() -> None:
    from benchmarks.routing_bench import synthetic

    gridmap = GridMap.from_dict(synthetic(400))  # a 20 x 20 square of grids
    grids = list(gridmap.grids.values())
    middle = gridmap.grids["g210"]
    near = neighbourhood(middle, grids)
    assert near[0].id == "g210" and len(near) == 9  # itself and the eight around it
    assert {g.id for g in near} == {f"g{r * 20 + c}" for r in (9, 10, 11) for c in (9, 10, 11)}
    assert len(neighbourhood(middle, grids[:LABEL_LIMIT])) == LABEL_LIMIT  # few: all of them
