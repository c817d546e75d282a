"""Residents' proposals on the public web: a community's proposals (`/communities/<id>/proposals`),
one proposal (`/proposals/<id>`), its public photos, and "You said, we did"
(`/communities/<id>/yousaid`): answered proposals and their outcomes, work items with their
progress and before/after photos, clusters of resolved complaints, and how many answers came on
time, late or not at all. Built only from `bot.services.public.yousaid` (an allow-list)."""

from __future__ import annotations

from aiohttp import web

from bot.bounds import parse_id
from bot.services.public import yousaid
from bot.web.keys import GRIDVOICE, PAGES_KEY, FileUnavailable, telegram_file
from bot.web.public.dashboard import community_in


def setup(app: web.Application) -> None:
    app.router.add_get("/communities/{community_id}/proposals", list_page, name="proposals")
    app.router.add_get("/communities/{community_id}/yousaid", you_said_page, name="yousaid")
    app.router.add_get("/proposals/{proposal_id}", proposal_page, name="proposal")
    app.router.add_get(
        "/proposals/{proposal_id}/{which:before|after}.jpg", photo, name="proposal_photo"
    )


async def list_page(request: web.Request) -> web.Response:
    domain, community = community_in(request)
    items, counts = await yousaid.proposal_list(domain, community.id)
    return request.app[PAGES_KEY].render(
        request,
        "proposals",
        community=community,
        gridmap=domain.routing.gridmap,
        items=items,
        counts=counts,
        rules=community.proposals,
    )


async def you_said_page(request: web.Request) -> web.Response:
    domain, community = community_in(request)
    said = await yousaid.you_said(domain, community.id)
    return request.app[PAGES_KEY].render(
        request, "yousaid", community=community, gridmap=domain.routing.gridmap, said=said
    )


async def proposal_page(request: web.Request) -> web.Response:
    domain = request.app[GRIDVOICE].domain
    proposal_id = parse_id(request.match_info["proposal_id"])
    if proposal_id is None or not domain.has_routing:
        raise web.HTTPNotFound()
    p = await yousaid.proposal_page(domain, proposal_id)
    if p is None:
        raise web.HTTPNotFound()
    gridmap = domain.routing.gridmap
    bot = domain.bot_username or ""
    return request.app[PAGES_KEY].render(
        request,
        "proposal",
        p=p,
        gridmap=gridmap,
        community=gridmap.communities.get(p.community_id),
        support_link=f"https://t.me/{bot}?start=support_{p.id}" if bot else "",
    )


async def photo(request: web.Request) -> web.StreamResponse:
    domain = request.app[GRIDVOICE].domain
    proposal_id = parse_id(request.match_info["proposal_id"])
    if proposal_id is None:
        raise web.HTTPNotFound()
    file_id = await yousaid.photo_file(domain, proposal_id, request.match_info["which"])
    if not file_id:
        raise web.HTTPNotFound()
    try:
        data, kind = await telegram_file(request.app[GRIDVOICE], file_id)
    except FileUnavailable:
        raise web.HTTPNotFound() from None
    return web.Response(
        body=data,
        content_type=kind,
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
