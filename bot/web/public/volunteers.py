"""The public volunteer page of a community (`/communities/<id>/volunteers`): the open tasks
with their seats, the organisations that joined and what they do, the hours given, and thanks
by first name to the volunteers who asked for it (`bot.services.participation.volunteers`)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.services.participation.volunteers import public_page
from bot.web.keys import GRIDVOICE, PAGES_KEY
from bot.web.public.dashboard import GRID_ID, PAGE_CACHE_KEY


def setup(app: web.Application) -> None:
    app.router.add_get("/communities/{community_id}/volunteers", volunteers_page, name="volunteers")


async def volunteers_page(request: web.Request) -> web.Response:
    community_id = request.match_info["community_id"]
    domain = request.app[GRIDVOICE].domain
    if not domain.has_routing or not GRID_ID.fullmatch(community_id):
        raise web.HTTPNotFound()
    gridmap = domain.routing.gridmap
    community = gridmap.communities.get(community_id)
    if community is None:
        raise web.HTTPNotFound()

    async def data() -> dict[str, Any]:
        return {
            "gridmap": gridmap,
            "community": community,
            "page": await public_page(domain, community_id),
        }

    if PAGE_CACHE_KEY in request.app:
        return await request.app[PAGE_CACHE_KEY].answer(request, "volunteers", data)
    return request.app[PAGES_KEY].render(request, "volunteers", **(await data()))
