"""Residents signed in on the public pages: the desk's sign-in, in the resident scope.

The same one-time /web link from the chat (`/signin?token=…`, opened, then spent by a POST
guarded by a per-browser CSRF cookie, as the desk's) or the Mini App's initData (`/signin/app`)
opens a session of the resident scope (bot/services/people/desk_auth.py). Its cookie,
`gv_resident`, is another cookie than the desk's, and a resident session opens no desk page
even when the person is staff. Every POST of a signed-in resident carries the session's CSRF
token. What a resident may do with it is the services' rule, as in the chat.
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from bot.services.participation import proposals as ps
from bot.services.people import desk_auth
from bot.services.people.desk_auth import ResidentIn
from bot.services.shared.domain import UnitOfWork
from bot.web.desk.auth import login_csrf_ok, set_login_csrf
from bot.web.desk.session import CSRF_FIELD, domain_of, secure_cookies
from bot.web.forms import read_form
from bot.web.keys import PAGES_KEY
from bot.web.pages import LANG_COOKIE

RESIDENT_COOKIE = "gv_resident"
LOGIN_COOKIE = "gv_resident_login"
LOGIN_PATH = "/signin"


def setup(app: web.Application) -> None:
    app.router.add_get("/signin", signin_page, name="resident_signin")
    app.router.add_post("/signin", signin)
    app.router.add_get("/signin/app", web_app_page, name="resident_app")
    app.router.add_post("/signin/app", web_app_signin)
    app.router.add_post("/signout", signout, name="resident_signout")


def private(request: web.Request, name: str, *, status: int = 200, **data: Any) -> web.Response:
    """A page for one person (a form, a signed-in view): never cached, never a referrer."""
    response = request.app[PAGES_KEY].render(request, name, status=status, **data)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def may_be_signed_in(request: web.Request) -> bool:
    """A resident's cookie came with the request: only then is a session looked up (a public
    page read by a passer-by opens no unit of work)."""
    return bool(request.cookies.get(RESIDENT_COOKIE))


async def resident_of(uow: UnitOfWork, request: web.Request) -> ResidentIn | None:
    """The resident signed in in this browser, or None."""
    return await desk_auth.resident_signed_in(uow, request.cookies.get(RESIDENT_COOKIE))


def csrf_ok(me: ResidentIn, form: Any) -> bool:
    given = form.get(CSRF_FIELD) if form is not None else None
    return desk_auth.csrf_ok(me, str(given) if given else None)


def _refused(request: web.Request, key: str, status: int = 403) -> web.Response:
    return private(request, "signin_refused", status=status, key=key)


def _form_page(request: web.Request, template: str, **data: Any) -> web.Response:
    token = secrets.token_urlsafe(24)
    response = private(request, template, login_csrf=token, **data)
    set_login_csrf(request, response, token, LOGIN_COOKIE, LOGIN_PATH)
    return response


async def signin_page(request: web.Request) -> web.Response:
    """The page a resident's /web link opens: the button that spends it. Without a link: how
    to get one."""
    token = request.query.get("token", "")[:128]
    if not token:
        return private(request, "signin_how", status=401)
    domain = domain_of(request)
    async with domain.unit() as uow:
        try:
            await desk_auth.resident_link_holder(uow, token)
        except desk_auth.DeskAuthError as exc:
            return _refused(request, f"res_signin_{exc.key}")
    return _form_page(request, "signin", token=token)


async def signin(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    if not login_csrf_ok(request, form, LOGIN_COOKIE):
        return _refused(request, "res_csrf_refused")
    domain = domain_of(request)
    try:
        async with domain.unit() as uow:
            token, me = await desk_auth.redeem_resident_link(uow, str(form.get("token", ""))[:128])
            home, lang = _home_and_language(uow, me)
    except desk_auth.DeskAuthError as exc:
        return _refused(request, f"res_signin_{exc.key}")
    return _signed_in(request, token, home, lang)


async def web_app_page(request: web.Request) -> web.Response:
    """The Mini App: its script posts Telegram's initData (from the URL fragment) to sign in."""
    return _form_page(request, "signin_app")


async def web_app_signin(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    if not login_csrf_ok(request, form, LOGIN_COOKIE):
        return _refused(request, "res_csrf_refused")
    domain = domain_of(request)
    try:
        async with domain.unit() as uow:
            init_data = str(form.get("init_data", ""))
            token, me = await desk_auth.login_resident_web_app(uow, init_data)
            home, lang = _home_and_language(uow, me)
    except desk_auth.DeskAuthError as exc:
        return _refused(request, f"res_signin_{exc.key}")
    return _signed_in(request, token, home, lang)


def _home_and_language(uow: UnitOfWork, me: ResidentIn) -> tuple[str, str]:
    """Where a signed-in resident lands (their community's proposals) and their language."""
    community = ps.community_of(uow, me.user.home_grid_id) if uow.domain.has_routing else None
    return (f"/communities/{community}/proposals" if community else "/"), me.user.language


def _signed_in(request: web.Request, token: str, home: str, lang: str) -> web.Response:
    response = web.Response(status=303, headers={"Location": home})
    response.set_cookie(
        RESIDENT_COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(request),
        path="/",
    )
    # The pages speak the resident's chat language from now on (the page's switch still works).
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, httponly=True, samesite="Lax")
    response.del_cookie(LOGIN_COOKIE, path=LOGIN_PATH)
    return response


async def signout(request: web.Request) -> web.StreamResponse:
    domain = domain_of(request)
    form = await read_form(request)
    async with domain.unit() as uow:
        me = await resident_of(uow, request)
        if me is None or not csrf_ok(me, form):
            return _refused(request, "res_csrf_refused")
        await desk_auth.end_session(uow, request.cookies.get(RESIDENT_COOKIE))
    response = web.Response(status=303, headers={"Location": "/"})
    response.del_cookie(RESIDENT_COOKIE, path="/")
    return response
