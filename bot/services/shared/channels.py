"""Which Telegram channel a resident follows: their community's linked channel, else the
district's. A read every edge may use (`/start` and `/mygrid` point to it); linking, posting and
refusals live in `bot/services/participation/broadcast.py`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.store.models import Channel

if TYPE_CHECKING:
    from bot.services.shared.domain import UnitOfWork

DISTRICT = "*"  # the scope of a channel linked for the whole district


async def current(uow: UnitOfWork, scope: str) -> Channel | None:
    """The channel linked (or being checked, or broken) for a community or the district."""
    stmt = (
        select(Channel)
        .where(Channel.scope == scope, Channel.status.in_(("checking", "linked", "broken")))
        .order_by(Channel.id.desc())
        .limit(1)
    )
    return (await uow.session.execute(stmt)).scalar_one_or_none()


async def link_for(uow: UnitOfWork, grid_id: str | None) -> str | None:
    """The channel a resident of `grid_id` follows: their community's, else the district's."""
    if not grid_id or grid_id not in uow.routing.gridmap.grids:
        return None
    community = uow.routing.gridmap.grids[grid_id].community_id
    for scope in (community, DISTRICT):
        c = await current(uow, scope)
        if c is not None and c.status == "linked" and c.link:
            return c.link
    return None
