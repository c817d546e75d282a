"""The public "who does what" page of a community (`/communities/<id>/duties`): the duty list
in force, clause by clause, the regulations each cites, and its history of amendments made by
rulings on returned cases. Organisations and roles only (`bot.services.public.duty_list`)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.services.public.duty_list import duty_list
from bot.web.keys import PAGES_KEY
from bot.web.public.dashboard import PAGE_CACHE_KEY, community_in


def setup(app: web.Application) -> None:
    app.router.add_get("/communities/{community_id}/duties", duties_page, name="duties")


async def duties_page(request: web.Request) -> web.Response:
    domain, community = community_in(request)
    gridmap = domain.routing.gridmap

    async def data() -> dict[str, Any]:
        return {
            "gridmap": gridmap,
            "community": community,
            "duties": await duty_list(domain, gridmap, community),
        }

    if PAGE_CACHE_KEY in request.app:
        return await request.app[PAGE_CACHE_KEY].answer(request, "duties", data)
    return request.app[PAGES_KEY].render(request, "duties", **(await data()))
