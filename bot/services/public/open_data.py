"""Open data: cases as CSV (the GeoReport Bulk columns plus grid), GeoJSON of grids and of
cases, numbers per grid and month, and a Frictionless `datapackage.json` describing them.

Everything about a case comes from `PublicCase` (bot/services/public_cases.py), read with a
server-side cursor: an export of a month or of all time holds one batch in memory, never the
month. Months are the deployment's (the grid map's time zone).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy import case as sql_case

from bot.bounds import parse_int
from bot.services.public.cases import (
    CLOSED_STATUSES,
    CaseQuery,
    PublicCase,
    stream_public_cases,
)
from bot.services.public.ratings import minimum_of, rating_cells
from bot.store.db import reading
from bot.store.models import Case

if TYPE_CHECKING:
    from bot.services.shared.domain import Domain

LICENCES = {
    "CC-BY-4.0": ("Creative Commons Attribution 4.0", "https://creativecommons.org/licenses/by/4.0/"),
    "ODbL-1.0": ("Open Data Commons Open Database License 1.0", "https://opendatacommons.org/licenses/odbl/1-0/"),
}  # fmt: skip

# name, Frictionless type, description. The first fourteen are the GeoReport Bulk columns.
CASE_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("service_request_id", "string", "The case's public id, e.g. GV-2026-000123."),
    ("requested_datetime", "datetime", "When the case was reported (ISO 8601 with offset)."),
    (
        "updated_datetime",
        "datetime",
        "When the case last changed in public (a status change or a public note; a resident's rating is not one).",
    ),
    (
        "closed_date",
        "datetime",
        "When it was resolved, declined or withdrawn; empty while open.",
    ),
    (
        "status_description",
        "string",
        "Public status: received, assigned, in_progress, waiting_for_information, escalated, reopened, resolved, rejected, cancelled.",
    ),
    (
        "status_notes",
        "string",
        "The public note staff published on what was done; empty when there is none. The note to the resident and a decline reason are never published.",
    ),
    ("source", "string", "How it came in: bot (the Telegram bot) or open311 (an outside client)."),
    ("service_name", "string", "The category's name."),
    ("service_subtype", "string", "Not used (always empty)."),
    (
        "description",
        "string",
        "A description staff approved for publication; empty unless the deployment publishes them. Residents' own words are never published.",
    ),
    (
        "agency_responsible",
        "string",
        "The organisation that has the case: the grid, the community, the street office or a party such as the property company. Never a person.",
    ),
    ("address", "string", "The grid and community: never a building, a door or a home address."),
    ("lat", "number", "Latitude (WGS84), rounded to about 100 m."),
    ("long", "number", "Longitude (WGS84), rounded to about 100 m."),
    ("service_code", "string", "The category id (services.json of the Open311 API)."),
    ("status", "string", "Open311 status: open or closed."),
    ("grid_id", "string", "The grid the case belongs to (see grids.geojson)."),
    ("grid_name", "string", "The grid's name."),
    ("community_id", "string", "The grid's community."),
    (
        "responsible_role",
        "string",
        "The rung that has the case: member, leader, centre, street or party.",
    ),
    ("expected_datetime", "datetime", "The published resolution deadline while the case is open."),
    (
        "first_response_datetime",
        "datetime",
        "When someone in charge first answered: accepted, asked, transferred, resolved, rejected or triaged it.",
    ),
    ("duplicates", "integer", "Residents with the same problem who joined this case."),
    ("reopen_count", "integer", "How often residents reopened it."),
)
MONTH_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("grid_id", "string", "The grid."),
    ("grid_name", "string", "The grid's name."),
    ("community_id", "string", "The grid's community."),
    (
        "month",
        "yearmonth",
        "The month the cases were reported in (YYYY-MM, the deployment's time zone).",
    ),
    ("reported", "integer", "Cases reported in the month."),
    ("open", "integer", "Of those, still open now."),
    ("resolved", "integer", "Of those, resolved or closed after resolution."),
    ("rejected", "integer", "Of those, rejected with a reason."),
    ("cancelled", "integer", "Of those, cancelled by the resident."),
    (
        "responded",
        "integer",
        "Of those, answered by someone in charge (see first_response_datetime).",
    ),
    ("responded_on_time", "integer", "Of those, answered before the published accept deadline."),
    ("resolved_on_time", "integer", "Of those, resolved before the published deadline."),
    ("reopened", "integer", "Of those, reopened at least once by the resident."),
    ("escalated", "integer", "Of those, escalated at least once for a missed deadline."),
    (
        "rated",
        "integer",
        "Ratings of the grid's cases resolved in this month and closed since (not of the cases reported in it); empty until the month is over and all of them are closed, and empty below the minimum count of ratings (at least 5).",
    ),
    ("average_rating", "number", "The average of those ratings (1-5); empty when rated is."),
)


def _w3(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).isoformat(timespec="seconds") if value else ""


def case_row(case: PublicCase, lang: str, tz: ZoneInfo) -> list[Any]:
    """One case in `CASE_FIELDS` order."""
    return [
        case.human_id,
        _w3(case.requested_at, tz),
        _w3(case.updated_at, tz),
        _w3(case.closed_at or (case.resolved_at if not case.is_open else None), tz),
        case.status,
        case.status_notes or "",
        case.source,
        case.service_name.get(lang),
        "",
        case.description or "",
        case.responsible_name.get(lang),
        case.place(lang),
        "" if case.lat is None else case.lat,
        "" if case.long is None else case.long,
        case.service_code,
        case.open311_status,
        case.grid_id,
        case.grid_name.get(lang),
        case.community_id or "",
        case.responsible_role,
        _w3(case.expected_at, tz),
        _w3(case.first_response_at, tz),
        case.duplicates,
        case.reopen_count,
    ]


def _csv_line(row: Iterable[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(row)
    return buffer.getvalue()


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """'2026-11' -> the first and the last instant of that month in the deployment's zone."""
    year, mon = (int(p) for p in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=tz)
    nxt = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=tz)
    return start, nxt - timedelta(microseconds=1)


def parse_month(value: str) -> str | None:
    """A YYYY-MM month between 2000 and 2999, normalised; None when it is not one."""
    parts = value.split("-")
    if len(parts) != 2 or len(parts[0]) != 4 or len(parts[1]) != 2:
        return None
    year, mon = parse_int(parts[0], low=2000, high=2999), parse_int(parts[1], low=1, high=12)
    if year is None or mon is None:
        return None
    return f"{year:04d}-{mon:02d}"


async def cases_csv(
    domain: Domain, *, month: str | None = None, lang: str | None = None
) -> AsyncIterator[str]:
    """The cases (of one month, or all), header first, a line at a time, streamed."""
    lang = lang or domain.settings.default_language
    tz = domain.routing.gridmap.tz
    yield _csv_line(name for name, _, _ in CASE_FIELDS)
    async for case in stream_public_cases(domain, _month_query(month, tz)):
        yield _csv_line(case_row(case, lang, tz))


def _month_query(month: str | None, tz: ZoneInfo) -> CaseQuery:
    if month is None:
        return CaseQuery()
    start, end = month_bounds(month, tz)
    return CaseQuery(requested_from=start, requested_to=end)


async def cases_geojson(
    domain: Domain, *, month: str | None = None, lang: str | None = None
) -> AsyncIterator[str]:
    """A FeatureCollection of cases at their coarsened points, streamed feature by feature."""
    lang = lang or domain.settings.default_language
    tz = domain.routing.gridmap.tz
    yield '{"type":"FeatureCollection","features":['
    first = True
    async for case in stream_public_cases(domain, _month_query(month, tz)):
        names = [name for name, _, _ in CASE_FIELDS]
        properties = dict(zip(names, case_row(case, lang, tz), strict=True))
        properties = {k: v for k, v in properties.items() if k not in ("lat", "long")}
        geometry = (
            {"type": "Point", "coordinates": [case.long, case.lat]}
            if case.lat is not None and case.long is not None
            else None
        )
        feature = {"type": "Feature", "geometry": geometry, "properties": properties}
        yield ("" if first else ",") + json.dumps(feature, ensure_ascii=False)
        first = False
    yield "]}"


def grids_geojson(domain: Domain) -> dict[str, Any]:
    """The grids of the map in force as polygons (GeoJSON: [longitude, latitude], closed)."""
    gm = domain.routing.gridmap
    features = []
    for grid in gm.grids.values():
        geometry = None
        if grid.polygon:
            ring = [[lon, lat] for lat, lon in grid.polygon]
            if ring[0] != ring[-1]:
                ring.append(ring[0])
            geometry = {"type": "Polygon", "coordinates": [ring]}
        community = gm.communities.get(grid.community_id)
        features.append(
            {
                "type": "Feature",
                "id": grid.id,
                "geometry": geometry,
                "properties": {
                    "grid_id": grid.id,
                    "name_en": grid.name.en,
                    "name_zh": grid.name.zh,
                    "scope_en": grid.scope.en,
                    "scope_zh": grid.scope.zh,
                    "community_id": grid.community_id,
                    "community_name_en": community.name.en if community else "",
                    "community_name_zh": community.name.zh if community else "",
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _month_expr(domain: Domain) -> Any:
    """The reporting month in the deployment's zone, as SQL, on either backend."""
    tz = domain.routing.gridmap.tz
    if domain.sqlite:
        # SQLite stores naive UTC; shift by the zone's offset now (zones without DST are exact).
        offset = datetime.now(tz).utcoffset() or timedelta(0)
        return func.strftime("%Y-%m", Case.created_at, f"{int(offset.total_seconds())} seconds")
    return func.to_char(func.timezone(str(tz), Case.created_at), "YYYY-MM")


async def grid_months(domain: Domain) -> list[list[Any]]:
    """Per grid and month: counts of the cases reported in it, computed in the database (one
    GROUP BY), and the published ratings of the cases resolved in it (`ratings.rating_cells`:
    a month's ratings appear once it is over, all of them final, at least 5 of them)."""
    month = _month_expr(domain).label("month")

    def count(cond: Any) -> Any:
        return func.sum(sql_case((cond, 1), else_=0))

    stmt = (
        select(
            Case.grid_id,
            month,
            func.count(),
            count(Case.status.not_in(list(CLOSED_STATUSES))),
            count(Case.status.in_(["resolved", "closed"]) & Case.resolved_at.is_not(None)),
            count(Case.status == "rejected"),
            count(Case.status == "cancelled"),
            count(Case.first_response_at.is_not(None)),
            count(
                and_(Case.first_response_at.is_not(None), Case.first_response_at <= Case.accept_by)
            ),
            count(and_(Case.resolved_at.is_not(None), Case.resolved_at <= Case.resolve_by)),
            count(Case.reopen_count > 0),
            count(Case.escalation_count > 0),
        )
        .where(Case.human_id.is_not(None))
        .group_by(Case.grid_id, month)
        .order_by(Case.grid_id, month)
    )
    gm = domain.routing.gridmap
    async with reading(domain.engine) as conn:
        result = (await conn.execute(stmt)).all()
        cells = await rating_cells(
            conn,
            now=domain.clock.now(),
            tz=gm.tz,
            sqlite=domain.sqlite,
            minimum=minimum_of(domain.settings),
        )
    counted = {(grid_id, mon): [int(n or 0) for n in numbers] for grid_id, mon, *numbers in result}
    rated = {(c.grid_id, c.month): c for c in cells}
    rows = []
    for grid_id, mon in sorted(set(counted) | set(rated)):
        grid = gm.grids.get(grid_id)
        cell = rated.get((grid_id, mon))
        rows.append(
            [
                grid_id,
                grid.name.get(domain.settings.default_language) if grid else grid_id,
                grid.community_id if grid else "",
                mon,
                *counted.get((grid_id, mon), [0] * (len(MONTH_FIELDS) - 6)),
                cell.rated if cell else "",
                round(cell.average, 2) if cell else "",
            ]
        )
    return rows


async def grid_months_csv(domain: Domain) -> AsyncIterator[str]:
    yield _csv_line(name for name, _, _ in MONTH_FIELDS)
    for row in await grid_months(domain):
        yield _csv_line(row)


def _schema(fields: tuple[tuple[str, str, str], ...], key: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "fields": [{"name": n, "type": t, "description": d} for n, t, d in fields],
        "missingValues": [""],
    }
    if key:
        schema["primaryKey"] = key
    return schema


def datapackage(domain: Domain, cases_path: str = "cases.csv") -> dict[str, Any]:
    """The Frictionless Data Package describing every published file and field, and the licence."""
    licence = domain.settings.open_data_licence
    title, url = LICENCES.get(licence, (licence, ""))
    return {
        "name": "gridvoice-cases",
        "title": "gridvoice: residents' reports to their grids and how they were handled",
        "description": (
            "Every case residents reported through gridvoice, without personal data: no names, "
            "no Telegram ids, no phone numbers, no home addresses, no residents' own words; "
            "places are the grid and a point rounded to about 100 m."
        ),
        "licenses": [{"name": licence, "title": title, "path": url}],
        "resources": [
            {
                "name": "cases",
                "path": cases_path,
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "description": "Cases in the GeoReport Bulk columns, plus the grid. cases-YYYY-MM.csv holds one month in the same columns.",
                "schema": _schema(CASE_FIELDS, "service_request_id"),
            },
            {
                "name": "grid-months",
                "path": "grid-months.csv",
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "description": "Numbers per grid and month of reporting.",
                "schema": _schema(MONTH_FIELDS),
            },
            {
                "name": "grids",
                "path": "grids.geojson",
                "format": "geojson",
                "mediatype": "application/geo+json",
                "description": "The grids as polygons: grid_id, names and scope in English and Chinese, community.",
            },
            {
                "name": "cases-map",
                "path": "cases.geojson",
                "format": "geojson",
                "mediatype": "application/geo+json",
                "description": "The cases as points rounded to about 100 m, with the columns of cases.csv as properties.",
            },
        ],
    }
