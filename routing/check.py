"""Validation of a grid map: gaps, overlaps, ownership holes, staffing holes, ladder cycles.

``check_gridmap`` accepts a loaded ``GridMap`` or the parsed YAML dict and returns a list of
``Problem`` (empty = valid). Messages are for the admin running ``gridvoice grids check`` and
always name the grid, building, category or staff member concerned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from routing.address import normalise_address
from routing.calendars import covers, known_years
from routing.deadlines import working_time
from routing.geo import bbox, on_boundary, point_in_polygon
from routing.gridmap import ROLES, GridMap, GridMapError, load_lenient
from routing.matrix import clauses, rule_for


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    where: str
    warning: bool = False  # reported, but the map is still fit to load


# How far ahead a calendar must know its year: deadlines reach weeks ahead, and next year's
# holidays are published in the autumn.
CALENDAR_LOOKAHEAD = dt.timedelta(days=60)


def check_gridmap(
    gridmap_or_dict: GridMap | Mapping[str, Any], today: dt.date | None = None
) -> list[Problem]:
    """The map's problems; ``today`` (default: today in the map's time zone) decides which
    years the working-day calendar must know."""
    problems: list[Problem] = []
    if isinstance(gridmap_or_dict, GridMap):
        gm = gridmap_or_dict
    else:
        try:
            gm, issues = load_lenient(gridmap_or_dict)
        except GridMapError as exc:
            return [Problem("malformed", str(exc), "map")]
        problems.extend(Problem(code, msg, where) for code, where, msg in issues)
    for fn in (_gaps, _overlaps, _polygon_overlaps, _ownership, _staffing, _ladder, _clauses):
        problems.extend(fn(gm))
    problems.extend(_calendar(gm, today))
    return problems


def _calendar(gm: GridMap, today: dt.date | None) -> list[Problem]:
    """A date listed both as a holiday and as a working day; a year ahead that the official
    calendar does not know and the map lists no holidays for (a warning: weekdays count)."""
    working = working_time(gm)
    if working is None:
        return []
    where = "deadlines.working_hours"
    out = [
        Problem(
            "calendar_conflict",
            f"{day.isoformat()} is listed both in holidays and in workdays",
            where,
        )
        for day in sorted(working.holidays & working.workdays)
    ]
    if today is None:
        today = dt.datetime.now(ZoneInfo(gm.timezone)).date()
    listed = {d.year for d in working.holidays}
    for year in sorted({today.year, (today + CALENDAR_LOOKAHEAD).year}):
        if covers(working.calendar, year) or year in listed:
            continue
        first, last = known_years(working.calendar) or (year, year)
        out.append(
            Problem(
                "calendar_year_unknown",
                f"calendar {working.calendar} knows {first}-{last}, not {year}: its public "
                f"holidays and make-up working days count as ordinary days until the package "
                f"is updated or they are listed under holidays and workdays",
                where,
                warning=True,
            )
        )
    return out


def _gaps(gm: GridMap) -> list[Problem]:
    out: list[Problem] = []
    for c in gm.communities.values():
        if not c.grid_ids:
            out.append(Problem("gap", f"community {c.id} has no grids", f"community {c.id}"))
    for g in gm.grids.values():
        if not g.building_ids:
            out.append(Problem("gap", f"grid {g.id} has no buildings", f"grid {g.id}"))
    for ci, c in enumerate(gm.raw.get("communities") or ()):
        for b in (c.get("unassigned_buildings") or ()) if isinstance(c, Mapping) else ():
            name = b.get("id") or b.get("name") if isinstance(b, Mapping) else b
            out.append(
                Problem(
                    "gap",
                    f"building {name} is listed as unassigned: it belongs to no grid",
                    f"communities[{ci}].unassigned_buildings",
                )
            )
    for b in gm.raw.get("unassigned_buildings") or ():
        name = b.get("id") or b.get("name") if isinstance(b, Mapping) else b
        out.append(
            Problem(
                "gap",
                f"building {name} is listed as unassigned: it belongs to no grid",
                "unassigned_buildings",
            )
        )
    polys = [g for g in gm.grids.values() if g.polygon]
    if not polys:
        return out
    from routing.geo import GridIndex

    index = GridIndex(gm)
    for b in gm.buildings.values():
        if not b.location:
            continue
        lat, lon = b.location
        own = gm.grids[b.grid_id]
        if own.polygon and not (
            point_in_polygon(lat, lon, own.polygon) or on_boundary(lat, lon, own.polygon)
        ):
            out.append(
                Problem(
                    "gap",
                    f"building {b.id} at {lat}, {lon} lies outside the polygon "
                    f"of its grid {own.id}",
                    f"building {b.id}",
                )
            )
        elif not own.polygon:
            hit = index.locate(lat, lon)
            if hit is not None and hit.polygon and hit.id != own.id:
                out.append(
                    Problem(
                        "overlap",
                        f"building {b.id} of grid {own.id} lies inside the "
                        f"polygon of grid {hit.id}",
                        f"building {b.id}",
                    )
                )
            elif not any(point_in_polygon(lat, lon, g.polygon) for g in polys if g.polygon):
                out.append(
                    Problem(
                        "gap",
                        f"building {b.id} (grid {own.id}) lies in no grid polygon",
                        f"building {b.id}",
                    )
                )
    return out


def _overlaps(gm: GridMap) -> list[Problem]:
    out: list[Problem] = []
    seen: dict[str, tuple[str, str]] = {}
    for b in gm.buildings.values():
        for name in {b.name.en, b.name.zh}:
            key = normalise_address(name)
            if not key:
                continue
            if key in seen and seen[key][1] != b.grid_id:
                other, ogrid = seen[key]
                out.append(
                    Problem(
                        "overlap",
                        f"building name {name!r} is used by building {other} "
                        f"(grid {ogrid}) and building {b.id} (grid {b.grid_id})",
                        f"building {b.id}",
                    )
                )
            seen.setdefault(key, (b.id, b.grid_id))
    return out


def _segments_cross(p1, p2, q1, q2) -> bool:
    def orient(a, b, c) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    eps = 1e-15
    return (d1 > eps and d2 < -eps or d1 < -eps and d2 > eps) and (
        d3 > eps and d4 < -eps or d3 < -eps and d4 > eps
    )


def _strictly_inside(pt, poly) -> bool:
    return point_in_polygon(pt[0], pt[1], poly) and not on_boundary(pt[0], pt[1], poly)


def _probe_points(poly) -> list[tuple[float, float]]:
    n = len(poly)
    pts = list(poly)
    pts += [
        ((poly[i][0] + poly[(i + 1) % n][0]) / 2, (poly[i][1] + poly[(i + 1) % n][1]) / 2)
        for i in range(n)
    ]
    pts.append((sum(p[0] for p in poly) / n, sum(p[1] for p in poly) / n))
    return pts


def polygons_overlap(a, b) -> bool:
    """Proper edge crossings or one polygon's probe points strictly inside the other."""
    na, nb = len(a), len(b)
    for i in range(na):
        for j in range(nb):
            if _segments_cross(a[i], a[(i + 1) % na], b[j], b[(j + 1) % nb]):
                return True
    return any(_strictly_inside(p, b) for p in _probe_points(a)) or any(
        _strictly_inside(p, a) for p in _probe_points(b)
    )


def _polygon_overlaps(gm: GridMap) -> list[Problem]:
    grids = sorted((bbox(g.polygon), g) for g in gm.grids.values() if g.polygon)
    out: list[Problem] = []
    for i, (ba, ga) in enumerate(grids):  # sweep on min latitude
        for bb, gb in grids[i + 1 :]:
            if bb[0] > ba[2]:
                break
            if bb[1] > ba[3] or bb[3] < ba[1]:
                continue
            if polygons_overlap(ga.polygon, gb.polygon):
                out.append(
                    Problem(
                        "overlap",
                        f"the polygons of grid {ga.id} and grid {gb.id} overlap",
                        f"grid {ga.id}",
                    )
                )
    return out


def _ownership(gm: GridMap) -> list[Problem]:
    out = []
    for g in gm.grids.values():
        for cat in gm.categories:
            if rule_for(gm, g.id, cat)[0] is None:
                out.append(
                    Problem(
                        "unowned_category",
                        f"category {cat!r} has no owner in grid {g.id}: "
                        "add it to responsibility.defaults or an override",
                        f"grid {g.id}",
                    )
                )
    return out


def _staffing(gm: GridMap) -> list[Problem]:
    out = []
    for g in gm.grids.values():
        members = gm.members_of(g.id)
        if not members:
            out.append(
                Problem("no_member", f"grid {g.id} has no active grid member", f"grid {g.id}")
            )
        elif not any(m.duty.days and m.duty.start != m.duty.end for m in members):
            out.append(
                Problem(
                    "no_on_duty_member",
                    f"no member of grid {g.id} is on duty on any day of the week",
                    f"grid {g.id}",
                )
            )
        if not gm.leaders_of(g.id):
            out.append(Problem("no_leader", f"grid {g.id} has no grid leader", f"grid {g.id}"))
    for s in gm.staff.values():
        if s.role in ("centre", "committee") and not s.community_id:
            out.append(
                Problem(
                    "unknown_reference",
                    f"staff {s.telegram_id} ({s.name}, {s.role}) names no community",
                    f"staff {s.telegram_id}",
                )
            )
        if s.role in ("member", "leader") and not s.grid_ids:
            out.append(
                Problem(
                    "unknown_reference",
                    f"staff {s.telegram_id} ({s.name}, {s.role}) has no grids",
                    f"staff {s.telegram_id}",
                )
            )
        for cat in sorted(s.categories or ()):
            if cat not in gm.categories:
                out.append(
                    Problem(
                        "unknown_reference",
                        f"staff {s.telegram_id} ({s.name}) handles unknown category {cat!r}",
                        f"staff {s.telegram_id}",
                    )
                )
    return out


def _ladder(gm: GridMap) -> list[Problem]:
    out = []
    rungs = set(ROLES) - {"committee", "admin"}
    for k, v in gm.ladder.items():
        for r in (k, v):
            if r not in rungs:
                out.append(
                    Problem("unknown_reference", f"ladder names unknown rung {r!r}", f"ladder.{k}")
                )
    if "street" in gm.ladder:
        out.append(
            Problem(
                "ladder_cycle",
                "the street office is the top of the ladder: "
                f"'street: {gm.ladder['street']}' is not allowed",
                "ladder.street",
            )
        )
    reported: set[frozenset[str]] = set()
    for start in gm.ladder:
        path, rung = [start], gm.ladder.get(start)
        while rung is not None and rung not in path:
            path.append(rung)
            rung = gm.ladder.get(rung)
        if rung is not None:
            cycle = path[path.index(rung) :] + [rung]
            key = frozenset(cycle)
            if key not in reported:
                reported.add(key)
                out.append(
                    Problem("ladder_cycle", f"the ladder cycles: {' -> '.join(cycle)}", "ladder")
                )
    return out


__all__ = ["Problem", "check_gridmap", "polygons_overlap"]


def _clauses(gm: GridMap) -> list[Problem]:
    """Clause ids of the matrix are unique (a return cites one) and every regulation a clause
    cites is listed under `regulations:`."""
    out: list[Problem] = []
    seen: dict[str, str] = {}
    for c in clauses(gm):
        where = f"responsibility {c.scope}.{c.category}"
        if c.id in seen:
            out.append(
                Problem(
                    "duplicate_clause",
                    f"clause id {c.id!r} names both {seen[c.id]} and {c.scope}.{c.category}",
                    where,
                )
            )
        seen.setdefault(c.id, f"{c.scope}.{c.category}")
        out.extend(
            Problem("unknown_regulation", f"clause {c.id!r} cites unknown regulation {r!r}", where)
            for r in c.cites
            if r not in gm.regulations
        )
    return out
