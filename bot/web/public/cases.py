"""Public case pages: `/cases/GV-YYYY-NNNNNN`, built only from the public projection of a case.

What a case page may show is decided in one place, `bot.services.public.cases` (an allow-list):
no name, no Telegram id, no phone, no home address, and no free text but the public note staff
published on purpose (or a description staff approved, when the deployment publishes them);
without a public note, what was done is told by a plain sentence of the outcome.
"""

from __future__ import annotations

import re

from aiohttp import web

from bot.services.public.cases import find_public_case, public_link
from bot.web.keys import GRIDVOICE, PAGES_KEY

# GV-<year>-<number>; numbers run past 999,999 (then they have more digits), bounded here.
HUMAN_ID = re.compile(r"GV-(\d{4})-(\d{6,12})", re.IGNORECASE)


def setup(app: web.Application) -> None:
    app.router.add_get("/cases/{human_id}", case_page, name="case")


async def case_page(request: web.Request) -> web.Response:
    human_id = request.match_info["human_id"]
    domain = request.app[GRIDVOICE].domain
    if not HUMAN_ID.fullmatch(human_id) or not domain.has_routing:
        raise web.HTTPNotFound()
    case = await find_public_case(domain, human_id.upper())
    if case is None:
        raise web.HTTPNotFound()
    gridmap = domain.routing.gridmap
    grid = gridmap.grids.get(case.grid_id)
    return request.app[PAGES_KEY].render(
        request,
        "case",
        case=case,
        grid=grid,
        community=gridmap.communities.get(grid.community_id) if grid else None,
        publish_descriptions=domain.settings.publish_descriptions,
        link=await public_link(domain, case.human_id),
        now=domain.clock.now(),
    )
