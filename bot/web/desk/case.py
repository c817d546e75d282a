"""One case at the desk: its timeline, photos, deadlines, and every action of the chat card.

The forms are drawn from the action table (bot/services/cases/actions.py) the card reads too:
each POST runs the same check and lifecycle call a press makes, after the same `authorise`
(with the version the page was drawn for): the resident is told exactly as from the chat, and
the chat card is edited in place.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from bot.bounds import MAX_TELEGRAM_ID, clean_text, parse_id, parse_int
from bot.services.cases import actions, duty, joint, lifecycle, notes, offers, onetap, replies
from bot.services.cases import queries as case_queries
from bot.services.cases import staff_intake as intake
from bot.services.cases.actions import Asks
from bot.services.cases.status import OPEN
from bot.services.cases.views import card_data, case_place, remote_of
from bot.services.people import access, desk_auth
from bot.web.desk.session import SESSION_COOKIE, ActionRefused, Desk, desk_view, domain_of, render
from bot.web.forms import UploadTooLarge, uploaded_file
from bot.web.keys import GRIDVOICE, FileUnavailable, telegram_file, upload_photo
from bot.web.pages import request_language


def setup(app: web.Application) -> None:
    app.router.add_get(r"/desk/cases/{human_id:GV-[0-9]{4}-[0-9]+}", case_page, name="desk_case")
    app.router.add_post(r"/desk/cases/{human_id:GV-[0-9]{4}-[0-9]+}/{action}", case_action)
    app.router.add_get(r"/desk/cases/{human_id:GV-[0-9]{4}-[0-9]+}/photos/{n:[0-9]+}", photo)
    app.router.add_get("/desk/tasks", my_tasks, name="desk_tasks")
    app.router.add_post(r"/desk/tasks/{task:[0-9]+}/{step:[a-z]+}", task_action)


async def _case_in_scope(desk: Desk, human_id: str) -> Any:
    case = await case_queries.find_in_scope(desk.uow, desk.user_id, human_id)
    if case is None:
        raise ActionRefused("desk_case_not_found", 404)
    return case


@desk_view
async def case_page(request: web.Request, desk: Desk) -> web.Response:
    uow = desk.uow
    case = await _case_in_scope(desk, request.match_info["human_id"])
    where = actions.Where(uow, case, user_id=desk.user_id)
    offered = await actions.offered_to(uow, desk.user_id, case)
    due_kind, due_at = case_queries.due_of(case)
    lang = request_language(request, uow.settings.default_language)
    templates = {
        a.name: replies.offered(uow, case, a.name, desk.user_id, lang)
        for a in offered
        if Asks.TEXT in a.asks
    }
    return render(
        request,
        "desk/case",
        me=desk.me,
        c=case,
        card=card_data(uow, case),
        submitter=await case_queries.submitter(uow, desk.user_id, case),
        assisted=await intake.assisted_contact(uow, desk.user_id, case),
        intake=await case_queries.received_from(uow, case),
        events=await notes.staff_timeline(
            uow, desk.user_id, case, await case_queries.timeline(uow, case)
        ),
        photos=await case_queries.case_photos(uow, case),
        offered=offered,
        choices=await _choices(where, offered),
        templates=templates,
        prefill=_prefill(request, templates),
        staffmap=uow.routing.gridmap.staff,
        due_kind=due_kind,
        due_at=due_at,
        overdue=due_at is not None
        and due_at < uow.now
        and case.status in OPEN
        and case.held_since is None,
        pending=await lifecycle.pending_deferral(uow, case),
        tasks=await joint.tasks_of(uow, case),
        may_waive=lambda t: joint.may_waive(uow, desk.user_id, case, t),
        is_own=lambda t: joint.is_own(uow, desk.user_id, t),
        task_name=lambda t: joint.name_of(uow, t, lang),
        dispute=await duty.pending(uow, case),
        remote=await remote_of(uow, case),
        org=await offers.status(uow, case),
        call_back=await intake.call_back_due(uow, case)
        if intake.may_see_contact(uow, desk.user_id, case)
        else None,
        now=uow.now,
        done=_done(request.query.get("done", "")),
    )


def _prefill(request: web.Request, templates: dict[str, list[Any]]) -> dict[str, str]:
    """A text box filled from a template picked without a script (`?fill=<action>&tpl=<n>`)."""
    name = request.query.get("fill", "")
    index = parse_int(request.query.get("tpl", ""), high=1000)
    offered = templates.get(name) or []
    return {name: offered[index].text} if index is not None and index < len(offered) else {}


def _done(asked: str) -> str:
    """The flash after an action: the name of one that exists (its text is `desk_done_…`)."""
    return (
        asked
        if asked in actions.BY_NAME or asked in ("ask_unreached", "filed", "contact_erased")
        else ""
    )


async def _choices(
    where: actions.Where, offered: list[actions.StaffAction]
) -> dict[str, list[Any]]:
    """The options of each offered action's choice (as value, text) for its select box."""
    gridmap = where.uow.routing.gridmap
    out: dict[str, list[Any]] = {}
    for a in offered:
        if Asks.TARGET in a.asks:
            out[a.name] = [(f"{t.kind[0]}:{t.id}", t.label) for t in actions.targets(where)]
        elif Asks.HELPER in a.asks:  # a co-handler or a summoned party of the map
            out[a.name] = [(f"{t.kind[0]}:{t.id}", t.label) for t in await actions.helpers(where)]
        elif Asks.MEMBER in a.asks:
            out[a.name] = [(str(s.telegram_id), s) for s in actions.members(where)]
        elif Asks.CATEGORY in a.asks:  # the classifier's top three first, then every one
            top = onetap.top_categories(where.uow, where.case.text)
            out[a.name] = [(c, True) for c in top]
            out[a.name] += [(c, False) for c in gridmap.categories if c not in top]
        if Asks.MENTION in a.asks:
            out[a.name] = [(str(s.telegram_id), s) for s in notes.colleagues(where.uow, where.case)]
        if Asks.REASON in a.asks:
            out[f"{a.name}:reason"] = actions.choices(where, a, Asks.REASON)
        if Asks.DAYS in a.asks:  # (days, the new resolve-by an extension would give)
            base = where.case.resolve_by if a.days_of == "extend" else None
            out[f"{a.name}:days"] = [
                (int(d), base + timedelta(days=int(d)) if base else None)
                for d in actions.choices(where, a, Asks.DAYS)
            ]
        if Asks.CLAUSE in a.asks:  # (clause id, its category, the party it names or None)
            out[f"{a.name}:clause"] = [
                (c.id, c.category, duty.party_of(gridmap, c.owner))
                for c in duty.offered_clauses(where.uow, where.case)
            ]
    return out


def _text(desk: Desk, name: str) -> str:
    """A form's text as it may be stored and shown (`clean_text`), cut to the chat's limit."""
    value = clean_text(str(desk.form.get(name, ""))).strip()
    return value[: desk.uow.settings.max_text_length]


@desk_view
async def case_action(request: web.Request, desk: Desk) -> web.Response:
    """A form of the case page: the action's answers from the form, then the same check and
    lifecycle call as a press on the chat card."""
    action = actions.BY_NAME.get(request.match_info["action"])
    if action is None:
        raise ActionRefused("not_allowed", 404)
    uow, user_id = desk.uow, desk.user_id
    found = await _case_in_scope(desk, request.match_info["human_id"])
    version = parse_int(str(desk.form.get("version", "")))
    case = await access.authorise(
        uow, user_id, found.id, version if version is not None else -1, viewing=action.in_reach
    )
    answers = [await _answer(request, desk, action, ask) for ask in action.asks]
    result = await actions.perform(uow, user_id, case, action, *answers)
    done = action.name
    if action.name == "ask" and result is False:
        done = "ask_unreached"  # the resident blocked the bot: the question waits for them
    return web.Response(
        status=303, headers={"Location": f"/desk/cases/{case.human_id}?done={done}"}
    )


async def _answer(request: web.Request, desk: Desk, action: actions.StaffAction, ask: Asks) -> Any:
    """One answer an action asks for, from its form (required ones refused when missing)."""
    if ask is Asks.TEXT:
        return _required(desk, action.text_field)
    if ask is Asks.PHOTO:
        return await _uploaded_photo(request, desk)
    if ask is Asks.CATEGORY:
        return _text(desk, "category")
    if ask is Asks.MENTION:
        picked = _text(desk, "mention")
        if not picked:
            return None
        member = parse_id(picked, high=MAX_TELEGRAM_ID)
        if member is None:
            raise ActionRefused("not_allowed", 400)
        return member
    if ask is Asks.REASON:
        return _text(desk, "hold_reason")
    if ask is Asks.DAYS:
        days = parse_int(_text(desk, "days"), low=1, high=1000)
        if days is None:
            raise ActionRefused("not_allowed", 400)
        return days
    if ask is Asks.CLAUSE:
        return _text(desk, "clause")
    target = _text(desk, "target")
    if ask is Asks.MEMBER:
        member = parse_id(target, high=MAX_TELEGRAM_ID)
        if member is None:
            raise ActionRefused("not_allowed", 400)
        return member
    return target


def _required(desk: Desk, name: str) -> str:
    value = _text(desk, name)
    if not value:
        raise ActionRefused("desk_text_required", 400)
    return value


async def _uploaded_photo(request: web.Request, desk: Desk) -> str | None:
    try:
        content = uploaded_file(desk.form, "photo")
    except UploadTooLarge:
        raise ActionRefused("desk_photo_too_large", 413) from None
    if content is None:
        return None
    filename = getattr(desk.form.get("photo"), "filename", "photo.jpg")
    try:
        return await upload_photo(request.app[GRIDVOICE], desk.user_id, content, filename)
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
    n = parse_int(request.match_info["n"], high=1000)
    if n is None or n >= len(photos):
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


# --- joint handling and summons (吹哨报到): a co-handler's tasks at the desk --------------------


@desk_view
async def my_tasks(request: web.Request, desk: Desk) -> web.Response:
    """The open tasks the signed-in person answers (their own or their party's): what the
    chat's task card shows — the case's category and place, the task, its deadlines."""
    uow = desk.uow
    lang = request_language(request, uow.settings.default_language)
    return render(
        request,
        "desk/tasks",
        me=desk.me,
        page="tasks",
        tasks=[
            (t, c, case_place(uow, c, lang)) for t, c in await joint.tasks_for(uow, desk.user_id)
        ],
        now=uow.now,
        done=request.query.get("done", "") if request.query.get("done") in TASK_STEPS else "",
    )


TASK_STEPS = (*lifecycle.TASK_STEPS, "waive")


@desk_view
async def task_action(request: web.Request, desk: Desk) -> web.Response:
    """Sign in, first contact or done (the co-handler's own staff), or waive with a reason
    (the lead): the same service calls as the chat's buttons, with the version the page was
    drawn for."""
    step = request.match_info["step"]
    task_id = parse_id(request.match_info["task"])
    version = parse_int(str(desk.form.get("version", "")))
    if step not in TASK_STEPS or task_id is None or version is None:
        raise ActionRefused("not_allowed", 400)
    uow = desk.uow
    if step == "waive":
        task = await lifecycle.waive_task(
            uow, desk.user_id, task_id, version, _required(desk, "reason")
        )
    else:
        task = await lifecycle.answer_task(uow, desk.user_id, task_id, version, step)
    if str(desk.form.get("back", "")) == "case":
        case = await lifecycle.get_case(uow, task.case_id, lock=False)
        where = f"/desk/cases/{case.human_id}#tasks"
    else:
        where = f"/desk/tasks?done={step}"
    return web.Response(status=303, headers={"Location": where})
