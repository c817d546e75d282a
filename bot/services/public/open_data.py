"""Open data: cases as CSV (the GeoReport Bulk columns plus grid), GeoJSON of grids and of
cases, numbers per grid and month, and a Frictionless `datapackage.json` describing them.

Everything about a case comes from `PublicCase` (bot/services/public_cases.py), read with a
server-side cursor: an export of a month or of all time holds one batch in memory, never the
month. Months are the deployment's (the grid map's time zone).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy import case as sql_case

from bot.bounds import parse_int
from bot.services.participation.proposals import answer_state
from bot.services.public.cases import (
    CLOSED_STATUSES,
    CaseQuery,
    PublicCase,
    stream_public_cases,
)
from bot.services.public.ratings import minimum_of, rating_cells
from bot.services.shared.csvfile import BOM, csv_line
from bot.store.db import reading
from bot.store.models import Case, Proposal

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
    (
        "source",
        "string",
        "How it came in: bot (a resident through the Telegram bot), open311 (an outside client), "
        "staff_patrol (found by grid staff on patrol), assisted (filed by staff for a resident "
        "without Telegram), link (handed to us by another centre or department), hotline (a "
        "12345 hotline's order) or proposal (a work item from a resident's accepted proposal).",
    ),
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
        "due",
        "integer",
        "Of those, due to be resolved: resolved, past the published deadline (not while on hold), or escalated.",
    ),
    (
        "deferred",
        "integer",
        "Of the due, those with an approved hold or extension of the deadline.",
    ),
    (
        "official_on_time",
        "integer",
        "Of the due and not deferred, resolved by the deadline without escalation. The official on-time rate is official_on_time / (due - deferred).",
    ),
    (
        "found_by_staff",
        "integer",
        "Of those, found by grid staff on patrol (the rest were reported by residents); found_by_staff / reported is the share found by staff.",
    ),
    (
        "filed_for_residents",
        "integer",
        "Of those, filed by staff for a resident without Telegram (a phone call, a walk-in); counted as reported by residents.",
    ),
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
    yield BOM + csv_line(name for name, _, _ in CASE_FIELDS)
    async for case in stream_public_cases(domain, _month_query(month, tz)):
        yield csv_line(case_row(case, lang, tz))


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

    # Due and on time as the dashboard counts them (bot/services/public/dashboard_queries.py).
    resolved = Case.resolved_at.is_not(None)
    passed = and_(Case.resolve_by < domain.clock.now(), Case.held_since.is_(None))
    due = and_(Case.resolve_by.is_not(None), resolved | passed | (Case.escalation_count > 0))
    on_time = and_(resolved, Case.resolved_at <= Case.resolve_by, Case.escalation_count == 0)

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
            count(due),
            count(and_(due, Case.deferrals > 0)),
            count(and_(on_time, Case.deferrals == 0)),
            count(Case.source == "staff_patrol"),
            count(Case.source == "assisted"),
        )
        .where(Case.human_id.is_not(None))
        .group_by(Case.grid_id, month)
        .order_by(Case.grid_id, month)
    )
    gm = domain.routing.gridmap
    lang = domain.settings.default_language
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
    seen = set(counted) | set(rated)
    months = month_range(min((m for _, m in seen), default=None), current_month(domain))
    # Every grid of the map in every month covered, so "no cases" reads 0, never a missing row;
    # grids of an earlier map that still have cases follow, by id.
    grid_ids = list(gm.grids) + sorted({g for g, _ in seen} - set(gm.grids))
    zeros = [0] * (len(MONTH_FIELDS) - 6)
    rows = []
    for grid_id in grid_ids:
        grid = gm.grids.get(grid_id)
        for mon in months:
            cell = rated.get((grid_id, mon))
            rows.append(
                [
                    grid_id,
                    grid.name.get(lang) if grid else grid_id,
                    grid.community_id if grid else "",
                    mon,
                    *counted.get((grid_id, mon), zeros),
                    cell.rated if cell else "",
                    round(cell.average, 2) if cell else "",
                ]
            )
    return rows


def current_month(domain: Domain) -> str:
    """This month in the deployment's time zone, YYYY-MM."""
    return domain.clock.now().astimezone(domain.routing.gridmap.tz).strftime("%Y-%m")


def month_range(first: str | None, last: str) -> list[str]:
    """Every month from `first` to `last` (YYYY-MM, both included); none when `first` is None."""
    if first is None or first > last:
        return [] if first is None else [first]
    year, mon = (int(p) for p in first.split("-"))
    out = []
    while f"{year:04d}-{mon:02d}" <= last:
        out.append(f"{year:04d}-{mon:02d}")
        year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
    return out


async def months_published(domain: Domain) -> list[str]:
    """The months /data/cases-YYYY-MM.csv covers: from the first case's month to this one."""
    tz = domain.routing.gridmap.tz
    stmt = select(func.min(Case.created_at)).where(Case.human_id.is_not(None))
    async with reading(domain.engine) as conn:
        first = (await conn.execute(stmt)).scalar()
    if first is None:
        return []
    if first.tzinfo is None:  # SQLite hands back naive UTC
        first = first.replace(tzinfo=UTC)
    return month_range(first.astimezone(tz).strftime("%Y-%m"), current_month(domain))


async def grid_months_csv(domain: Domain) -> AsyncIterator[str]:
    yield BOM + csv_line(name for name, _, _ in MONTH_FIELDS)
    for row in await grid_months(domain):
        yield csv_line(row)


# Residents' proposals, Open311-style: one row each, with how the committee answered it.
PROPOSAL_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("proposal_id", "integer", "The proposal's number (its page is /proposals/<number>)."),
    ("community", "string", "The community it was proposed in."),
    ("grid", "string", "The grid of the resident who proposed it (never the resident)."),
    ("requested_datetime", "datetime", "When it was published."),
    ("title", "string", "Its title, as published by its author; empty when hidden."),
    (
        "status_description",
        "string",
        "open (collecting supports), reached (its threshold), accepted, declined, merged, expired.",
    ),
    ("supports", "integer", "Supports counted (one per verified resident, kept after /forget)."),
    ("threshold", "integer", "Supports it needed (the community's share with a floor)."),
    ("reached_datetime", "datetime", "When it reached its threshold; empty if it has not."),
    ("answer_due_datetime", "datetime", "When the committee's answer was due."),
    ("answered_datetime", "datetime", "When the committee answered; empty if it has not."),
    (
        "answer_timeliness",
        "string",
        "on_time, late, unanswered (past the deadline), waiting (within it), or empty (never reached).",
    ),
    ("answer_reason", "string", "The committee's public reason (a decline); empty otherwise."),
    ("merged_into", "integer", "The proposal it was merged into."),
    ("hidden", "boolean", "Hidden by the committee (the reason is on its page)."),
)
PROPOSAL_FIELDS_ZH: dict[str, str] = {
    "proposal_id": "建议编号（页面为 /proposals/<编号>）。",
    "community": "提出建议的社区。",
    "grid": "提出建议的居民所在网格（不含居民本人）。",
    "requested_datetime": "发布时间。",
    "title": "作者发布的标题；被隐藏的为空。",
    "status_description": "open（征集支持）、reached（达到门槛）、accepted、declined、merged、expired。",
    "supports": "支持数（每位已核实居民一次，/forget 后仍计入）。",
    "threshold": "所需支持数（社区比例，设有下限）。",
    "reached_datetime": "达到门槛的时间；未达到为空。",
    "answer_due_datetime": "委员会答复期限。",
    "answered_datetime": "委员会答复时间；未答复为空。",
    "answer_timeliness": "on_time（按时）、late（逾期）、unanswered（逾期未答复）、waiting（期限内）或空（未达到门槛）。",
    "answer_reason": "委员会公开的理由（不采纳时）；其他为空。",
    "merged_into": "被合并到的建议编号。",
    "hidden": "是否被委员会隐藏（理由见其页面）。",
}


async def proposals_csv(domain: Domain) -> AsyncIterator[str]:
    tz = domain.renderer.tz
    now = domain.clock.now()
    yield BOM + csv_line(name for name, _, _ in PROPOSAL_FIELDS)
    async with domain.sessions() as session:
        rows = (await session.execute(select(Proposal).order_by(Proposal.id))).scalars().all()
    for p in rows:
        hidden = p.hidden_at is not None
        yield csv_line(
            [
                p.id,
                p.community_id,
                p.grid_id,
                _w3(p.created_at, tz),
                "" if hidden else p.title,
                p.status,
                p.supports,
                p.threshold,
                _w3(p.reached_at, tz),
                _w3(p.answer_due, tz),
                _w3(p.answered_at, tz),
                answer_state(p, now) or "",
                p.answer_reason or "",
                p.merged_into or "",
                "true" if hidden else "false",
            ]
        )


def _schema(fields: tuple[tuple[str, str, str], ...], key: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "fields": [{"name": n, "type": t, "description": d} for n, t, d in fields],
        "missingValues": [""],
    }
    if key:
        schema["primaryKey"] = key
    return schema


# The Chinese descriptions of the same fields, by name (the index page /data/ in Chinese).
CASE_FIELDS_ZH: dict[str, str] = {
    "service_request_id": "诉求的公开编号，如 GV-2026-000123。",
    "requested_datetime": "反映时间（ISO 8601，带时区偏移）。",
    "updated_datetime": "最近一次变化的时间。",
    "closed_date": "办结、不予受理、撤回或结案的时间；未办结时为空。",
    "status_description": "公开状态：received、assigned、in_progress、waiting_for_information、escalated、reopened、resolved、closed、rejected、cancelled。",
    "status_notes": "工作人员办结时写的说明，或不予受理的理由。",
    "source": "来源：bot（居民通过 Telegram 机器人）、open311（外部系统）、staff_patrol（网格工作人员巡查发现）、assisted（工作人员代没有 Telegram 的居民登记）、link（其他中心或部门交办）、hotline（12345 热线派单）或 proposal（居民建议被采纳后的工作事项）。",
    "service_name": "分类名称。",
    "service_subtype": "未使用（始终为空）。",
    "description": "经工作人员审核、准予公开的描述；部署未开启公开时为空。居民的原话从不公开。",
    "agency_responsible": "负责的机构：网格、社区、街道办事处或物业公司等责任单位，从不是个人。",
    "address": "网格和社区：从不包含楼栋、门牌或住址。",
    "lat": "纬度（WGS84），取整到约 100 米。",
    "long": "经度（WGS84），取整到约 100 米。",
    "service_code": "分类编号（见 Open311 接口的 services.json）。",
    "status": "Open311 状态：open（未办结）或 closed（已结束）。",
    "grid_id": "诉求所属网格（见 grids.geojson）。",
    "grid_name": "网格名称。",
    "community_id": "网格所属社区。",
    "responsible_role": "当前负责的层级：member（网格员）、leader（网格长）、centre（社区中心）、street（街道）或 party（责任单位）。",
    "expected_datetime": "未办结时公布的办结期限。",
    "first_response_datetime": "负责方首次处理的时间：受理、询问、转办、办结、不予受理或分类。",
    "duplicates": "反映同一问题并加入本诉求的其他居民人数。",
    "reopen_count": "居民重新打开的次数。",
}  # fmt: skip
MONTH_FIELDS_ZH: dict[str, str] = {
    "grid_id": "网格。",
    "grid_name": "网格名称。",
    "community_id": "网格所属社区。",
    "month": "诉求反映的月份（YYYY-MM，部署所在时区）。",
    "reported": "当月反映的诉求数。",
    "open": "其中目前仍未办结的。",
    "resolved": "其中已办结（或办结后结案）的。",
    "rejected": "其中不予受理（附理由）的。",
    "cancelled": "其中居民撤回的。",
    "responded": "其中负责方已处理的（见 first_response_datetime）。",
    "responded_on_time": "其中在公布的受理期限前处理的。",
    "resolved_on_time": "其中在公布的期限前办结的。",
    "reopened": "其中被居民重新打开过的。",
    "escalated": "其中因超期被升级过的。",
    "due": "其中应结案的：已办结、已过公布的期限（挂起期间不算）或已被升级的。",
    "deferred": "应结案中经批准挂起或延期的（缓办数）。",
    "official_on_time": "应结案且未缓办的诉求中，在期限内办结且未被升级的（按期结案数）。官方口径的按期结案率 = official_on_time ÷（due − deferred）。",
    "found_by_staff": "其中网格工作人员巡查主动发现的（其余为居民反映）；found_by_staff ÷ reported 即主动发现率。",
    "filed_for_residents": "其中工作人员代没有 Telegram 的居民（电话、上门）登记的；计为居民反映。",
    "rated": "本网格在该月办结、此后已结案的案件所得评价数（不是该月上报的案件）；该月结束且全部结案之前为空，评价少于最低数（至少 5 个）时也为空。",
    "average_rating": "这些评价的平均分（1-5）；rated 为空时为空。",
}  # fmt: skip
GRID_FIELDS: tuple[tuple[str, str, str, str], ...] = (
    ("grid_id", "string", "The grid's id (grid_id in the other files).", "网格编号（即其他文件中的 grid_id）。"),
    ("name_en", "string", "The grid's name in English.", "网格的英文名称。"),
    ("name_zh", "string", "The grid's name in Chinese.", "网格的中文名称。"),
    ("scope_en", "string", "What the grid covers, in English.", "网格的服务范围（英文）。"),
    ("scope_zh", "string", "What the grid covers, in Chinese.", "网格的服务范围（中文）。"),
    ("community_id", "string", "The grid's community.", "网格所属社区。"),
    ("community_name_en", "string", "The community's name in English.", "社区的英文名称。"),
    ("community_name_zh", "string", "The community's name in Chinese.", "社区的中文名称。"),
)  # fmt: skip


@dataclass(frozen=True)
class Resource:
    """A published file: what datapackage.json says of it and what /data/ shows."""

    name: str
    path: str
    format: str
    mediatype: str
    en: str
    zh: str
    fields: tuple[tuple[str, str, str], ...] = ()
    fields_zh: Mapping[str, str] = field(default_factory=dict)
    key: str | None = None

    @property
    def tabular(self) -> bool:
        return self.format == "csv"

    def description(self, lang: str) -> str:
        return self.zh if lang.startswith("zh") else self.en

    def field_rows(self, lang: str) -> list[tuple[str, str, str]]:
        """(name, type, description in `lang`) for each field or property."""
        zh = lang.startswith("zh")
        return [(n, t, self.fields_zh.get(n, d) if zh else d) for n, t, d in self.fields]


RESOURCES: tuple[Resource, ...] = (
    Resource(
        "cases", "cases.csv", "csv", "text/csv",
        "Cases in the GeoReport Bulk columns, plus the grid. cases-YYYY-MM.csv holds one month in the same columns.",
        "诉求，按 GeoReport Bulk 的列，另加网格。cases-YYYY-MM.csv 是某一个月的诉求，列相同。",
        CASE_FIELDS, CASE_FIELDS_ZH, "service_request_id",
    ),
    Resource(
        "grid-months", "grid-months.csv", "csv", "text/csv",
        "Numbers per grid and month of reporting: every grid of the map in every month from the first case to this month (0 where a grid had no cases).",
        "各网格按反映月份的统计：地图上每个网格、从第一件诉求到本月的每个月都有一行（没有诉求的为 0）。",
        MONTH_FIELDS, MONTH_FIELDS_ZH,
    ),
    Resource(
        "proposals", "proposals.csv", "csv", "text/csv",
        "Residents' proposals: supports, threshold, and whether the committee answered on time, late or not at all. No author, supporter or point writer.",
        "居民建议：支持数、门槛，以及委员会是否按时、逾期答复或未答复。不含作者、支持者和观点作者。",
        PROPOSAL_FIELDS, PROPOSAL_FIELDS_ZH, "proposal_id",
    ),
    Resource(
        "grids", "grids.geojson", "geojson", "application/geo+json",
        "The grids as polygons ([longitude, latitude], WGS84) with these properties.",
        "各网格的边界多边形（[经度, 纬度]，WGS84），属性如下。",
        tuple((n, t, en) for n, t, en, _ in GRID_FIELDS), {n: zh for n, _, _, zh in GRID_FIELDS},
    ),
    Resource(
        "cases-map", "cases.geojson", "geojson", "application/geo+json",
        "The cases as points rounded to about 100 m, with the columns of cases.csv (except lat and long) as properties.",
        "诉求的位置点（取整到约 100 米），属性为 cases.csv 的各列（lat、long 除外）。",
    ),
)  # fmt: skip


def datapackage(domain: Domain, cases_path: str = "cases.csv") -> dict[str, Any]:
    """The Frictionless Data Package describing every published file and field, and the licence."""
    licence = domain.settings.open_data_licence
    title, url = LICENCES.get(licence, (licence, ""))
    resources = []
    for r in RESOURCES:
        entry: dict[str, Any] = {
            "name": r.name,
            "path": cases_path if r.name == "cases" else r.path,
        }
        if r.tabular:
            entry["profile"] = "tabular-data-resource"
        entry |= {"format": r.format, "mediatype": r.mediatype}
        if r.tabular:
            entry["encoding"] = "utf-8"
        entry["description"] = r.en
        if r.tabular:
            entry["schema"] = _schema(r.fields, r.key)
        resources.append(entry)
    return {
        "name": "gridvoice-cases",
        "title": "gridvoice: residents' reports to their grids and how they were handled",
        "description": (
            "Every case residents reported through gridvoice, without personal data: no names, "
            "no Telegram ids, no phone numbers, no home addresses, no residents' own words; "
            "places are the grid and a point rounded to about 100 m."
        ),
        "licenses": [{"name": licence, "title": title, "path": url}],
        "resources": resources,
    }
