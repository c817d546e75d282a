"""Point -> grid: point-in-polygon over a uniform cell index, nearest-building fallback.

Polygons are ``[lat, lon]`` rings. Each grid's bounding box is registered in every cell of a
uniform lat/lon lattice it touches (cell size adapts to the typical grid size), so a lookup
tests only the handful of grids whose boxes share the point's cell: flat at 10,000 grids.
When no polygon contains the point (or grids have no polygons), the nearest building within
``FALLBACK_METRES`` decides.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from routing.gridmap import Grid, GridMap

Point = tuple[float, float]
FALLBACK_METRES = 300.0
_BUILDING_CELL = 0.004  # degrees; 3x3 cells cover >= 300 m around a point up to ~55° latitude


def point_in_polygon(lat: float, lon: float, polygon: Sequence[Point]) -> bool:
    """Ray casting (even-odd rule). Points exactly on an edge may go either way."""
    inside = False
    n = len(polygon)
    j = n - 1
    for i in range(n):
        yi, xi = polygon[i]
        yj, xj = polygon[j]
        if (yi > lat) != (yj > lat):
            x_cross = xi + (lat - yi) * (xj - xi) / (yj - yi)
            if lon < x_cross:
                inside = not inside
        j = i
    return inside


def on_boundary(lat: float, lon: float, polygon: Sequence[Point], eps: float = 1e-9) -> bool:
    n = len(polygon)
    for i in range(n):
        (y1, x1), (y2, x2) = polygon[i], polygon[(i + 1) % n]
        cross = (x2 - x1) * (lat - y1) - (y2 - y1) * (lon - x1)
        if abs(cross) > eps * max(1.0, math.hypot(x2 - x1, y2 - y1)):
            continue
        if (
            min(x1, x2) - eps <= lon <= max(x1, x2) + eps
            and min(y1, y2) - eps <= lat <= max(y1, y2) + eps
        ):
            return True
    return False


def bbox(polygon: Sequence[Point]) -> tuple[float, float, float, float]:
    lats = [p[0] for p in polygon]
    lons = [p[1] for p in polygon]
    return min(lats), min(lons), max(lats), max(lons)


def distance_m(a: Point, b: Point) -> float:
    """Equirectangular approximation; accurate to well under 1% at grid scale."""
    lat = math.radians((a[0] + b[0]) / 2)
    dy = (a[0] - b[0]) * 111_320.0
    dx = (a[1] - b[1]) * 111_320.0 * math.cos(lat)
    return math.hypot(dx, dy)


class GridIndex:
    """Locate the grid of a point."""

    def __init__(self, gridmap: GridMap) -> None:
        self.gridmap = gridmap
        polys = [(g, bbox(g.polygon)) for g in gridmap.grids.values() if g.polygon]
        sizes = sorted(max(b[2] - b[0], b[3] - b[1]) for _, b in polys)
        self.cell = max(sizes[len(sizes) // 2], 1e-5) if sizes else 0.01
        self._cells: dict[tuple[int, int], list[tuple[Grid, tuple[float, float, float, float]]]] = (
            defaultdict(list)
        )
        for g, b in polys:
            for key in self._keys(b, self.cell):
                self._cells[key].append((g, b))
        self._buildings: dict[tuple[int, int], list[tuple[Point, str]]] = defaultdict(list)
        for b in gridmap.buildings.values():
            if b.location:
                self._buildings[self._key(b.location, _BUILDING_CELL)].append(
                    (b.location, b.grid_id)
                )

    @staticmethod
    def _key(p: Point, cell: float) -> tuple[int, int]:
        return math.floor(p[0] / cell), math.floor(p[1] / cell)

    @classmethod
    def _keys(cls, b: tuple[float, float, float, float], cell: float) -> list[tuple[int, int]]:
        (i0, j0), (i1, j1) = cls._key((b[0], b[1]), cell), cls._key((b[2], b[3]), cell)
        return [(i, j) for i in range(i0, i1 + 1) for j in range(j0, j1 + 1)]

    def locate(self, lat: float, lon: float) -> Grid | None:
        hits = []
        for g, b in self._cells.get(self._key((lat, lon), self.cell), ()):
            if (
                b[0] <= lat <= b[2]
                and b[1] <= lon <= b[3]
                and g.polygon
                and point_in_polygon(lat, lon, g.polygon)
            ):
                hits.append(g)
        if hits:
            return min(hits, key=lambda g: g.id)  # deterministic even on a bad (overlapping) map
        return self.nearest_building_grid(lat, lon)

    def nearest_building_grid(
        self, lat: float, lon: float, within_m: float = FALLBACK_METRES
    ) -> Grid | None:
        i, j = self._key((lat, lon), _BUILDING_CELL)
        best: tuple[float, str] | None = None
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                for loc, gid in self._buildings.get((i + di, j + dj), ()):
                    d = distance_m((lat, lon), loc)
                    if d <= within_m and (best is None or (d, gid) < best):
                        best = (d, gid)
        return self.gridmap.grids[best[1]] if best else None


__all__ = ["GridIndex", "bbox", "distance_m", "on_boundary", "point_in_polygon"]
