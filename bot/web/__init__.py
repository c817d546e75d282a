"""The HTTP edge beside the Telegram edge: public pages, open data, Open311, the staff desk.

`bot/web/` mirrors `handlers/`: thin aiohttp views that parse a request, call the domain's read
models and services, and render a jinja2 page (`templates/web/`, text from
`templates/<lang>/web.yaml`) or a protocol answer. Views never hold SQL. Everything is served by
the same aiohttp application as the webhook, `/healthz` and `/metrics` (bot/runtime/web.py); views
reach the running bot only through the app keys of `bot/web/keys.py`, never by importing it.
"""

from __future__ import annotations

from aiohttp import web

from bot.web.errors import error_middleware, too_many
from bot.web.forwarded import TrustedProxies, forwarded_middleware
from bot.web.keys import PAGES_KEY, RunningBot
from bot.web.pages import PageRenderer, static_root
from bot.web.ratelimit import TokenBuckets, ip_rate_limit
from bot.web.server import set_server_header


def setup_web(app: web.Application, gv: RunningBot) -> None:
    """Mount every web area on the bot's aiohttp application."""
    settings = gv.domain.settings
    app[PAGES_KEY] = PageRenderer(settings, renderer=gv.domain.renderer)
    app.on_response_prepare.append(set_server_header)
    app.middlewares.append(forwarded_middleware(TrustedProxies(settings.web_trusted_proxies)))
    app.middlewares.append(error_middleware)
    app.middlewares.append(
        ip_rate_limit(TokenBuckets(settings.web_rate_per_ip, settings.web_burst_per_ip), too_many)
    )
    app.router.add_static("/static/", static_root(), name="static", append_version=True)
    from bot.web.public import (
        cases,
        dashboard,
        duties,
        open311,
        open_data,
        proposals,
        residents,
        volunteers,
    )

    app.middlewares.append(open311.open311_errors)
    dashboard.setup(app, gv.domain)
    cases.setup(app)
    open311.setup(app, gv.domain)
    open_data.setup(app)
    duties.setup(app)
    volunteers.setup(app)
    proposals.setup(app)
    residents.setup(app)
    from bot.web.desk import setup as setup_desk

    setup_desk(app)
