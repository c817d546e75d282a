"""Geometry for the pages' pictures, drawn by the server as inline SVG (no map tiles, no chart
library): the grid map from the grid map's polygons, and the weekly reported-vs-resolved chart.

Plain data in, plain data out; the templates (`templates/web/_map.html`, `_chart.html`) turn it
into SVG elements, so every word on a picture still comes from `web.yaml`.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from routing.gridmap import Grid

# Open cases -> fill colour: "none open", then four classes from light to dark.
RAMP = ("#e8f3ea", "#fde9b6", "#f9c574", "#ef8a4c", "#c7402f")
# The classes split the grids with open cases into quarters of the map's own spread, so a
# district of 1,000 grids and 1,000,000 cases still shows its busy and its quiet grids; but a
# class never ends below these bounds (1-2, 3-5, 6-10, 11 or more): a handful of open cases
# is never drawn as alarming just because every other grid has none. The legend states them.
FLOOR = (2, 5, 10)
MAP_WIDTH = 760.0
MAP_MAX_HEIGHT = 520.0
MAP_PADDING = 4.0  # room for the outline of the grid a page is about
NEIGHBOURS = 40  # a grid's page draws at most this many grids around it

# Words on the map never render smaller than these (CSS px: names, counts). The map is scaled to its box, so
# the size in drawing units depends on how narrow the box can be: two label layouts, one for
# screens from 541 px (the box is then at least 480 px wide) and one for phones (from 320 px:
# a box of at least 288 px); the stylesheet shows the one that fits (gridvoice.css).
NAME_PX = 13.0
COUNT_PX = 12.0
LAYOUTS: tuple[tuple[str, float], ...] = (("wide", 480.0), ("narrow", 288.0))
LINE = 1.2  # line height, in font sizes


@dataclass(frozen=True)
class LegendEntry:
    low: int
    high: int | None
    fill: str


@dataclass(frozen=True)
class Line:
    text: str
    y: float  # baseline


@dataclass(frozen=True)
class Label:
    """A grid's name (and its open cases) where they fit inside its shape."""

    grid_id: str
    x: float  # the centre
    names: tuple[Line, ...]
    count: Line | None
    name_size: float
    count_size: float
    box: tuple[float, float, float, float]  # left, top, right, bottom
    on_dark: bool = False  # written on the darkest colour: light words


@dataclass(frozen=True)
class Shape:
    grid_id: str
    points: str  # SVG polygon points
    fill: str
    open: int
    label_x: float
    label_y: float
    box: tuple[float, float, float, float]  # left, top, right, bottom of the polygon


@dataclass(frozen=True)
class MapDrawing:
    width: float
    height: float
    shapes: list[Shape]
    undrawn: list[str]  # grids without a polygon: listed under the map instead
    legend: list[LegendEntry] = field(default_factory=list)
    labels: dict[str, list[Label]] = field(default_factory=dict)  # layout -> labels

    @property
    def empty(self) -> bool:
        return not self.shapes


def classes(counts: Iterable[int]) -> list[LegendEntry]:
    """The colour classes for these open-case counts: 0, then four classes whose upper bounds
    are the quartiles of the positive counts, never below `FLOOR`, each above the last."""
    positive = sorted(c for c in counts if c > 0)
    entries = [LegendEntry(0, 0, RAMP[0])]
    low = 1
    for i, floor in enumerate(FLOOR):
        q = positive[int((i + 1) / 4 * (len(positive) - 1))] if positive else 0
        high = max(q, floor, low)
        entries.append(LegendEntry(low, high, RAMP[i + 1]))
        low = high + 1
    entries.append(LegendEntry(low, None, RAMP[-1]))
    return entries


def legend(counts: Iterable[int] = ()) -> list[LegendEntry]:
    return classes(counts)


def fill_for(open_cases: int, entries: Sequence[LegendEntry] | None = None) -> str:
    for e in entries or classes(()):
        if open_cases >= e.low and (e.high is None or open_cases <= e.high):
            return e.fill
    return RAMP[-1]


def grid_map(
    grids: Iterable[Grid],
    open_cases: Mapping[str, int],
    current: str | None = None,
    *,
    names: Mapping[str, str] | None = None,
    count_text: Callable[[int], str] | None = None,
    spread: Iterable[int] | None = None,
) -> MapDrawing:
    """Project [lat, lon] rings onto the page (north up, longitude shrunk by cos(latitude)).

    Shapes come in drawing order, `current` (the grid a page is about) last, on top. Colours
    come from the classes of `spread` (the open cases of every grid the page's figures cover;
    by default those drawn). With `names` (and `count_text`), each grid's name and its open
    cases are placed where they fit, per layout (see `LAYOUTS`).
    """
    grids = sorted(grids, key=lambda g: g.id == current)
    drawn = [g for g in grids if g.polygon]
    undrawn = [g.id for g in grids if not g.polygon]
    counts = {g.id: int(open_cases.get(g.id, 0)) for g in grids}
    entries = classes(counts.values() if spread is None else spread)
    if not drawn:
        return MapDrawing(MAP_WIDTH, 0.0, [], undrawn, entries)
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
    rings: dict[str, list[tuple[float, float]]] = {}
    for g in drawn:
        pts = [xy(lat, lon) for lat, lon in g.polygon or ()]
        rings[g.id] = pts
        cx, cy = _centroid(pts)
        n = counts[g.id]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        shapes.append(
            Shape(
                grid_id=g.id,
                points=" ".join(f"{x:.1f},{y:.1f}" for x, y in pts),
                fill=fill_for(n, entries),
                open=n,
                label_x=round(cx, 1),
                label_y=round(cy, 1),
                box=(round(min(xs), 1), round(min(ys), 1), round(max(xs), 1), round(max(ys), 1)),
            )
        )
    width = round(span_x * scale + 2 * pad, 1)
    height = round(span_y * scale + 2 * pad, 1)
    labels: dict[str, list[Label]] = {}
    if names is not None:
        for layout, narrowest in LAYOUTS:
            shown = min(1.0, narrowest / width)  # rendered px per drawing unit, at the narrowest
            name_size = math.ceil(NAME_PX / shown * 10) / 10
            count_size = math.ceil(COUNT_PX / shown * 10) / 10
            labels[layout] = place_labels(
                shapes, rings, names, count_text, name_size, count_size, current
            )
    return MapDrawing(width, height, shapes, undrawn, entries, labels)


def text_width(text: str, size: float) -> float:
    """A generous estimate of a line's width in a bold sans-serif (no font metrics on the
    server): wide and full-width characters one em, capitals 0.72, others 0.62, spaces and
    narrow marks a third."""
    em = 0.0
    for ch in text:
        if unicodedata.east_asian_width(ch) in ("W", "F"):
            em += 1.0
        elif ch in " .,:;'|!il()[]-·":
            em += 0.34
        elif ch.isupper() or ch in "mwMW%@":
            em += 0.78
        else:
            em += 0.62
    return em * size


def _wrappings(name: str) -> list[tuple[str, ...]]:
    """The name on one line, then on two lines at each place it may break (a space, an opening
    bracket), most even first; last, the part before a bracket alone ("Grid 12" of "Grid 12
    (Xingfu Garden north)", "第十二网格" of "第十二网格（幸福小区北）")."""
    breaks = [i for i, ch in enumerate(name) if ch in " （(" and 0 < i < len(name)]
    two = [(name[:i].strip(), name[i:].strip()) for i in breaks]
    two = [pair for pair in two if all(pair)]
    two.sort(key=lambda pair: max(len(pair[0]), len(pair[1])))
    out = [(name,), *two]
    short = name.replace("（", "(").split("(")[0].strip()
    if short and short != name:
        out.append((short,))
    return out


def place_labels(
    shapes: Sequence[Shape],
    rings: Mapping[str, list[tuple[float, float]]],
    names: Mapping[str, str],
    count_text: Callable[[int], str] | None,
    name_size: float,
    count_size: float,
    current: str | None = None,
) -> list[Label]:
    """Each grid's label where it fits: inside its shape (every corner of the label's box in
    the polygon, the box within the polygon's box) and clear of every label placed before it.
    The grid a page is about first, then the largest shapes; a name that fits nowhere is left
    out (the shape's link and tooltip, the legend and the table carry it)."""
    inset = max(3.0, 0.3 * name_size)  # clear of the outline and of the next grid's words
    order = sorted(
        shapes,
        key=lambda s: (s.grid_id != current, -(s.box[2] - s.box[0]) * (s.box[3] - s.box[1])),
    )
    placed: list[Label] = []
    for s in order:
        name = names.get(s.grid_id, "")
        if not name:
            continue
        count = count_text(s.open) if count_text is not None else None
        left, top, right, bottom = s.box
        room_w = right - left - 2 * inset
        room_h = bottom - top - 2 * inset
        for with_count in (True, False) if count else (False,):
            label = None
            for lines in _wrappings(name):
                w = max(text_width(line, name_size) for line in lines)
                h = len(lines) * name_size * LINE
                if with_count and count:
                    w = max(w, text_width(count, count_size))
                    h += count_size * LINE
                if w > room_w or h > room_h:
                    continue
                label = _fit(s, rings[s.grid_id], lines, count if with_count else None,
                             w, h, name_size, count_size, inset, placed)  # fmt: skip
                if label is not None:
                    break
            if label is not None:
                placed.append(label)
                break
    return placed


def _fit(
    s: Shape,
    ring: list[tuple[float, float]],
    lines: tuple[str, ...],
    count: str | None,
    w: float,
    h: float,
    name_size: float,
    count_size: float,
    inset: float,
    placed: Sequence[Label],
) -> Label | None:
    """The label centred on the shape's centroid, moved inside the shape's box; None when a
    corner falls outside the polygon or it would touch a label already placed."""
    left, top, right, bottom = s.box
    x = min(max(s.label_x, left + inset + w / 2), right - inset - w / 2)
    y0 = min(max(s.label_y - h / 2, top + inset), bottom - inset - h)
    box = (x - w / 2, y0, x + w / 2, y0 + h)
    corners = ((box[0], box[1]), (box[2], box[1]), (box[0], box[3]), (box[2], box[3]))
    if not all(_inside(p, ring) for p in corners):
        return None
    if any(_overlap(box, other.box, inset) for other in placed):
        return None
    baseline = y0
    out = []
    for text in lines:
        baseline += name_size * LINE
        out.append(Line(text, round(baseline - name_size * 0.3, 1)))
    count_line = None
    if count:
        baseline += count_size * LINE
        count_line = Line(count, round(baseline - count_size * 0.3, 1))
    return Label(
        grid_id=s.grid_id,
        x=round(x, 1),
        names=tuple(out),
        count=count_line,
        name_size=round(name_size, 1),
        count_size=round(count_size, 1),
        box=tuple(round(v, 1) for v in box),  # type: ignore[arg-type]
        on_dark=s.fill == RAMP[-1],
    )


def _overlap(a: tuple[float, ...], b: tuple[float, ...], gap: float = 2.0) -> bool:
    return a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap


def _inside(point: tuple[float, float], ring: list[tuple[float, float]]) -> bool:
    """Point in polygon (even-odd rule); a point on the outline counts as inside."""
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if min(y1, y2) <= y <= max(y1, y2) and min(x1, x2) <= x <= max(x1, x2):
            cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
            if abs(cross) < 1e-6 * max(1.0, abs(x2 - x1) + abs(y2 - y1)):
                return True
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def neighbourhood(grid: Grid, grids: Iterable[Grid], limit: int = NEIGHBOURS) -> list[Grid]:
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
    font: float = 11.0  # the axis labels' size, in drawing units


# The chart is drawn three times, each shown where its words stay readable (gridvoice.css):
# 400 units wide for phones (up to 600 px: a 358 px box on a 390 px phone renders 12 units at
# 10.7 px), 760 for screens of 601-900 px (a 569-868 px box: 13 units at 9.7-14.8 px) and 1040
# above (an 868-1068 px box: 13 units at 10.9-13.3 px).
CHARTS: tuple[tuple[str, float, float, float], ...] = (
    ("narrow", 400.0, 220.0, 12.0),
    ("medium", 760.0, 240.0, 13.0),
    ("wide", 1040.0, 260.0, 13.0),
)


def weekly_charts(weeks: Iterable[tuple[datetime, int, int]]) -> dict[str, Chart]:
    """The weekly chart in each of its sizes (see `CHARTS`)."""
    items = list(weeks)
    return {name: weekly_chart(items, w, h, font) for name, w, h, font in CHARTS}


def weekly_chart(
    weeks: Iterable[tuple[datetime, int, int]],
    width: float = 760.0,
    height: float = 240.0,
    font: float = 11.0,
) -> Chart:
    """Paired bars per week (reported, resolved) with a rounded y scale and a few ticks; a
    week's date under as many weeks as leave each date room (~4.5 characters)."""
    items = list(weeks)
    left, right, top, bottom = max(44.0, font * 3.6), 8.0, 10.0, height - math.ceil(font * 2.4)
    peak = max([1, *(max(r, s) for _, r, s in items)])
    step = _nice_step(peak)
    top_value = step * math.ceil(peak / step)
    plot_h = bottom - top
    slot = (width - left - right) / max(1, len(items))
    bar_w = max(2.0, min(18.0, slot * 0.36))
    every = max(1, math.ceil(font * 4.5 / slot))

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
    return Chart(width, height, top, bottom, left, round(bar_w, 1), ticks, out, font)


def _nice_step(peak: int) -> int:
    """A step of 1, 2 or 5 times a power of ten giving at most five ticks."""
    raw = max(1.0, peak / 5)
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * power >= raw:
            return int(m * power)
    return int(10 * power)
