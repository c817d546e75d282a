"""The desk's request plumbing: who is signed in, CSRF on every POST, pages in their language.

`desk_view` opens one unit of work per request, resolves the session against the staff table
(a deactivated person is signed out at once), checks the form's CSRF token on POST, and turns a
refused case action into a page — after the unit has rolled back, so nothing of it is kept.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from aiohttp import web

from bot.services.people import desk_auth, policy
from bot.services.people.access import CaseActionError
from bot.services.people.desk_auth import SignedIn
from bot.services.shared.domain import Domain, UnitOfWork
from bot.web.forms import read_form
from bot.web.keys import GRIDVOICE, PAGES_KEY
from bot.web.pages import request_language
from routing.gridmap import GridMap

SESSION_COOKIE = "gv_desk"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
# Scripts, styles and images only from the desk itself; framed only by itself and Telegram Web
# (where the Mini App runs); forms post only back to the desk.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'self' https://web.telegram.org"
)


@dataclass
class Desk:
    """What a desk view gets: the unit of work, the signed-in person, the form and language."""

    uow: UnitOfWork
    me: SignedIn
    lang: str
    form: Any = None  # the POSTed form (MultiDictProxy), already CSRF-checked

    @property
    def user_id(self) -> int:
        return self.me.staff_id


DeskHandler = Callable[[web.Request, Desk], Awaitable[web.StreamResponse]]


def domain_of(request: web.Request) -> Domain:
    return request.app[GRIDVOICE].domain


def secure_cookies(request: web.Request) -> bool:
    """Cookies only over https: the public URL says so, or the request came over https (as a
    trusted proxy's X-Forwarded-Proto tells, bot/web/forwarded.py)."""
    url = domain_of(request).settings.public_url or ""
    return url.startswith("https://") or request.secure


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(request),
        path="/desk",
    )


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/desk")


class ActionRefused(Exception):
    """Raised inside a desk unit of work so it rolls back; rendered as a refusal page."""

    def __init__(self, key: str, status: int = 403, **data: Any) -> None:
        super().__init__(key)
        self.key, self.status, self.data = key, status, data


def person_name(gridmap: GridMap | None, telegram_id: int | None, name: str, lang: str) -> str:
    """A staff member's name as the desk shows it. A party's account is named after its party
    (one language in the staff table): the desk shows the party's name in the page's language."""
    staff = gridmap.staff.get(telegram_id or 0) if gridmap is not None else None
    party = gridmap.parties.get(staff.party_id or "") if staff is not None else None
    if staff is not None and party is not None and staff.name in (party.name.en, party.name.zh):
        return party.name.get(lang)
    return name or (staff.name if staff is not None else "")


def render(request: web.Request, name: str, *, status: int = 200, **data: Any) -> web.Response:
    """A desk page: web.yaml texts via `t`, chat labels (statuses, categories) via `label`,
    staff names via `person` (a party's account by its party's name in the page's language)."""
    domain = domain_of(request)
    lang = request_language(request, domain.settings.default_language)
    gridmap = domain.routing.gridmap if domain.has_routing else None

    def label(key: str, **kw: Any) -> str:
        return domain.renderer.label(lang, key, **kw)

    def person(telegram_id: int | None, name: str = "") -> str:
        return person_name(gridmap, telegram_id, name, lang)

    pages = request.app[PAGES_KEY]
    response = pages.render(
        request, name, status=status, label=label, may=policy.role_may, person=person, **data
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def desk_view(handler: DeskHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    @functools.wraps(handler)
    async def view(request: web.Request) -> web.StreamResponse:
        domain = domain_of(request)
        lang = request_language(request, domain.settings.default_language)
        if not domain.has_routing:
            await domain.reload_routing()
            if not domain.has_routing:
                raise web.HTTPServiceUnavailable()
        viewer: dict[str, Any] = {}
        # Read the body before the transaction: a slow upload must not hold the writer lock.
        form = await read_form(request) if request.method == "POST" else None
        try:
            async with domain.unit() as uow:
                me = await desk_auth.signed_in(uow, request.cookies.get(SESSION_COOKIE))
                if me is None:
                    response = _signed_out(request)
                else:
                    viewer["me"] = _viewer(me)
                    desk = Desk(uow=uow, me=me, lang=lang)
                    if form is not None:
                        desk.form = form
                        given = desk.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
                        if not desk_auth.csrf_ok(me, str(given) if given else None):
                            raise ActionRefused("desk_csrf_refused", 403)
                    response = await handler(request, desk)
        except CaseActionError as exc:
            return render(request, "desk/refused", status=403, key=exc.key, data=exc.data, **viewer)
        except ActionRefused as exc:
            return render(
                request, "desk/refused", status=exc.status, key=exc.key, data=exc.data, **viewer
            )
        return response

    return view


def _viewer(me: SignedIn) -> SimpleNamespace:
    """Who is signed in, as plain values the refusal page can show after a rollback."""
    staff = SimpleNamespace(
        telegram_id=me.staff.telegram_id, name=me.staff.name, role=me.staff.role
    )
    return SimpleNamespace(staff=staff, csrf=me.csrf)


def _signed_out(request: web.Request) -> web.StreamResponse:
    """Pages send the person to sign in again; anything else is simply refused."""
    if request.method == "GET" and "text/event-stream" not in request.headers.get("Accept", ""):
        response: web.StreamResponse = render(request, "desk/signed_out", status=401)
    else:
        response = web.Response(status=401, text="signed out")
    clear_session_cookie(response)
    return response
