"""The HTTP edge beside the Telegram edge: public pages, open data, Open311, the staff desk.

`web/` mirrors `handlers/`: thin aiohttp views that parse a request, call the domain's read
models and services, and render a jinja2 page (`templates/web/`, text from
`templates/<lang>/web.yaml`) or a protocol answer. Views never hold SQL. Everything is served by
the same aiohttp application as the webhook, `/healthz` and `/metrics` (bot/runtime/web.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from web.errors import error_middleware
from web.pages import PAGES_KEY, PageRenderer, static_root

if TYPE_CHECKING:
    from bot.runtime.app import Gridvoice


def setup_web(app: web.Application, gv: Gridvoice) -> None:
    """Mount every web area on the bot's aiohttp application."""
    app[PAGES_KEY] = PageRenderer(gv.domain.settings)
    app.middlewares.append(error_middleware)
    app.router.add_static("/static/", static_root(), name="static", append_version=True)
    from web import home

    home.setup(app)
    from web.desk import setup as setup_desk

    setup_desk(app)
