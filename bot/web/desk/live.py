"""Live boards: server-sent events at /desk/events, fed by the domain's case feed.

A commit that changed a case wakes every open board of this process at once. Every few seconds
one task per process also reads the newest audit row, so changes made by other replicas (or the
scheduler in another process) reach these boards too. Each stream re-checks its session on that
beat: a deactivated person's open board stops receiving.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from bot.services.cases import queries as case_queries
from bot.services.cases.feed import feed_of
from bot.services.people import desk_auth
from bot.web.desk.session import SESSION_COOKIE, domain_of

CLOSING = web.AppKey("desk_closing", asyncio.Event)
HEARTBEAT = 15.0


def setup(app: web.Application) -> None:
    app.router.add_get("/desk/events", events, name="desk_events")
    app[CLOSING] = asyncio.Event()
    app.cleanup_ctx.append(_recheck)
    app.on_shutdown.append(_close_streams)


async def _close_streams(app: web.Application) -> None:
    """Stopping: every open stream ends now (the server waits for them), not at its next beat."""
    from bot.web.keys import GRIDVOICE

    app[CLOSING].set()
    feed_of(app[GRIDVOICE].domain).publish(None)  # wakes each stream waiting for news


async def _recheck(app: web.Application) -> AsyncIterator[None]:
    """Publish 'something changed' when the newest audit row moved (any replica wrote it)."""
    from bot.web.keys import GRIDVOICE

    domain = app[GRIDVOICE].domain
    feed = feed_of(domain)

    async def loop() -> None:
        last: int | None = None
        while True:
            await asyncio.sleep(domain.settings.desk_recheck_interval)
            if not feed.watchers:
                last = None
                continue
            try:
                async with domain.sessions() as session, session.begin():
                    newest = await case_queries.latest_event_in(session)
            except Exception:  # the database is away for a moment: try on the next beat
                continue
            if last is not None and newest != last:
                feed.publish(None)
            last = newest

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    # the loop's own cancellation is its result; a cancellation of this cleanup still counts
    await asyncio.gather(task, return_exceptions=True)


async def _still_signed_in(request: web.Request) -> bool:
    domain = domain_of(request)
    async with domain.unit() as uow:
        return await desk_auth.signed_in(uow, request.cookies.get(SESSION_COOKIE)) is not None


async def events(request: web.Request) -> web.StreamResponse:
    if not await _still_signed_in(request):
        return web.Response(status=401, text="signed out")
    domain = domain_of(request)
    closing = request.app[CLOSING]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    await response.write(b"retry: 3000\nevent: ready\ndata: {}\n\n")
    beat = min(HEARTBEAT, max(0.5, domain.settings.desk_recheck_interval))
    loop = asyncio.get_running_loop()
    next_check = loop.time() + beat
    with feed_of(domain).watch() as queue, contextlib.suppress(ConnectionResetError):
        while not closing.is_set():
            try:
                await asyncio.wait_for(queue.get(), timeout=max(0.05, next_check - loop.time()))
            except TimeoutError:
                next_check = loop.time() + beat
                if not await _still_signed_in(request):
                    await response.write(b"event: signed_out\ndata: {}\n\n")
                    break
                await response.write(b": beat\n\n")
                continue
            while not queue.empty():  # a burst of changes is one refresh
                queue.get_nowait()
            if closing.is_set():
                break
            await response.write(b"event: changed\ndata: {}\n\n")
    return response
