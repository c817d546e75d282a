"""The aiohttp side: the webhook receiver, /healthz, Prometheus /metrics, and the web edge.

The public pages, open data, Open311 and the staff desk live in the `bot/web/` package and are
mounted on this same application by `bot.web.setup_web`; they reach the running bot only through
the keys of `bot.web.keys`, so no view imports this package.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import func, select

from bot.runtime.intake import store_updates
from bot.store.models import InboxUpdate, OutboxMessage
from bot.web import setup_web
from bot.web.keys import GRIDVOICE

if TYPE_CHECKING:
    from bot.runtime.app import Gridvoice

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# The whole running bot (its metrics too), for the views of this module only; the web edge
# gets it as bot.web.keys.GRIDVOICE, seen through the narrow RunningBot protocol.
RUNTIME: web.AppKey[Gridvoice] = web.AppKey("gridvoice_runtime")


def build_web_app(gv: Gridvoice, webhook_path: str | None) -> web.Application:
    app = web.Application(client_max_size=2 * 1024 * 1024)
    app[RUNTIME] = gv
    app[GRIDVOICE] = gv
    app.router.add_get("/healthz", healthz, name="healthz")
    app.router.add_get("/metrics", metrics, name="metrics")
    if webhook_path:
        app.router.add_post(webhook_path, webhook, name="webhook")
    setup_web(app, gv)
    return app


async def webhook(request: web.Request) -> web.Response:
    """Store the update durably, then answer 200 at once; processing happens from the inbox."""
    gv = request.app[RUNTIME]
    secret = gv.domain.settings.webhook_secret
    if secret and not hmac.compare_digest(request.headers.get(SECRET_HEADER, ""), secret):
        return web.Response(status=403, text="forbidden")
    try:
        payload = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        return web.Response(status=400, text="bad update")
    if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
        return web.Response(status=400, text="bad update")
    new = await store_updates(gv.domain, [payload])
    gv.metrics.inc("gridvoice_updates_received_total")
    if not new:
        gv.metrics.inc("gridvoice_updates_duplicate_total")
    return web.Response(status=200, text="ok")


async def healthz(request: web.Request) -> web.Response:
    gv = request.app[RUNTIME]
    try:
        async with gv.domain.sessions() as session:
            await session.execute(select(1))
    except Exception as exc:  # the database is down: say so
        return web.json_response({"ok": False, "database": str(exc)[:200]}, status=503)
    return web.json_response({"ok": True, "grid_map": gv.domain.has_routing})


async def metrics(request: web.Request) -> web.Response:
    gv = request.app[RUNTIME]
    async with gv.domain.sessions() as session:
        backlog = (
            await session.execute(
                select(func.count()).where(OutboxMessage.status.in_(("pending", "sending")))
            )
        ).scalar_one()
        inbox = (
            await session.execute(select(func.count()).where(InboxUpdate.status == "pending"))
        ).scalar_one()
    gv.metrics.set("gridvoice_outbox_backlog", backlog)
    gv.metrics.set("gridvoice_inbox_backlog", inbox)
    return web.Response(text=gv.metrics.render(), content_type="text/plain")
