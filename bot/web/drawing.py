"""Geometry for the pages' pictures, drawn by the server as inline SVG (no map tiles, no chart
library): the grid map from the grid map's polygons, and the weekly reported-vs-resolved chart.

Plain data in, plain data out; the templates (`templates/web/_map.html`, `_chart.html`) turn it
into SVG elements, so every word on a picture still comes from `web.yaml`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from routing.gridmap import Grid

# Open cases -> fill colour. Fixed classes (not relative to the busiest grid), so a colour means
# the same on every page and on every day; the legend lists them.
OPEN_CLASSES: tuple[tuple[int, int | None, str], ...] = (
    (0, 0, "#e8f3ea"),
    (1, 2, "#fde9b6"),
    (3, 5, "#f9c574"),
    (6, 10, "#ef8a4c"),
    (11, None, "#c7402f"),
)
MAP_WIDTH = 760.0
MAP_MAX_HEIGHT = 520.0
MAP_PADDING = 4.0  # room for the outline of the grid a page is about
LABEL_LIMIT = 40  # more grids than this: names in tooltips only, the shapes are too small


@dataclass(frozen=True)
class Shape:
    grid_id: str
    points: str  # SVG polygon points
    fill: str
    open: int
    label_x: float
    label_y: float


@dataclass(frozen=True)
class MapDrawing:
    width: float
    height: float
    shapes: list[Shape]
    labels: bool
    undrawn: list[str]  # grids without a polygon: listed under the map instead

    @property
    def empty(self) -> bool:
        return not self.shapes


@dataclass(frozen=True)
class LegendEntry:
    low: int
    high: int | None
    fill: str


def legend() -> list[LegendEntry]:
    return [LegendEntry(low, high, fill) for low, high, fill in OPEN_CLASSES]


def fill_for(open_cases: int) -> str:
    for low, high, fill in OPEN_CLASSES:
        if open_cases >= low and (high is None or open_cases <= high):
            return fill
    return OPEN_CLASSES[-1][2]


def grid_map(
    grids: Iterable[Grid], open_cases: Mapping[str, int], current: str | None = None
) -> MapDrawing:
    """Project [lat, lon] rings onto the page (north up, longitude shrunk by cos(latitude)).

    Shapes come in drawing order, `current` (the grid a page is about) last, on top.
    """
    grids = sorted(grids, key=lambda g: g.id == current)
    drawn = [g for g in grids if g.polygon]
    undrawn = [g.id for g in grids if not g.polygon]
    if not drawn:
        return MapDrawing(MAP_WIDTH, 0.0, [], False, undrawn)
    lats = [p[0] for g in drawn for p in g.polygon or ()]
    lons = [p[1] for g in drawn for p in g.polygon or ()]
    south, north, west, east = min(lats), max(lats), min(lons), max(lons)
    shrink = math.cos(math.radians((south + north) / 2)) or 1.0
    span_x = max((east - west) * shrink, 1e-9)
    span_y = max(north - south, 1e-9)
    pad = MAP_PADDING
    scale = min((MAP_WIDTH - 2 * pad) / span_x, (MAP_MAX_HEIGHT - 2 * pad) / span_y)

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return pad + (lon - west) * shrink * scale, pad + (north - lat) * scale

    shapes = []
    for g in drawn:
        pts = [xy(lat, lon) for lat, lon in g.polygon or ()]
        cx, cy = _centroid(pts)
        n = int(open_cases.get(g.id, 0))
        shapes.append(
            Shape(
                grid_id=g.id,
                points=" ".join(f"{x:.1f},{y:.1f}" for x, y in pts),
                fill=fill_for(n),
                open=n,
                label_x=round(cx, 1),
                label_y=round(cy, 1),
            )
        )
    width = round(span_x * scale + 2 * pad, 1)
    height = round(span_y * scale + 2 * pad, 1)
    return MapDrawing(width, height, shapes, len(shapes) <= LABEL_LIMIT, undrawn)


def neighbourhood(grid: Grid, grids: Iterable[Grid], limit: int = LABEL_LIMIT) -> list[Grid]:
    """The grids to draw around `grid` on its page: all of them when few, else the nearest
    (those whose box overlaps the grid's box widened by its own size), at most `limit`."""
    grids = list(grids)
    if len(grids) <= limit or not grid.polygon:
        return grids
    south, north, west, east = _box(grid.polygon)
    dy, dx = north - south, east - west
    near = []
    for g in grids:
        if not g.polygon:
            continue
        s2, n2, w2, e2 = _box(g.polygon)
        if s2 < north + dy and n2 > south - dy and w2 < east + dx and e2 > west - dx:
            distance = abs((s2 + n2) - (south + north)) + abs((w2 + e2) - (west + east))
            near.append((g.id != grid.id, distance, g.id, g))
    near.sort(key=lambda item: item[:3])
    return [g for *_, g in near[:limit]]


def _box(polygon: tuple[tuple[float, float], ...]) -> tuple[float, float, float, float]:
    lats = [p[0] for p in polygon]
    lons = [p[1] for p in polygon]
    return min(lats), max(lats), min(lons), max(lons)


def _centroid(pts: list[tuple[float, float]]) -> tuple[float, float]:
    """The area centroid of a ring (the mean of its points when it has no area)."""
    area = cx = cy = 0.0
    for (x1, y1), (x2, y2) in zip(pts, pts[1:] + pts[:1], strict=True):
        cross = x1 * y2 - x2 * y1
        area += cross
        cx += (x1 + x2) * cross
        cy += (y1 + y2) * cross
    if abs(area) < 1e-9:
        return sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)
    return cx / (3 * area), cy / (3 * area)


# --- the weekly chart ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    height: float
    value: int


@dataclass(frozen=True)
class WeekBars:
    start: datetime
    label_x: float
    reported: Bar
    resolved: Bar
    show_label: bool


@dataclass(frozen=True)
class Chart:
    width: float
    height: float
    plot_top: float
    plot_bottom: float
    plot_left: float
    bar_width: float
    ticks: list[tuple[float, int]]  # (y, value)
    weeks: list[WeekBars]


def weekly_chart(
    weeks: Iterable[tuple[datetime, int, int]], width: float = 760.0, height: float = 240.0
) -> Chart:
    """Paired bars per week (reported, resolved) with a rounded y scale and a few ticks."""
    items = list(weeks)
    left, right, top, bottom = 44.0, 8.0, 10.0, height - 28.0
    peak = max([1, *(max(r, s) for _, r, s in items)])
    step = _nice_step(peak)
    top_value = step * math.ceil(peak / step)
    plot_h = bottom - top
    slot = (width - left - right) / max(1, len(items))
    bar_w = max(2.0, min(18.0, slot * 0.36))
    every = max(1, math.ceil(len(items) / 12))

    def bar(x: float, value: int) -> Bar:
        h = plot_h * value / top_value
        return Bar(round(x, 1), round(bottom - h, 1), round(h, 1), value)

    out = []
    for i, (start, reported, resolved) in enumerate(items):
        middle = left + slot * (i + 0.5)
        out.append(
            WeekBars(
                start=start,
                label_x=round(middle, 1),
                reported=bar(middle - bar_w - 1, reported),
                resolved=bar(middle + 1, resolved),
                show_label=(len(items) - 1 - i) % every == 0,
            )
        )
    ticks = [(round(bottom - plot_h * v / top_value, 1), v) for v in range(0, top_value + 1, step)]
    return Chart(width, height, top, bottom, left, round(bar_w, 1), ticks, out)


def _nice_step(peak: int) -> int:
    """A step of 1, 2 or 5 times a power of ten giving at most five ticks."""
    raw = max(1.0, peak / 5)
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * power >= raw:
            return int(m * power)
    return int(10 * power)
