"""No stack trace ever reaches a client: every error becomes a page or a protocol answer.

And no client can put one into the log: a body it broke (`bot.web.forms.BadBody`) or its own
disconnect is answered (if anyone is still there) with one DEBUG/INFO line; only our own
failures are logged as errors.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.web.forms import BadBody, client_gone, log_bad_body
from bot.web.keys import PAGES_KEY
from bot.web.server import BodyTimeout

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
    except BodyTimeout:
        return bad_body(request, BadBody("timeout"))
    except BadBody as bad:
        return bad_body(request, bad)
    except Exception as exc:
        if isinstance(exc, ConnectionError) and client_gone(request):
            # The client left while we answered (a download cut short): nobody to tell.
            log.debug("client left", extra={"path": request.path[:200]})
            return web.Response(status=400, text="client left")
        log.exception("web request failed", extra={"path": request.path[:200]})
        if not _is_page(request):
            if wants_json(request):
                return web.json_response({"error": "internal error"}, status=500)
            return web.Response(status=500, text="internal error")
        return _page(request, 500)


def bad_body(request: web.Request, bad: BadBody) -> web.Response:
    """A body the client broke: 400 (408 for one that stalled), in the route's format."""
    log_bad_body(request, bad)
    if wants_json(request):
        response = web.json_response({"error": "bad request body"}, status=bad.status)
    elif request.method == "POST" and "text/html" in request.headers.get("Accept", ""):
        response = _page(request, bad.status)
    else:
        response = web.Response(status=bad.status, text="bad request body")
    if bad.status == 408:
        response.force_close()
    return response


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
