"""The desk's intake form: a case found on patrol, or filed for a resident without Telegram
(a phone call, a walk-in) with their consent and how they want to hear back — the same
`bot.services.cases.staff_intake` functions as the chat's `/patrol` and `/assist`."""

from __future__ import annotations

from aiohttp import web

from bot.bounds import clean_text, parse_float
from bot.services.cases import queries as case_queries
from bot.services.cases import staff_intake as intake
from bot.web.desk.session import ActionRefused, Desk, desk_view, render


def setup(app: web.Application) -> None:
    app.router.add_get("/desk/intake", intake_page, name="desk_intake")
    app.router.add_post("/desk/intake", intake_post)
    app.router.add_post(r"/desk/cases/{human_id:GV-[0-9]{4}-[0-9]+}/contact/erase", erase_contact)


def _text(desk: Desk, name: str, limit: int = 2000) -> str:
    return clean_text(str(desk.form.get(name, ""))).strip()[:limit]


@desk_view
async def intake_page(request: web.Request, desk: Desk) -> web.Response:
    if not intake.may_file(desk.uow, desk.user_id):
        raise ActionRefused("not_allowed", 403)
    return render(request, "desk/intake", me=desk.me, page="intake")


@desk_view
async def intake_post(request: web.Request, desk: Desk) -> web.Response:
    """File the form: refused with the reason when the place, the words, the phone or the
    resident's consent is missing — nothing is filed then."""
    uow, user_id = desk.uow, desk.user_id
    kind = _text(desk, "kind", 16)
    words = _text(desk, "words")
    lat = parse_float(_text(desk, "lat", 32) or None, low=-90, high=90)
    lon = parse_float(_text(desk, "lon", 32) or None, low=-180, high=180)
    try:
        place = intake.place_of(
            uow,
            point=(lat, lon) if lat is not None and lon is not None else None,
            words=_text(desk, "place", 256),
        )
        if kind == "patrol":
            case = await intake.file_patrol(
                uow, user_id, text=words, place=place, photos=[], language=desk.lang
            )
        elif kind == "assisted":
            case = await intake.file_assisted(
                uow,
                user_id,
                text=words,
                place=place,
                channel=_text(desk, "channel", 16),
                hear_back=_text(desk, "hear_back", 16),
                phone=_text(desk, "phone", 32) or None,
                consent=desk.form.get("consent") == "yes",
                language=desk.lang,
            )
        else:
            raise ActionRefused("not_allowed", 400)
    except intake.IntakeError as exc:
        raise ActionRefused(exc.key, 400) from exc
    return web.Response(status=303, headers={"Location": f"/desk/cases/{case.human_id}?done=filed"})


@desk_view
async def erase_contact(request: web.Request, desk: Desk) -> web.Response:
    """The resident asked to be forgotten: their phone number goes (staff who may see it)."""
    case = await case_queries.find_in_scope(desk.uow, desk.user_id, request.match_info["human_id"])
    if case is None:
        raise ActionRefused("desk_case_not_found", 404)
    try:
        await intake.erase_contact(desk.uow, desk.user_id, case)
    except intake.IntakeError as exc:
        raise ActionRefused(exc.key, 403) from exc
    return web.Response(
        status=303, headers={"Location": f"/desk/cases/{case.human_id}?done=contact_erased"}
    )
