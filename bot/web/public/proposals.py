"""Residents' proposals on the public web: a community's proposals (`/communities/<id>/proposals`),
one proposal (`/proposals/<id>`), its public photos, and "You said, we did"
(`/communities/<id>/yousaid`): answered proposals and their outcomes, work items with their
progress and before/after photos, clusters of resolved complaints, and how many answers came on
time, late or not at all. Built only from `bot.services.public.yousaid` (an allow-list).

A resident signed in on the web (bot/web/public/residents.py) proposes from
`/communities/<id>/propose`, and supports, follows (or stops following) or adds a point on a
proposal's page — through the chat's own service calls (`proposals.create`, `support`,
`follow`, `unfollow`, `add_point`), so the same rules hold: a verified resident of the
community, the weekly limit, the lengths, one support each, only supporters follow. A refusal
comes back on the form, in the page's language, with what was typed kept.

A proposal's photo from the web (a JPEG or PNG, at most `forms.UPLOAD_MAX`) is kept as the
chat keeps one, as a Telegram file: the running bot sends it to the author's own chat once, as
the desk does a staff member's photo, and the proposal stores its file id. Telegram re-encodes
a sent photo, so what the page later shows carries none of the original file's metadata.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

from aiohttp import web

from bot.bounds import parse_id, parse_int
from bot.services.participation import proposals as ps
from bot.services.participation.proposals import ProposalError
from bot.services.public import yousaid
from bot.web.forms import UPLOAD_MAX, UploadTooLarge, photo_kind, read_form, uploaded_file
from bot.web.keys import GRIDVOICE, PAGES_KEY, FileUnavailable, telegram_file, upload_photo
from bot.web.pages import request_language
from bot.web.public.dashboard import community_in
from bot.web.public.residents import csrf_ok, may_be_signed_in, private, resident_of

# A case's public id as residents see it (`GV-2026-000123`); its number is read with bounds.
CASE_REF = re.compile(r"GV-([0-9]{4})-([0-9]{1,12})", re.IGNORECASE)
CITE_FIELD_MAX = 400  # characters of the cited-cases field read
PHOTO_MB = round(UPLOAD_MAX / 1024 / 1024)  # the photo's limit as the form says it
# What a proposal's page may say after a press (the `said` of its address): chat labels.
SAID = frozenset(
    {
        "proposal_supported",
        "proposal_already_supported",
        "proposal_point_saved",
        "proposal_following",
        "proposal_already_following",
        "proposal_unfollowed",
        "proposal_not_following",
    }
)


def setup(app: web.Application) -> None:
    app.router.add_get("/communities/{community_id}/proposals", list_page, name="proposals")
    app.router.add_get("/communities/{community_id}/propose", propose_page, name="propose")
    app.router.add_post("/communities/{community_id}/propose", propose)
    app.router.add_post("/proposals/{proposal_id}/support", support, name="proposal_support")
    app.router.add_post("/proposals/{proposal_id}/follow", follow, name="proposal_follow")
    app.router.add_post("/proposals/{proposal_id}/unfollow", unfollow, name="proposal_unfollow")
    app.router.add_post("/proposals/{proposal_id}/point", point, name="proposal_point")
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
    proposal_id = parse_id(request.match_info["proposal_id"])
    said = request.query.get("said", "")
    return await _proposal_response(
        request, proposal_id, said=said if said in SAID else "", side=request.query.get("side")
    )


async def _proposal_response(
    request: web.Request,
    proposal_id: int | None,
    *,
    status: int = 200,
    said: str = "",
    side: str | None = None,
    error: str = "",
    typed: dict[str, str] | None = None,
) -> web.Response:
    """A proposal's page; with a signed-in resident's forms (support, points) and the answer
    to what they just did."""
    domain = request.app[GRIDVOICE].domain
    if proposal_id is None or not domain.has_routing:
        raise web.HTTPNotFound()
    p = await yousaid.proposal_page(domain, proposal_id)
    if p is None:
        raise web.HTTPNotFound()
    me = await _take_part(request, proposal_id)
    gridmap = domain.routing.gridmap
    bot = domain.bot_username or ""
    data: dict[str, Any] = dict(
        p=p,
        gridmap=gridmap,
        community=gridmap.communities.get(p.community_id),
        support_link=f"https://t.me/{bot}?start=support_{p.id}" if bot else "",
        me=me,
        said=_said(request, said, p, side),
        error=error,
        typed=typed or {},
        point_max=ps.POINT_MAX,
    )
    if me is None and status == 200:
        return request.app[PAGES_KEY].render(request, "proposal", **data)
    return private(request, "proposal", status=status, **data)


async def _take_part(request: web.Request, proposal_id: int) -> SimpleNamespace | None:
    """What the signed-in resident may do on this proposal (None when nobody is signed in)."""
    if not may_be_signed_in(request):
        return None
    domain = request.app[GRIDVOICE].domain
    async with domain.unit() as uow:
        me = await resident_of(uow, request)
        if me is None:
            return None
        p = await ps.get(uow, proposal_id)
        why = ""
        try:
            ps.require_supportable(uow, p, me.user)
        except ProposalError as exc:
            why = _label(request, exc)
        own = await ps.support_of(uow, p, me.user)
        return SimpleNamespace(
            csrf=me.csrf,
            why=why,
            supported=own is not None,
            following=own is not None and own.follow,
            author=p.author_id == me.user.id,
            sides=await ps.own_sides(uow, p, me.user),
        )


def _said(request: web.Request, key: str, p: Any, side: str | None) -> str:
    if not key:
        return ""
    domain = request.app[GRIDVOICE].domain
    lang = request_language(request, domain.settings.default_language)
    if key == "proposal_point_saved":
        return request.app[PAGES_KEY].text(
            lang, "prop_point_saved_" + ("against" if side == "against" else "for")
        )
    return domain.renderer.label(lang, key, n=p.supports, threshold=p.threshold)


def _label(request: web.Request, exc: ProposalError) -> str:
    """A refusal in the page's language: the chat's own words for it."""
    domain = request.app[GRIDVOICE].domain
    lang = request_language(request, domain.settings.default_language)
    return domain.renderer.label(lang, exc.key, **exc.data)


async def support(request: web.Request) -> web.StreamResponse:
    """Support a proposal once (the store's constraint holds it): `proposals.support`."""
    return await _press(request, ps.support)


async def follow(request: web.Request) -> web.StreamResponse:
    """A supporter is told each step in the chat: `proposals.follow`."""
    return await _press(request, ps.follow)


async def unfollow(request: web.Request) -> web.StreamResponse:
    """A supporter stops being told each step: `proposals.unfollow`."""
    return await _press(request, ps.unfollow)


async def _press(request: web.Request, act: Callable[..., Awaitable[str]]) -> web.StreamResponse:
    """One press of the proposal's take-part buttons, `act(uow, user, proposal)` returning the
    label it is answered with; a second press changes nothing and says so."""
    proposal_id = parse_id(request.match_info["proposal_id"])
    if proposal_id is None:
        raise web.HTTPNotFound()
    form = await read_form(request)
    domain = request.app[GRIDVOICE].domain
    try:
        async with domain.unit() as uow:
            me = await resident_of(uow, request)
            if me is None:
                return _signed_out(request)
            if not csrf_ok(me, form):
                return _csrf_refused(request)
            key = await act(uow, me.user, await ps.get(uow, proposal_id))
    except ProposalError as exc:
        if exc.key == "proposal_unknown":
            raise web.HTTPNotFound() from None
        return await _proposal_response(
            request, proposal_id, status=403, error=_label(request, exc)
        )
    return _see(f"/proposals/{proposal_id}?said={key}#take-part")


async def point(request: web.Request) -> web.StreamResponse:
    """A short point for or against: `proposals.add_point`; a refused one keeps its words."""
    proposal_id = parse_id(request.match_info["proposal_id"])
    if proposal_id is None:
        raise web.HTTPNotFound()
    form = await read_form(request)
    side = str(form.get("side", ""))
    text = str(form.get("text", ""))
    domain = request.app[GRIDVOICE].domain
    try:
        async with domain.unit() as uow:
            me = await resident_of(uow, request)
            if me is None:
                return _signed_out(request)
            if not csrf_ok(me, form):
                return _csrf_refused(request)
            await ps.add_point(uow, me.user, await ps.get(uow, proposal_id), side, text)
    except ProposalError as exc:
        if exc.key == "proposal_unknown":
            raise web.HTTPNotFound() from None
        status = 400 if exc.key in ("proposal_point_long", "proposal_point_empty") else 403
        return await _proposal_response(
            request,
            proposal_id,
            status=status,
            error=_label(request, exc),
            typed={"side": side, "text": text},
        )
    return _see(f"/proposals/{proposal_id}?said=proposal_point_saved&side={side}#take-part")


# --- proposing from the web -----------------------------------------------------------------


async def propose_page(request: web.Request) -> web.Response:
    """The form; signed out, how to sign in; not allowed to propose, why (no form)."""
    return await _propose_form(request, {}, "")


async def _propose_form(
    request: web.Request, typed: dict[str, str], error: str, status: int = 200
) -> web.Response:
    domain, community = community_in(request)
    me, why, csrf = None, "", ""
    if may_be_signed_in(request):
        async with domain.unit() as uow:
            me = await resident_of(uow, request)
            if me is not None:
                csrf = me.csrf
                try:
                    await ps.may_propose(uow, me.user, community.id)
                except ProposalError as exc:
                    why = _label(request, exc)
    rules = community.proposals
    if why and status == 200:
        status = 403
    gridmap = domain.routing.gridmap
    return private(
        request,
        "propose",
        status=status,
        community=community,
        # the place may be typed, or picked among the community's buildings as the map names them
        buildings=[
            gridmap.buildings[b].name
            for g in community.grid_ids
            if g in gridmap.grids
            for b in gridmap.grids[g].building_ids
            if b in gridmap.buildings
        ],
        signed_in=me is not None,
        csrf=csrf,
        why=why,
        error=error,
        typed=typed,
        limits=SimpleNamespace(
            title=ps.TITLE_MAX,
            text_min=ps.TEXT_MIN,
            text=ps.TEXT_MAX,
            place=ps.PLACE_MAX,
            cases=ps.CITE_CASES_MAX,
            per_week=rules.per_week,
            photo_mb=PHOTO_MB,
        ),
    )


def case_refs(text: str) -> list[str]:
    """The case ids typed in the form, each read with bounds (`GV-<year>-<number>`); a word
    that is no case id refuses the form."""
    refs = []
    for word in re.split(r"[\s,;，、]+", text[:CITE_FIELD_MAX]):
        if not word:
            continue
        match = CASE_REF.fullmatch(word)
        year = parse_int(match.group(1), low=2000, high=9999) if match else None
        number = parse_id(match.group(2)) if match else None
        if match is None or year is None or number is None:
            raise ProposalError("proposal_cite_bad")
        refs.append(f"GV-{year}-{number:06d}")
    if len(refs) > ps.CITE_CASES_MAX:
        raise ProposalError("proposal_cite_many", limit=ps.CITE_CASES_MAX)
    return refs


async def propose(request: web.Request) -> web.StreamResponse:
    """File the form through `proposals.create` (the chat's own), then show the proposal. A
    photo is sent to Telegram only once the rest of the form passed the same checks."""
    domain, community = community_in(request)
    try:
        form = await read_form(request)
    except web.HTTPRequestEntityTooLarge:  # a body past BODY_MAX: its words cannot be kept
        return await _photo_refused(request, {}, "prop_form_photo_large", 413)
    # Whole, as typed (the body's size is bounded by the server): a refusal gives the true
    # length and hands the words back.
    typed = {name: str(form.get(name, "")) for name in ("title", "text", "place", "cases")}
    try:
        async with domain.unit() as uow:
            me = await resident_of(uow, request)
            if me is None:
                return _signed_out(request)
            if not csrf_ok(me, form):
                return _csrf_refused(request)
            await ps.may_propose(uow, me.user, community.id)
            cited = await ps.cited_by_id(uow, community.id, case_refs(typed["cases"]))
            ps.check_title(typed["title"])
            ps.check_text(typed["text"])
            author = me.user.id
    except ProposalError as exc:
        return await _propose_refused(request, typed, exc)
    try:
        photo = uploaded_file(form, "photo")
    except UploadTooLarge:
        return await _photo_refused(request, typed, "prop_form_photo_large", 413)
    file_id = None
    if photo is not None:
        kind = photo_kind(photo)
        if kind is None:
            return await _photo_refused(request, typed, "prop_form_photo_type", 415)
        name = "proposal." + kind.removeprefix("image/")
        try:  # outside the unit of work: a slow upload holds no writer lock
            file_id = await upload_photo(request.app[GRIDVOICE], author, photo, name)
        except FileUnavailable:
            return await _photo_refused(request, typed, "prop_form_photo_failed", 502)
    try:
        async with domain.unit() as uow:
            me = await resident_of(uow, request)
            if me is None:
                return _signed_out(request)
            p = await ps.create(
                uow,
                me.user,
                title=typed["title"],
                text=typed["text"],
                photo=file_id,
                place=typed["place"].strip() or None,
                cited=cited,
                community_id=community.id,
            )
            proposal_id = p.id
    except ProposalError as exc:
        return await _propose_refused(request, typed, exc)
    return _see(f"/proposals/{proposal_id}")


async def _propose_refused(
    request: web.Request, typed: dict[str, str], exc: ProposalError
) -> web.Response:
    status = 403 if exc.key in ("proposal_not_eligible", "proposal_week_limit") else 400
    return await _propose_form(request, typed, _label(request, exc), status)


async def _photo_refused(
    request: web.Request, typed: dict[str, str], key: str, status: int
) -> web.Response:
    domain = request.app[GRIDVOICE].domain
    lang = request_language(request, domain.settings.default_language)
    text = request.app[PAGES_KEY].text(lang, key, mb=PHOTO_MB)
    return await _propose_form(request, typed, text, status)


def _see(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _signed_out(request: web.Request) -> web.Response:
    return private(request, "signin_how", status=401)


def _csrf_refused(request: web.Request) -> web.Response:
    return private(request, "signin_refused", status=403, key="res_csrf_refused")


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
