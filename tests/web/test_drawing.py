"""The pictures' geometry: plain data in, plain data out (no browser, no database).

Map words are placed only where they fit inside their grid, never over one another, at a size
that renders at least `NAME_PX` on the narrowest screen of their layout; colour classes follow
the map's own spread so a district of 1,000 grids is not one red block. With
$GRIDVOICE_SCREENSHOT_DIR set, the 24-grid and the 1,000-grid maps are written there as HTML
pages (`map-24-<lang>.html`, `map-1000-en.html`) to be opened in a browser and looked at.
"""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.web.drawing import (
    FLOOR,
    LAYOUTS,
    NAME_PX,
    NEIGHBOURS,
    RAMP,
    MapDrawing,
    _inside,
    classes,
    fill_for,
    grid_map,
    neighbourhood,
    text_width,
    weekly_chart,
    weekly_charts,
)
from routing.gridmap import Grid, GridMap, Text

DEMO_MAP = Path(__file__).resolve().parents[2] / "bot" / "examples" / "demo-community.yaml"
ROOT = Path(__file__).resolve().parents[2]


def _district(rows: int, cols: int, seed: int = 7) -> list[Grid]:
    """rows x cols grids on a jittered lattice (neighbours share corners; no two the same
    shape), each with a long English and a Chinese name."""
    rng = random.Random(seed)
    cell = 0.004
    corner = {
        (r, c): (
            39.9 + r * cell + (rng.uniform(-0.2, 0.2) * cell if 0 < r < rows else 0),
            116.4 + c * cell + (rng.uniform(-0.2, 0.2) * cell if 0 < c < cols else 0),
        )
        for r in range(rows + 1)
        for c in range(cols + 1)
    }
    grids = []
    for i in range(rows * cols):
        r, c = divmod(i, cols)
        ring = (corner[r, c], corner[r, c + 1], corner[r + 1, c + 1], corner[r + 1, c])
        side = ("north", "south", "east", "west")[i % 4]
        grids.append(
            Grid(
                id=f"g{i}",
                community_id="c",
                name=Text(
                    f"Grid {i + 1} (Xingfu Garden {side}-east)",
                    f"第{i + 1}网格（幸福小区{i % 9 + 1}区）",
                ),
                scope=Text("", ""),
                office=Text("", ""),
                polygon=ring,
                building_ids=(),
            )
        )
    return grids


def _labelled(grids: list[Grid], counts: dict[str, int], lang: str, current: str | None = None):
    return grid_map(
        grids,
        counts,
        current,
        names={g.id: g.name.get(lang) for g in grids},
        count_text=(lambda n: f"{n} open") if lang == "en" else (lambda n: f"未办结 {n} 件"),
    )


def _check_labels(drawing: MapDrawing) -> None:
    """No two labels overlap; each inside its polygon's box, corners inside the polygon; words
    never render under NAME_PX on the narrowest screen of their layout."""
    shapes = {s.grid_id: s for s in drawing.shapes}
    rings = {
        s.grid_id: [tuple(float(v) for v in p.split(",")) for p in s.points.split()]
        for s in drawing.shapes
    }
    for layout, narrowest in LAYOUTS:
        labels = drawing.labels[layout]
        assert len({label.grid_id for label in labels}) == len(labels)
        for a, b in combinations(labels, 2):
            assert (
                a.box[2] <= b.box[0]
                or b.box[2] <= a.box[0]
                or a.box[3] <= b.box[1]
                or b.box[3] <= a.box[1]
            ), (layout, a.grid_id, b.grid_id)
        shown = min(1.0, narrowest / drawing.width)
        for label in labels:
            left, top, right, bottom = shapes[label.grid_id].box
            x0, y0, x1, y1 = label.box
            assert left <= x0 and x1 <= right and top <= y0 and y1 <= bottom, label.grid_id
            for corner in ((x0, y0), (x1, y0), (x0, y1), (x1, y1)):
                assert _inside(corner, rings[label.grid_id]), label.grid_id  # type: ignore[arg-type]
            assert label.name_size * shown >= NAME_PX - 0.01
            for line in label.names:
                assert text_width(line.text, label.name_size) <= x1 - x0 + 0.1


def test_every_grid_with_a_polygon_is_one_shape_north_up() -> None:
    gridmap = GridMap.from_file(DEMO_MAP)
    drawing = grid_map(gridmap.grids.values(), {"xingfu-1": 4}, current="xingfu-2")
    assert sorted(s.grid_id for s in drawing.shapes) == sorted(gridmap.grids)
    assert drawing.shapes[-1].grid_id == "xingfu-2"  # the page's grid is drawn last
    by_id = {s.grid_id: s for s in drawing.shapes}
    # xingfu-2 lies north of xingfu-1: smaller y on the page; xingfu-3 lies east: larger x
    assert by_id["xingfu-2"].label_y < by_id["xingfu-1"].label_y
    assert by_id["xingfu-3"].label_x > by_id["xingfu-1"].label_x
    assert by_id["xingfu-1"].fill == fill_for(4, drawing.legend) != by_id["xingfu-3"].fill
    assert not drawing.undrawn
    for s in drawing.shapes:
        for point in s.points.split():
            x, y = (float(v) for v in point.split(","))
            assert 0 <= x <= drawing.width and 0 <= y <= drawing.height


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_demo_map_names_each_grid_where_it_fits(lang: str) -> None:
    grids = list(GridMap.from_file(DEMO_MAP).grids.values())
    drawing = _labelled(grids, {"xingfu-1": 3}, lang)
    _check_labels(drawing)
    wide = {label.grid_id: label for label in drawing.labels["wide"]}
    assert set(wide) == {g.id for g in grids}  # four big squares: every name, whole
    first = wide["xingfu-1"]
    assert (
        " ".join(line.text for line in first.names).replace("（", " （")
        in ("Grid 1 (Xingfu Garden south)", "第一网格 （幸福小区南）")
        or "".join(line.text for line in first.names) == "第一网格（幸福小区南）"
    )
    assert first.count is not None and "3" in first.count.text
    assert drawing.labels["narrow"]  # a phone still reads names, larger in drawing units
    assert drawing.labels["narrow"][0].name_size > first.name_size


@pytest.mark.parametrize(("rows", "cols"), [(4, 6), (6, 4), (25, 40)])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_labels_never_overlap_nor_leave_their_grid(rows: int, cols: int, lang: str) -> None:
    grids = _district(rows, cols)
    rng = random.Random(3)
    drawing = _labelled(grids, {g.id: rng.randint(0, 40) for g in grids}, lang, current="g5")
    _check_labels(drawing)
    if rows * cols == 24:
        assert len(drawing.labels["wide"]) >= 6  # names where they fit, not all or nothing
    else:
        assert drawing.labels["wide"] == []  # 1,000 grids: shapes too small for any name


def test_a_handful_of_open_cases_keeps_the_fixed_classes() -> None:
    low = classes([0, 0, 1, 2, 3])
    assert [(e.low, e.high) for e in low] == [(0, 0), (1, 2), (3, 5), (6, 10), (11, None)]
    assert [e.fill for e in low] == list(RAMP)
    assert fill_for(1, low) == RAMP[1] and fill_for(11, low) == RAMP[-1]


def test_a_district_of_1000_grids_is_not_one_colour() -> None:
    rng = random.Random(11)
    # 1,000,000 cases of which ~60,000 open, very unevenly: most grids a few dozen, some hundreds
    counts = [int(rng.paretovariate(1.6) * 25) for _ in range(1000)]
    counts[:40] = [0] * 40
    entries = classes(counts)
    assert entries[0].high == 0 and entries[-1].high is None
    for before, after in zip(entries, entries[1:], strict=False):
        assert before.high is not None and after.low == before.high + 1  # no gap, no overlap
    for n in range(0, max(counts) + 1):
        assert sum(e.low <= n and (e.high is None or n <= e.high) for e in entries) == 1
    used = {fill_for(n, entries) for n in counts if n > 0}
    assert len(used) >= 4
    assert entries[1].high > FLOOR[0]  # the classes follow the district, not the fixed bounds
    grids = _district(25, 40)
    drawing = grid_map(grids, {g.id: n for g, n in zip(grids, counts, strict=True)})
    assert len({s.fill for s in drawing.shapes}) == 5
    assert drawing.legend == entries


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


@pytest.mark.parametrize("weeks", [12, 26])
def test_the_phone_chart_has_readable_dates_with_room_between_them(weeks: int) -> None:
    start = datetime(2026, 9, 1, tzinfo=UTC)
    charts = weekly_charts([(start + timedelta(days=7 * i), i, i) for i in range(weeks)])
    # the narrowest box each is shown in
    for name, box in (("wide", 868.0), ("medium", 569.0), ("narrow", 358.0)):
        chart = charts[name]
        assert chart.font * min(1.0, box / chart.width) >= 9.5, name
        xs = [w.label_x for w in chart.weeks if w.show_label]
        assert all(
            b - a >= text_width("12-31", chart.font) for a, b in zip(xs, xs[1:], strict=False)
        )
        assert xs[-1] == chart.weeks[-1].label_x  # the latest week is always dated


def test_a_grid_page_of_a_big_community_draws_only_the_neighbourhood() -> None:
    from benchmarks.routing_bench import synthetic

    gridmap = GridMap.from_dict(synthetic(400))  # a 20 x 20 square of grids
    grids = list(gridmap.grids.values())
    middle = gridmap.grids["g210"]
    near = neighbourhood(middle, grids)
    assert near[0].id == "g210" and len(near) == 9  # itself and the eight around it
    assert {g.id for g in near} == {f"g{r * 20 + c}" for r in (9, 10, 11) for c in (9, 10, 11)}
    assert len(neighbourhood(middle, grids[:NEIGHBOURS])) == NEIGHBOURS  # few: all of them


@pytest.mark.skipif(not os.environ.get("GRIDVOICE_SCREENSHOT_DIR"), reason="no screenshot folder")
def test_write_the_big_maps_for_a_person_to_look_at() -> None:
    from bot.config import Settings
    from bot.web.pages import Formats, PageRenderer

    out = Path(os.environ["GRIDVOICE_SCREENSHOT_DIR"])
    out.mkdir(parents=True, exist_ok=True)
    pages = PageRenderer(Settings())
    css = (ROOT / "bot" / "web" / "static" / "gridvoice.css").read_text(encoding="utf-8")
    macro = pages.env.from_string(
        '{% from "_map.html" import grid_map with context %}{{ grid_map(drawing, gridmap) }}'
    )
    rng = random.Random(11)
    for name, (rows, cols), langs in (
        ("map-24", (4, 6), ("en", "zh")),
        ("map-1000", (25, 40), ("en",)),
    ):
        grids = _district(rows, cols)
        counts = {g.id: int(rng.paretovariate(1.6) * (25 if rows > 10 else 2)) for g in grids}
        for lang in langs:
            drawing = _labelled(grids, counts, lang)
            body = macro.render(
                drawing=drawing,
                gridmap=SimpleNamespace(grids={g.id: g for g in grids}),
                t=lambda key, **kw: pages.text(lang, key, **kw),  # noqa: B023
                f=Formats(pages, lang),
            )
            html = f"<!doctype html><meta charset=utf-8><style>{css}</style><main>{body}</main>"
            (out / f"{name}-{lang}.html").write_text(html, encoding="utf-8")
