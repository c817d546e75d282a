"""The public volunteer page of a community (`/communities/<id>/volunteers`): the open tasks
with their seats, the organisations that joined and what they do, the hours given, and thanks
by first name to the volunteers who asked for it (`bot.services.participation.volunteers`)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.services.participation.volunteers import public_page
from bot.web.keys import PAGES_KEY
from bot.web.public.dashboard import PAGE_CACHE_KEY, community_in


def setup(app: web.Application) -> None:
    app.router.add_get("/communities/{community_id}/volunteers", volunteers_page, name="volunteers")


async def volunteers_page(request: web.Request) -> web.Response:
    domain, community = community_in(request)
    gridmap = domain.routing.gridmap

    async def data() -> dict[str, Any]:
        return {
            "gridmap": gridmap,
            "community": community,
            "page": await public_page(domain, community.id),
        }

    if PAGE_CACHE_KEY in request.app:
        return await request.app[PAGE_CACHE_KEY].answer(request, "volunteers", data)
    return request.app[PAGES_KEY].render(request, "volunteers", **(await data()))
