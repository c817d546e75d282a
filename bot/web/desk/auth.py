"""Signing in to the desk: a /web one-time link, or the Mini App's initData; signing out.

A link is not spent by merely opening it (chat apps fetch links to preview them): the page asks
the person to continue, and that POST — guarded by a per-browser CSRF cookie — spends it.
"""

from __future__ import annotations

import secrets
from types import SimpleNamespace
from typing import Any

from aiohttp import web

from bot.bounds import same_secret
from bot.services.people import desk_auth
from bot.web.desk.session import (
    CSRF_FIELD,
    SESSION_COOKIE,
    clear_session_cookie,
    domain_of,
    render,
    secure_cookies,
    set_session_cookie,
)
from bot.web.forms import read_form

LOGIN_CSRF_COOKIE = "gv_desk_login"


def setup(app: web.Application) -> None:
    app.router.add_get("/desk/login", login_page, name="desk_login")
    app.router.add_post("/desk/login", login)
    app.router.add_get("/desk/app", web_app_page, name="desk_app")
    app.router.add_post("/desk/app", web_app_login)
    app.router.add_post("/desk/logout", logout, name="desk_logout")


def _login_form(request: web.Request, template: str, **data: object) -> web.Response:
    """A sign-in page whose form carries a fresh double-submit CSRF token."""
    token = secrets.token_urlsafe(24)
    response = render(request, template, login_csrf=token, **data)
    set_login_csrf(request, response, token, LOGIN_CSRF_COOKIE, "/desk")
    return response


def set_login_csrf(
    request: web.Request, response: web.StreamResponse, token: str, cookie: str, path: str
) -> None:
    """The double-submit cookie of a sign-in form (the desk's and the residents')."""
    response.set_cookie(
        cookie,
        token,
        httponly=True,
        samesite="Strict",
        secure=secure_cookies(request),
        path=path,
        max_age=3600,
    )


def login_csrf_ok(request: web.Request, form: object, cookie_name: str = LOGIN_CSRF_COOKIE) -> bool:
    cookie = request.cookies.get(cookie_name, "")
    given = str(form.get(CSRF_FIELD, ""))  # type: ignore[attr-defined]
    return bool(cookie) and same_secret(given, cookie)


async def login_page(request: web.Request) -> web.Response:
    """The page a /web link opens: whose account it signs in to (and who is signed in in this
    browser now), and the button that spends it. A dead link says why at once."""
    token = request.query.get("token", "")[:128]
    if not token:
        return render(request, "desk/signed_out", status=401)
    domain = domain_of(request)
    async with domain.unit() as uow:
        try:
            holder = await desk_auth.link_holder(uow, token)
        except desk_auth.DeskAuthError as exc:
            return render(request, "desk/refused", status=403, key=f"desk_login_{exc.key}", data={})
        current = await desk_auth.signed_in(uow, request.cookies.get(SESSION_COOKIE))
        holder_view = _person(holder)
        other = (
            _person(current.staff)
            if current is not None and current.staff_id != holder.telegram_id
            else None
        )
    return _login_form(request, "desk/login", token=token, holder=holder_view, other=other)


def _person(staff: Any) -> SimpleNamespace:
    """A staff row as plain values for a page rendered after its unit of work has closed."""
    return SimpleNamespace(telegram_id=staff.telegram_id, name=staff.name, role=staff.role)


async def login(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    if not login_csrf_ok(request, form):
        return render(request, "desk/refused", status=403, key="desk_csrf_refused", data={})
    domain = domain_of(request)
    try:
        async with domain.unit() as uow:
            token, _ = await desk_auth.redeem_link(uow, str(form.get("token", ""))[:128])
    except desk_auth.DeskAuthError as exc:
        return render(request, "desk/refused", status=403, key=f"desk_login_{exc.key}", data={})
    return _signed_in(request, token)


def _signed_in(request: web.Request, token: str) -> web.Response:
    response = web.Response(status=303, headers={"Location": "/desk/"})
    set_session_cookie(request, response, token)
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/desk")
    return response


async def web_app_page(request: web.Request) -> web.Response:
    """The Mini App: its script posts Telegram's initData (from the URL fragment) to sign in."""
    return _login_form(request, "desk/web_app")


async def web_app_login(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    if not login_csrf_ok(request, form):
        return render(request, "desk/refused", status=403, key="desk_csrf_refused", data={})
    domain = domain_of(request)
    try:
        async with domain.unit() as uow:
            token, _ = await desk_auth.login_web_app(uow, str(form.get("init_data", "")))
    except desk_auth.DeskAuthError as exc:
        return render(request, "desk/refused", status=403, key=f"desk_login_{exc.key}", data={})
    return _signed_in(request, token)


async def logout(request: web.Request) -> web.StreamResponse:
    domain = domain_of(request)
    form = await read_form(request)
    async with domain.unit() as uow:
        me = await desk_auth.signed_in(uow, request.cookies.get(SESSION_COOKIE))
        if me is None or not desk_auth.csrf_ok(me, str(form.get(CSRF_FIELD, ""))):
            return render(request, "desk/refused", status=403, key="desk_csrf_refused", data={})
        await desk_auth.end_session(uow, request.cookies.get(SESSION_COOKIE))
    response = web.Response(status=303, headers={"Location": "/desk/login?out=1"})
    clear_session_cookie(response)
    return response
