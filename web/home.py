"""The front page: where a resident, a journalist or a city system starts."""

from __future__ import annotations

from aiohttp import web

from web.pages import PAGES_KEY


def setup(app: web.Application) -> None:
    app.router.add_get("/", home, name="home")


async def home(request: web.Request) -> web.Response:
    return request.app[PAGES_KEY].render(request, "home")
