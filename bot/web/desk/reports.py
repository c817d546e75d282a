"""Assessment at the desk: per member and per party for a month, consultations' turnout, CSV.

The numbers are the chat's /stats assessment (bot/services/cases/queues.py), for a calendar month in
the grid map's time zone, limited to the reader's scope.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.bounds import parse_int
from bot.services.cases import queries as case_queries
from bot.services.cases import queues
from bot.services.participation import consultations
from bot.services.people import policy
from bot.services.people.policy import Capability
from bot.services.shared.csvfile import csv_bytes
from bot.web.desk.session import ActionRefused, Desk, desk_view, person_name, render

MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


def setup(app: web.Application) -> None:
    app.router.add_get("/desk/reports", reports_page, name="desk_reports")
    app.router.add_get("/desk/reports.csv", reports_csv, name="desk_reports_csv")


def _month(desk: Desk, asked: str) -> tuple[str, datetime, datetime]:
    tz = desk.uow.routing.gridmap.tz
    match = MONTH.fullmatch(asked or "")
    year = parse_int(match.group(1), low=1970, high=9998) if match else None
    month = parse_int(match.group(2), low=1, high=12) if match else None
    if year is None or month is None:  # none asked, or not a month we can count: this one
        local = desk.uow.now.astimezone(tz)
        year, month = local.year, local.month
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    return f"{year:04d}-{month:02d}", start, end


async def _report(request: web.Request, desk: Desk) -> dict[str, Any]:
    if not policy.role_may(desk.me.staff.role, Capability.REPORTS):
        raise ActionRefused("desk_reports_refused", 403)
    month, start, end = _month(desk, request.query.get("month", ""))
    uow = desk.uow
    return {
        "month": month,
        "members": await queues.assessment(uow, desk.user_id, since=start, until=end),
        "parties": await case_queries.party_assessment(uow, desk.user_id, start, end),
        "helpers": await queues.task_assessment(uow, desk.user_id, since=start, until=end),
        "handoffs": await queues.handoff_assessment(uow, desk.user_id, since=start, until=end),
    }


@desk_view
async def reports_page(request: web.Request, desk: Desk) -> web.Response:
    data = await _report(request, desk)
    uow = desk.uow
    polls = []
    for c in await consultations.recent(uow, limit=10):
        results = c.results if c.status == consultations.ConsultStatus.CLOSED else None
        polls.append({"c": c, "results": results})
    return render(
        request,
        "desk/reports",
        me=desk.me,
        polls=polls,
        grid_names=consultations.grid_names(uow, desk.lang),
        **data,
    )


@desk_view
async def reports_csv(request: web.Request, desk: Desk) -> web.Response:
    data = await _report(request, desk)
    rows: list[list[object]] = [
        ["month", "kind", "id", "name", "cases", "weighted_score", "within_deadline",
         "reopen_rate", "avg_rating", "official_within_deadline", "deferred", "held",
         "supervised", "supervision_missed", "verified", "rework",
         "returns", "returns_overruled", "dispute_hours", "owners_per_case"]
    ]  # fmt: skip
    gridmap = desk.uow.routing.gridmap
    for r in data["members"]:
        name = person_name(gridmap, r["id"], r["name"], desk.lang)
        rows.append(
            [data["month"], "member", r["id"], name, r["cases"], r["score"],
             _num(r["within_deadline"]), _num(r["reopen_rate"]), _num(r["avg_rating"]),
             _num(r["official_within_deadline"]), r["deferred"], r["held"],
             r["supervised"], r["supervision_missed"], r["verified"], r["rework"],
             r["returns"], r["overruled"], _num(r["dispute_hours"]), _num(r["owners_per_case"])]
        )  # fmt: skip
    for r in data["parties"]:
        name = r["party"].name.get(desk.lang) if r["party"] else r["id"]
        rows.append(
            [data["month"], "party", r["id"], name, r["cases"], r["weighted"],
             _num(r["within_deadline"]), _num(r["reopen_rate"]), _num(r["avg_rating"]),
             "", "", "", "", "", "", "",
             r["returns"], r["overruled"], _num(r["dispute_hours"]), _num(r["owners_per_case"])]
        )  # fmt: skip
    # Joint handling and summons (吹哨报到): each co-handler's row, its figures in columns of
    # their own after the others.
    blank = [""] * (len(rows[0]) - 4)
    rows[0] += list(queues.TASK_FIGURES)
    for r in data["helpers"]:
        rows.append(
            [data["month"], f"helper_{r['kind']}", r["id"], r["name"].get(desk.lang), *blank]
            + [r[k] for k in queues.TASK_FIGURES]
        )
    return web.Response(
        body=csv_bytes(rows),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="gridvoice-{data["month"]}.csv"',
            "Cache-Control": "no-store",
        },
    )


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"
