"""One case at the desk: its timeline, photos, deadlines, and every action of the chat card.

Each action is the same service call the card's buttons make (bot/services/cases.py), after the
same `authorise` (with the version the page was drawn for): the resident is told exactly as from
the chat, and the chat card is edited in place.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.runtime.files import FileUnavailable, telegram_file, upload_photo
from bot.runtime.web import GRIDVOICE
from bot.services.cases import lifecycle as cases
from bot.services.cases import queries as case_queries
from bot.services.cases.views import AWAITING_ACCEPT, OPEN, card_data
from bot.services.people import access, desk_auth, staff
from bot.web.desk.session import SESSION_COOKIE, ActionRefused, Desk, desk_view, domain_of, render

ACTIONS = ("accept", "ask", "transfer", "resolve", "reject", "category", "reassign")
MAX_UPLOAD = 2 * 1024 * 1024 - 64 * 1024


def setup(app: web.Application) -> None:
    app.router.add_get(r"/desk/cases/{human_id:GV-[0-9]{4}-[0-9]+}", case_page, name="desk_case")
    app.router.add_post(r"/desk/cases/{human_id:GV-[0-9]{4}-[0-9]+}/{action}", case_action)
    app.router.add_get(r"/desk/cases/{human_id:GV-[0-9]{4}-[0-9]+}/photos/{n:[0-9]+}", photo)


async def _case_in_scope(desk: Desk, human_id: str) -> Any:
    case = await case_queries.find_in_scope(desk.uow, desk.user_id, human_id)
    if case is None:
        raise ActionRefused("desk_case_not_found", 404)
    return case


@desk_view
async def case_page(request: web.Request, desk: Desk) -> web.Response:
    uow = desk.uow
    case = await _case_in_scope(desk, request.match_info["human_id"])
    can_act = access.may_act(uow, desk.user_id, case) and case.status in OPEN
    due_kind, due_at = case_queries.due_of(case)
    return render(
        request,
        "desk/case",
        me=desk.me,
        c=case,
        card=card_data(uow, case),
        events=await case_queries.timeline(uow, case),
        photos=await case_queries.case_photos(uow, case),
        can_act=can_act,
        can_accept=can_act
        and case.status in AWAITING_ACCEPT
        and access.may_accept(uow, desk.user_id, case),
        triage=case.status == "triage",
        transfer_targets=staff.transfer_options(uow, case, exclude={desk.user_id})
        if can_act
        else [],
        assignable=[
            s
            for s in access.assignable_staff(uow, desk.user_id)
            if s.telegram_id != case.owner_id and case.grid_id in s.grid_ids
        ]
        if can_act and desk.me.staff.role in cases.SUPERVISORS
        else [],
        staffmap=uow.routing.gridmap.staff,
        categories=uow.routing.gridmap.categories,
        due_kind=due_kind,
        due_at=due_at,
        overdue=due_at is not None and due_at < uow.now and case.status in OPEN,
        now=uow.now,
        done=request.query.get("done", "")[:32],
    )


def _text(desk: Desk, name: str) -> str:
    return str(desk.form.get(name, "")).strip()[: desk.uow.settings.max_text_length]


@desk_view
async def case_action(request: web.Request, desk: Desk) -> web.Response:
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise ActionRefused("not_allowed", 404)
    uow, user_id = desk.uow, desk.user_id
    found = await _case_in_scope(desk, request.match_info["human_id"])
    version = str(desk.form.get("version", ""))
    case = await access.authorise(uow, user_id, found.id, int(version) if version.isdigit() else -1)
    if action == "accept":
        await cases.accept(uow, user_id, case)
    elif action == "ask":
        if not await cases.ask(uow, user_id, case, _required(desk, "question")):
            action = "ask_unreached"  # the resident blocked the bot or erased their data
    elif action == "reject":
        await cases.reject(uow, user_id, case, _required(desk, "reason"))
    elif action == "resolve":
        note = _required(desk, "note")
        file_id = await _uploaded_photo(request, desk)
        await cases.resolve(uow, user_id, case, note, file_id)
    elif action == "transfer":
        await cases.transfer(uow, user_id, case, _text(desk, "target"), _required(desk, "reason"))
    elif action == "reassign":
        target = _text(desk, "target")
        if not target.isdigit():
            raise ActionRefused("not_allowed", 400)
        await cases.reassign_to(uow, user_id, case, int(target), _required(desk, "reason"))
    elif action == "category":
        await cases.triage_set_category(uow, user_id, case, _text(desk, "category"))
    return web.Response(
        status=303, headers={"Location": f"/desk/cases/{case.human_id}?done={action}"}
    )


def _required(desk: Desk, name: str) -> str:
    value = _text(desk, name)
    if not value:
        raise ActionRefused("desk_text_required", 400)
    return value


async def _uploaded_photo(request: web.Request, desk: Desk) -> str | None:
    field = desk.form.get("photo")
    data = getattr(field, "file", None)
    if data is None:
        return None
    content = data.read(MAX_UPLOAD + 1)
    if not content:
        return None
    if len(content) > MAX_UPLOAD:
        raise ActionRefused("desk_photo_too_large", 413)
    try:
        return await upload_photo(
            request.app[GRIDVOICE], desk.user_id, content, getattr(field, "filename", "photo.jpg")
        )
    except FileUnavailable:
        raise ActionRefused("desk_photo_failed", 502) from None


async def photo(request: web.Request) -> web.StreamResponse:
    """A case photo: authorised like the page, fetched from Telegram once, then cached."""
    domain = domain_of(request)
    async with domain.unit() as uow:
        me = await desk_auth.signed_in(uow, request.cookies.get(SESSION_COOKIE))
        if me is None:
            raise web.HTTPUnauthorized()
        case = await case_queries.find_in_scope(uow, me.staff_id, request.match_info["human_id"])
        photos = await case_queries.case_photos(uow, case) if case is not None else []
    n = int(request.match_info["n"])
    if n >= len(photos):
        raise web.HTTPNotFound()
    try:
        data, kind = await telegram_file(request.app[GRIDVOICE], photos[n].file_id)
    except FileUnavailable:
        raise web.HTTPNotFound() from None
    return web.Response(
        body=data,
        content_type=kind,
        headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
