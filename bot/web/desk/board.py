"""The board: open cases in the person's scope, filters, column counts, the grid map, the
triage queue and bulk reassignment (each case authorised like a chat button)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from bot.bounds import MAX_TELEGRAM_ID, clean_text, parse_id, parse_int
from bot.services.cases import duty, onetap, queues
from bot.services.cases import lifecycle as cases
from bot.services.cases import queries as case_queries
from bot.services.cases.queries import COLUMNS, BoardFilter
from bot.services.people import access
from bot.web.desk.session import ActionRefused, Desk, desk_view, render
from routing.gridmap import GridMap

MAP_WIDTH, MAP_HEIGHT, MAP_PAD = 420.0, 300.0, 12.0
# Where a form may send the person back to: a page of the desk, in URL characters only (no
# scheme, no host, no `//`, no backslash, no line breaks that would split the header).
BACK = re.compile(r"/desk/(?!/)[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]{0,1000}")


def setup(app: web.Application) -> None:
    app.router.add_get("/desk/", board_page, name="desk_board")
    app.router.add_get("/desk", to_board)
    app.router.add_post("/desk/reassign", bulk_reassign, name="desk_reassign")
    app.router.add_post("/desk/triage", triage_category, name="desk_triage")


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


async def to_board(request: web.Request) -> web.Response:
    return _redirect("/desk/")


def grid_shapes(
    gridmap: GridMap, counts: dict[str, int], lang: str, only: frozenset[str] | None = None
) -> tuple[list[dict[str, Any]], tuple[float, float]]:
    """Each grid's polygon (of `only` these grids) scaled into the map's box, with its open
    cases (for the SVG), and the box's size (as wide as the side column, as tall as needed)."""
    polys = {
        g.id: g.polygon
        for g in gridmap.grids.values()
        if g.polygon and (only is None or g.id in only)
    }
    if not polys:
        return [], (MAP_WIDTH, 0.0)
    lats = [p[0] for poly in polys.values() for p in poly]
    lons = [p[1] for poly in polys.values() for p in poly]
    span_x = (max(lons) - min(lons)) or 1.0
    span_y = (max(lats) - min(lats)) or 1.0
    scale = min((MAP_WIDTH - 2 * MAP_PAD) / span_x, (MAP_HEIGHT - 2 * MAP_PAD) / span_y)
    top = max(counts.values(), default=0) or 1
    shapes = []
    for gid, poly in polys.items():
        points = [
            (MAP_PAD + (lon - min(lons)) * scale, MAP_PAD + (max(lats) - lat) * scale)
            for lat, lon in poly
        ]
        n = counts.get(gid, 0)
        shapes.append(
            {
                "id": gid,
                "name": gridmap.grids[gid].name.get(lang),
                "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in points),
                "cx": sum(x for x, _ in points) / len(points),
                "cy": sum(y for _, y in points) / len(points),
                "count": n,
                "heat": round(0.12 + 0.6 * n / top, 2) if n else 0.05,
            }
        )
    return shapes, (MAP_WIDTH, 2 * MAP_PAD + span_y * scale)


@desk_view
async def board_page(request: web.Request, desk: Desk) -> web.Response:
    uow = desk.uow
    f = BoardFilter.from_query(request.query)
    result = await case_queries.board(uow, desk.user_id, f)
    gridmap = uow.routing.gridmap
    grids = access.scope_grids(uow, desk.user_id)
    visible = [g for g in gridmap.grids.values() if grids is None or g.id in grids]
    shapes, map_size = grid_shapes(gridmap, result.grids, desk.lang, grids)
    triage = await queues.triage_queue(uow, desk.user_id)
    return render(
        request,
        "desk/board",
        me=desk.me,
        board=result,
        filters=f,
        columns=COLUMNS,
        grids=visible,
        gridmap=gridmap,
        categories=gridmap.categories,
        assignable=access.assignable_staff(uow, desk.user_id),
        parties=list(gridmap.parties.values()),
        shapes=shapes,
        map_size=map_size,
        triage=triage,
        returned=await duty.waiting_among(uow, [row.case.id for row in result.rows]),
        suggested={c.id: onetap.top_categories(uow, c.text) for c in triage},
        now=uow.now,
        done=request.query.get("done", "")[:32],
    )


@desk_view
async def bulk_reassign(request: web.Request, desk: Desk) -> web.Response:
    """Hand the ticked cases to one member: a transfer per case, each authorised, all or none."""
    form = desk.form
    target = parse_id(str(form.get("target", "")), high=MAX_TELEGRAM_ID)
    reason = clean_text(str(form.get("reason", ""))).strip()[: desk.uow.settings.max_text_length]
    chosen = [str(v) for v in form.getall("case", [])][:100]
    back = back_to(str(form.get("back", "")))
    if target is None or not chosen or not reason:
        raise ActionRefused("desk_reassign_incomplete", 400)
    for human_id in chosen:
        case = await case_queries.find_in_scope(desk.uow, desk.user_id, human_id)
        if case is None:
            raise ActionRefused("not_allowed", 403)
        case = await access.authorise(desk.uow, desk.user_id, case.id, None)
        await cases.reassign_to(desk.uow, desk.user_id, case, target, reason)
    return _redirect(back + _sep(back) + "done=reassigned")


def back_to(asked: str) -> str:
    """The page a form returns to: the one it names when that is a desk page, else the board."""
    return asked if BACK.fullmatch(asked) else "/desk/"


@desk_view
async def triage_category(request: web.Request, desk: Desk) -> web.Response:
    """Place a case the classifier could not: the same call as the card's category buttons."""
    form = desk.form
    case = await case_queries.find_in_scope(desk.uow, desk.user_id, str(form.get("case", "")))
    if case is None:
        raise ActionRefused("not_allowed", 403)
    version = parse_int(str(form.get("version", "")))
    case = await access.authorise(
        desk.uow, desk.user_id, case.id, version if version is not None else -1
    )
    await cases.triage_set_category(desk.uow, desk.user_id, case, str(form.get("category", "")))
    return _redirect("/desk/?done=triaged")


def _sep(url: str) -> str:
    return "&" if "?" in url else "?"
