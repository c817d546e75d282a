"""The public dashboard: the front page (`/`: the community's page, or each community's line
when the map has several), a community's page, the grid list, a grid's page, and what the
numbers mean. Figures are never added up across communities.

Thin views: check the path, ask the read model (`bot.services.public.dashboard`) and the one public
projection of cases (`bot.services.public.cases`), draw the pictures (`bot.web.drawing`), render.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from bot.bounds import parse_int
from bot.services.public import yousaid
from bot.services.public.dashboard import Dashboard, Overview
from bot.services.public.figures import total_line
from bot.services.public.participation import participation
from bot.services.shared.domain import Domain
from bot.web.drawing import MapDrawing, grid_map, neighbourhood, weekly_charts
from bot.web.keys import GRIDVOICE, PAGES_KEY
from bot.web.pages import PageCache, request_language
from routing.gridmap import Community, Grid, GridMap

DASHBOARD_KEY = web.AppKey("gridvoice_dashboard", Dashboard)
PAGE_CACHE_KEY = web.AppKey("gridvoice_page_cache", PageCache)
# Grid ids are the map's own (letters, digits, dashes, dots, underscores), at most 64 long.
GRID_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
RECENT_CASES = 20
GRID_TABLE_LIMIT = 60  # more grids than this: the front page links the paged list instead
GRIDS_PER_PAGE = 100
PAGE_NUMBER = re.compile(r"[1-9][0-9]{0,5}")


def setup(app: web.Application, domain: Domain) -> None:
    app[DASHBOARD_KEY] = Dashboard(domain)
    app[PAGE_CACHE_KEY] = PageCache(app[PAGES_KEY], domain.settings.dashboard_cache.total_seconds())
    app.router.add_get("/", home, name="home")
    app.router.add_get("/communities/{community_id}", community_page, name="community")
    app.router.add_get("/grids", grid_list, name="grids")
    app.router.add_get("/grids/{grid_id}", grid, name="grid")
    app.router.add_get("/about/numbers", numbers, name="numbers")


def community_in(request: web.Request) -> tuple[Domain, Community]:
    """The deployment and the community a `/communities/{community_id}/...` page names; 404 for
    an id that is malformed or not in the grid map (or no map loaded yet)."""
    domain = request.app[GRIDVOICE].domain
    community_id = request.match_info["community_id"]
    if not domain.has_routing or not GRID_ID.fullmatch(community_id):
        raise web.HTTPNotFound()
    community = domain.routing.gridmap.communities.get(community_id)
    if community is None:
        raise web.HTTPNotFound()
    return domain, community


def _gridmap(request: web.Request) -> GridMap | None:
    domain = request.app[GRIDVOICE].domain
    return domain.routing.gridmap if domain.has_routing else None


def _map(
    request: web.Request,
    grids: Iterable[Grid],
    open_by_grid: dict[str, int],
    current: str | None = None,
) -> MapDrawing:
    """The map in the reader's language: names are placed only where they fit, so the words
    decide the layout. Colours follow every grid in `open_by_grid` (the page's whole scope)."""
    pages = request.app[PAGES_KEY]
    lang = request_language(request, pages.settings.default_language)
    grids = list(grids)
    return grid_map(
        grids,
        open_by_grid,
        current,
        names={g.id: g.name.get(lang) for g in grids},
        count_text=lambda n: pages.text(lang, "open_cases_n", n=n),
        spread=open_by_grid.values(),
    )


def _open(overview: Overview, grid_ids: Iterable[str]) -> dict[str, int]:
    """Open cases of each of these grids (0 for a grid without a line)."""
    return {g: overview.grids[g].open.total if g in overview.grids else 0 for g in grid_ids}


def _charts(overview: Overview) -> dict[str, Any]:
    return weekly_charts((w.start, w.reported, w.resolved) for w in overview.figures.weekly)


async def home(request: web.Request) -> web.Response:
    """The front page: the community's own page when the map has one; with several, each
    community's line (never added up into one), the map of every grid, a link to each page."""
    gridmap = _gridmap(request)
    if gridmap is None:
        return request.app[PAGES_KEY].render(request, "dashboard_empty")
    if len(gridmap.communities) == 1:
        return await _community(request, gridmap, next(iter(gridmap.communities.values())), True)

    async def data() -> dict[str, Any]:
        overview = await request.app[DASHBOARD_KEY].community()
        minimum = overview.rules.minimum
        lines = [
            (
                c,
                total_line(
                    c.id, (overview.grids[g] for g in c.grid_ids if g in overview.grids), minimum
                ),
            )
            for c in gridmap.communities.values()
        ]
        return {
            "gridmap": gridmap,
            "overview": overview,
            "lines": lines,
            "drawing": _map(request, gridmap.grids.values(), _open(overview, gridmap.grids)),
            "current": None,
            "all_grids": len(gridmap.grids),
        }

    return await request.app[PAGE_CACHE_KEY].answer(request, "home", data)


async def community_page(request: web.Request) -> web.Response:
    """One community's page: its figures, its grids on the map, its weekly chart, its grids."""
    community_id = request.match_info["community_id"]
    gridmap = _gridmap(request)
    if gridmap is None or not GRID_ID.fullmatch(community_id):
        raise web.HTTPNotFound()
    community = gridmap.communities.get(community_id)
    if community is None:
        raise web.HTTPNotFound()
    return await _community(request, gridmap, community, False)


async def _community(
    request: web.Request, gridmap: GridMap, community: Community, home: bool
) -> web.Response:
    async def data() -> dict[str, Any]:
        overview = await request.app[DASHBOARD_KEY].community(_scope(gridmap, community.grid_ids))
        grids = [gridmap.grids[g] for g in community.grid_ids]
        domain = request.app[GRIDVOICE].domain
        months = _last_months(domain, 2)
        minimum = overview.rules.minimum
        return {
            "part_months": months,
            "participation": {
                m: await participation(domain, list(community.grid_ids), m, minimum) for m in months
            },
            "proposal_counts": (await yousaid.all_counts(domain))[community.id],
            "gridmap": gridmap,
            "community": community,
            "home": home,
            "overview": overview,
            "figures": overview.figures,
            "drawing": _map(request, grids, _open(overview, community.grid_ids)),
            "charts": _charts(overview),
            "current": None,
            "rows": [(g, overview.grids.get(g.id), community) for g in grids][:GRID_TABLE_LIMIT],
            "all_grids": len(grids),
            "table_limit": GRID_TABLE_LIMIT,
        }

    return await request.app[PAGE_CACHE_KEY].answer(request, "dashboard", data)


def _last_months(domain: Domain, n: int) -> list[str]:
    """This month and the `n - 1` before it (YYYY-MM in the map's time zone), newest first."""
    now = domain.clock.now().astimezone(domain.routing.gridmap.tz)
    year, month = now.year, now.month
    out = []
    for _ in range(n):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out


def _scope(gridmap: GridMap, grid_ids: Iterable[str]) -> list[str] | None:
    """These grids for a query, or None when they are every grid of the map (a query over all
    cases, no list of a thousand ids)."""
    ids = list(grid_ids)
    return None if len(ids) == len(gridmap.grids) else ids


def _rows(gridmap: GridMap, overview: Overview, communities: list[Community]) -> list[Any]:
    """(grid, its line or None, its community), in the map's order: listed, never ranked."""
    return [(gridmap.grids[g], overview.grids.get(g), c) for c in communities for g in c.grid_ids]


async def grid_list(request: web.Request) -> web.Response:
    """Every grid's line, a hundred to a page (`?page=N`, 1 by default; `?community=ID` for
    one community's grids)."""
    gridmap = _gridmap(request)
    if gridmap is None:
        raise web.HTTPNotFound()
    communities = list(gridmap.communities.values())
    chosen = request.query.get("community")
    if chosen is not None:
        if not GRID_ID.fullmatch(chosen) or chosen not in gridmap.communities:
            raise web.HTTPNotFound()
        communities = [gridmap.communities[chosen]]
    count = sum(len(c.grid_ids) for c in communities)
    raw = request.query.get("page", "1")
    pages = max(1, -(-count // GRIDS_PER_PAGE))
    page = parse_int(raw, low=1, high=pages) if PAGE_NUMBER.fullmatch(raw) else None
    if page is None:
        raise web.HTTPNotFound()
    overview = await request.app[DASHBOARD_KEY].community()
    rows = _rows(gridmap, overview, communities)
    return request.app[PAGES_KEY].render(
        request,
        "grids",
        overview=overview,
        rows=rows[(page - 1) * GRIDS_PER_PAGE : page * GRIDS_PER_PAGE],
        page=page,
        pages=pages,
        all_grids=len(rows),
        community=gridmap.communities[chosen] if chosen else None,
        several=len(gridmap.communities) > 1,
    )


async def grid(request: web.Request) -> web.Response:
    """One grid: its figures, where it lies on the community's map, its latest cases."""
    grid_id = request.match_info["grid_id"]
    gridmap = _gridmap(request)
    if gridmap is None or not GRID_ID.fullmatch(grid_id) or grid_id not in gridmap.grids:
        raise web.HTTPNotFound()
    the_grid = gridmap.grids[grid_id]
    community = gridmap.communities.get(the_grid.community_id)
    in_community = [gridmap.grids[g] for g in (community.grid_ids if community else (grid_id,))]
    neighbours = [g.id for g in neighbourhood(the_grid, in_community)]
    dashboard = request.app[DASHBOARD_KEY]

    async def data() -> dict[str, Any]:
        from bot.services.public.cases import CaseQuery, list_public_cases

        overview = await dashboard.grid(grid_id)
        # the community's grids colour the map, so a colour reads as on the community's page
        around = await dashboard.open_cases(_scope(gridmap, [g.id for g in in_community]))
        spread = {g.id: around.get(g.id, 0) for g in in_community}
        recent = await list_public_cases(
            request.app[GRIDVOICE].domain, CaseQuery(grid_ids=(grid_id,), limit=RECENT_CASES)
        )
        return {
            "gridmap": gridmap,
            "grid": the_grid,
            "community": community,
            "overview": overview,
            "figures": overview.figures,
            "drawing": _map(request, [gridmap.grids[g] for g in neighbours], spread, grid_id),
            "charts": _charts(overview),
            "current": grid_id,
            "recent": recent,
        }

    return await request.app[PAGE_CACHE_KEY].answer(request, "grid", data)


async def numbers(request: web.Request) -> web.Response:
    """Understanding these numbers: each figure defined, with the thresholds in force."""
    return request.app[PAGES_KEY].render(request, "numbers", rules=request.app[DASHBOARD_KEY].rules)
