"""No stack trace ever reaches a client: every error becomes a page or a protocol answer."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.web.keys import PAGES_KEY

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def wants_json(request: web.Request) -> bool:
    return request.path.endswith(".json") or "application/json" in request.headers.get("Accept", "")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """HTTP errors as a page in the reader's language; anything unexpected logged, answered 500."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.text not in (None, "", f"{exc.status}: {exc.reason}"):
            raise
        if not _is_page(request):
            raise
        return _page(request, exc.status)
    except Exception:
        log.exception("web request failed", extra={"path": request.path[:200]})
        if not _is_page(request):
            if wants_json(request):
                return web.json_response({"error": "internal error"}, status=500)
            return web.Response(status=500, text="internal error")
        return _page(request, 500)


def _is_page(request: web.Request) -> bool:
    """Pages get HTML errors; machine endpoints keep their own error formats."""
    return request.method in ("GET", "HEAD") and not (
        wants_json(request)
        or request.path.startswith(("/open311", "/static", "/healthz", "/metrics", "/data"))
        or request.path.endswith((".xml", ".csv", ".geojson"))
    )


def _page(request: web.Request, status: int) -> web.Response:
    pages = request.app[PAGES_KEY]
    try:
        return pages.render(request, "error", status=status, code=status)
    except Exception:  # the error page itself failed: plain text, still no trace
        log.exception("error page failed")
        return web.Response(status=status, text=str(status))


def too_many(request: web.Request, wait: float) -> web.StreamResponse:
    """429 with Retry-After, in the route's own format (Open311 error list, page or text)."""
    from bot.web.ratelimit import retry_after

    if request.path.startswith("/open311"):
        from bot.web.public.open311 import too_many as open311_too_many

        return open311_too_many(request, wait)
    if _is_page(request):
        response = _page(request, 429)
    elif wants_json(request):
        response = web.json_response({"error": "too many requests"}, status=429)
    else:
        response = web.Response(status=429, text="too many requests")
    response.headers["Retry-After"] = retry_after(wait)
    return response
