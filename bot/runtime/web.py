"""The aiohttp side: the webhook receiver, /healthz, Prometheus /metrics, and the web edge.

The public pages, open data, Open311 and the staff desk live in the `bot/web/` package and are
mounted on this same application by `bot.web.setup_web`; they reach the running bot only through
the keys of `bot.web.keys`, so no view imports this package. The server under it all is
`bot.web.server.EdgeRunner` (`web_runner`): timeouts for slow clients, a connection cap per
address, quiet answers to malformed requests.

`/healthz` is cheap and says nothing about volumes (one `SELECT 1` a second at most, however
often it is asked); `/metrics` answers only `Authorization: Bearer <metrics_token>` and is off
while no token is set.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import func, select

from bot.bounds import same_secret
from bot.runtime.intake import store_updates
from bot.store.db import SQL_STATS
from bot.store.models import InboxUpdate, OutboxMessage
from bot.web import setup_web
from bot.web.forms import BODY_MAX, read_body
from bot.web.keys import GRIDVOICE
from bot.web.server import EdgeLimits, EdgeRunner

if TYPE_CHECKING:
    from bot.runtime.app import Gridvoice

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# The whole running bot (its metrics too), for the views of this module only; the web edge
# gets it as bot.web.keys.GRIDVOICE, seen through the narrow RunningBot protocol.
RUNTIME: web.AppKey[Gridvoice] = web.AppKey("gridvoice_runtime")
HEALTH_TTL = 1.0  # seconds a database check answers /healthz
HEALTH_TIMEOUT = 5.0  # a database slower than this is not healthy


class Health:
    """The database check behind /healthz: run at most once per `ttl`, one at a time."""

    def __init__(self, check: Callable[[], Awaitable[object]], ttl: float = HEALTH_TTL) -> None:
        self.check = check
        self.ttl = ttl
        self.ok = False
        self.checked_at = float("-inf")
        self.lock = asyncio.Lock()

    async def healthy(self) -> bool:
        if time.monotonic() - self.checked_at < self.ttl:
            return self.ok
        async with self.lock:
            if time.monotonic() - self.checked_at < self.ttl:
                return self.ok
            try:
                async with asyncio.timeout(HEALTH_TIMEOUT):
                    await self.check()
                self.ok = True
            except Exception as exc:  # the database is away: say so, once a second at most
                log.warning("health check: the database does not answer (%s)", type(exc).__name__)
                self.ok = False
            self.checked_at = time.monotonic()
            return self.ok


HEALTH: web.AppKey[Health] = web.AppKey("gridvoice_health", Health)


def web_runner(gv: Gridvoice, app: web.Application) -> EdgeRunner:
    """The runner serving `app` under the settings' connection limits."""
    return EdgeRunner(
        app, EdgeLimits.from_settings(gv.domain.settings, count=gv.metrics.inc), access_log=None
    )


def build_web_app(gv: Gridvoice, webhook_path: str | None) -> web.Application:
    app = web.Application(client_max_size=BODY_MAX)
    app[RUNTIME] = gv
    app[GRIDVOICE] = gv

    async def database_answers() -> None:
        async with gv.domain.sessions() as session:
            await session.execute(select(1))

    app[HEALTH] = Health(database_answers)
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
    if secret and not same_secret(request.headers.get(SECRET_HEADER, ""), secret):
        return web.Response(status=403, text="forbidden")
    try:
        payload = json.loads(await read_body(request))
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
    if not await request.app[HEALTH].healthy():
        return web.json_response({"ok": False}, status=503, headers={"Cache-Control": "no-store"})
    return web.json_response(
        {"ok": True, "grid_map": gv.domain.has_routing}, headers={"Cache-Control": "no-store"}
    )


def metrics_allowed(request: web.Request, token: str) -> bool:
    return same_secret(request.headers.get("Authorization", ""), f"Bearer {token}")


async def metrics(request: web.Request) -> web.Response:
    gv = request.app[RUNTIME]
    token = gv.domain.settings.metrics_token
    if not token:
        raise web.HTTPNotFound()
    if not metrics_allowed(request, token):
        return web.Response(
            status=401, text="unauthorized", headers={"WWW-Authenticate": 'Bearer realm="metrics"'}
        )
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
    if os.environ.get("GRIDVOICE_SQL_STATS"):
        for name, value in SQL_STATS.items():
            gv.metrics.counters[f"gridvoice_sql_{name}_total"] = value
    return web.Response(text=gv.metrics.render(), content_type="text/plain")
