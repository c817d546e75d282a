"""The HTTP server under the web edge: what a slow, idle, greedy or malformed connection gets.

aiohttp's protocol (`RequestHandler`) waits for a request's headers as long as a keep-alive
connection may live and never for a body at all, so a client that sends half a request holds a
connection (a file descriptor, a buffer) for as long as it likes, and the rate limits — which
run once the headers are in — never see it. `EdgeProtocol` is aiohttp's protocol with, per
connection:

* **headers**: a request's headers are complete `header_timeout` seconds after its first byte
  (after the connection opened, for the first request), or the answer is 408 and the
  connection closes;
* **body**: a request's body is complete `body_timeout` seconds after its headers, or reading
  it fails with `BodyTimeout` (answered 408) and the connection closes after the answer;
* **idle**: a keep-alive connection with no request for `idle_timeout` seconds is closed;
* **reading**: a client that takes nothing of an answer for `send_timeout` seconds while the
  server waits to write more (a download read at a trickle holds a database cursor) is dropped;
* **per address**: one client (`forwarded.client_key`: an IPv4 address, an IPv6 /64) holds at
  most `max_per_address` connections; one more is answered 503 and closed at once. Trusted
  proxies (`web_trusted_proxies`) are not counted: their clients are theirs to limit.

It also answers malformed requests (a bad request line, oversized headers, bytes that are not
HTTP) with a short 400 and a DEBUG line — aiohttp logs each with a traceback at ERROR, which
would let anyone write tracebacks into the log — and names no versions in `Server`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.client_exceptions import ClientConnectionResetError
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from bot.web.forwarded import TrustedProxies, client_key

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

SERVER = "gridvoice"
# A request line may hold 32 KiB: Open311's 1,000 request ids (15 KB) fit in one URL.
MAX_REQUEST_LINE = 32 * 1024


class BodyTimeout(TimeoutError):
    """A request's body did not arrive within `body_timeout` (answered 408)."""


def _plain(status: str, text: str, *extra: str) -> bytes:
    body = text.encode()
    head = [
        f"HTTP/1.1 {status}",
        f"Server: {SERVER}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}",
        *extra,
        "Connection: close",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


REFUSED = _plain("503 Service Unavailable", "too many connections\n", "Retry-After: 10")
TIMED_OUT = _plain("408 Request Timeout", "request timeout\n")


def _count_nothing(name: str) -> None:
    return None


@dataclass(frozen=True)
class EdgeLimits:
    """The connection limits (Settings' `web_*`); `count` is told each refusal by name."""

    header_timeout: float = 15.0
    body_timeout: float = 60.0
    idle_timeout: float = 75.0
    send_timeout: float = 60.0
    max_per_address: int = 50
    proxies: TrustedProxies = field(default_factory=TrustedProxies)
    count: Callable[[str], None] = _count_nothing

    @classmethod
    def from_settings(
        cls, settings: Settings, count: Callable[[str], None] | None = None
    ) -> EdgeLimits:
        return cls(
            header_timeout=settings.web_header_timeout,
            body_timeout=settings.web_body_timeout,
            idle_timeout=settings.web_idle_timeout,
            send_timeout=settings.web_send_timeout,
            max_per_address=settings.web_max_connections_per_ip,
            proxies=TrustedProxies(settings.web_trusted_proxies),
            count=count or _count_nothing,
        )


class EdgeProtocol(RequestHandler):
    """aiohttp's HTTP/1.1 protocol with the limits above."""

    def __init__(self, manager: EdgeServer, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._edge = manager
        self._limits = manager.limits
        self._client: str | None = None  # counted against the per-address cap
        self._refused = False
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._open_body: StreamReader | None = None

    # --- the connection ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple | list) and peer else None
        if isinstance(address, str) and not self._limits.proxies.trusts(address):
            key = client_key(address)
            if not self._edge.admit(key):
                self._refused = True
                self._limits.count("gridvoice_http_connections_refused_total")
                log.debug("too many connections from %s", key)
                transport.write(REFUSED)  # type: ignore[attr-defined]
                transport.close()
                return
            self._client = key
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._refused:
            return
        self._cancel_header_timer()
        self._cancel_body_timer()
        if self._client is not None:
            self._edge.release(self._client)
            self._client = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        parsed = self._request_count
        super().data_received(data)
        if self._request_count != parsed:  # a request's headers are complete
            self._cancel_header_timer()
            if self._messages:
                _, payload = self._messages[-1]
                if not payload.is_eof():
                    self._watch_body(payload)
        elif (
            data
            and self._header_timer is None
            and self._open_body is None
            and not (self._close or self._force_close)
        ):
            self._arm_header_timer()  # the first bytes of the next request

    # --- headers ----------------------------------------------------------------------------

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self._loop.call_later(
            self._limits.header_timeout, self._headers_timed_out
        )

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self.transport is None or self._force_close:
            return
        self._limits.count("gridvoice_http_header_timeouts_total")
        log.debug("request headers timed out", extra={"client": self._client})
        if getattr(self, "_request_in_progress", False) or self._messages:
            self.close()  # answer the request in hand, then hang up
            return
        self.transport.write(TIMED_OUT)
        self.force_close()

    # --- body -------------------------------------------------------------------------------

    def _watch_body(self, payload: StreamReader) -> None:
        self._cancel_body_timer()
        self._open_body = payload
        self._body_timer = self._loop.call_later(
            self._limits.body_timeout, self._body_timed_out, payload
        )
        payload.on_eof(self._body_complete)

    def _body_complete(self) -> None:
        self._cancel_body_timer()
        self._open_body = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_timed_out(self, payload: StreamReader) -> None:
        self._body_timer = None
        self._open_body = None
        if payload.is_eof() or self.transport is None:
            return
        self._limits.count("gridvoice_http_body_timeouts_total")
        log.debug("request body timed out", extra={"client": self._client})
        # The view reading it gets BodyTimeout (answered 408); the connection closes after it.
        payload.set_exception(BodyTimeout())
        self.close()

    # --- answers ----------------------------------------------------------------------------

    async def _drain_helper(self) -> None:
        """Wait for the client to take what was written — `send_timeout` at most."""
        if self.transport is None or not self._paused:
            return await super()._drain_helper()
        try:
            async with asyncio.timeout(self._limits.send_timeout):
                await super()._drain_helper()
        except TimeoutError:
            self._limits.count("gridvoice_http_send_timeouts_total")
            log.debug("client stopped reading", extra={"client": self._client})
            self.force_close()
            raise ClientConnectionResetError("the client stopped reading") from None

    # --- malformed requests -----------------------------------------------------------------

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500 and not isinstance(exc, HttpProcessingError):
            response = super().handle_error(request, status, exc, message)  # ours: logged
            response.headers["Server"] = SERVER
            return response
        self._limits.count("gridvoice_http_malformed_total")
        log.debug("malformed request: %s", type(exc).__name__ if exc else status)
        if request.writer.output_size > 0:
            raise ConnectionError("malformed request after a response was started")
        text = "request line or header too long\n" if isinstance(exc, LineTooLong) else None
        response = web.Response(
            status=status if 400 <= status < 500 else 400,
            text=text or "bad request\n",
            headers={"Server": SERVER},
        )
        response.force_close()
        return response


class EdgeServer(web.Server):
    """aiohttp's low-level server making `EdgeProtocol`s, and the per-address counts."""

    def __init__(self, handler: Any, *, limits: EdgeLimits, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.limits = limits
        self._open: dict[str, int] = {}

    def admit(self, key: str) -> bool:
        held = self._open.get(key, 0)
        if held >= self.limits.max_per_address:
            return False
        self._open[key] = held + 1
        return True

    def release(self, key: str) -> None:
        held = self._open.get(key, 0) - 1
        if held > 0:
            self._open[key] = held
        else:
            self._open.pop(key, None)

    def open_connections(self, key: str) -> int:
        return self._open.get(key, 0)

    def __call__(self) -> RequestHandler:
        return EdgeProtocol(self, loop=self._loop, **self._kwargs)


class EdgeRunner(web.AppRunner):
    """`web.AppRunner` whose server is an `EdgeServer`: the application's handler, signals
    and start-up as usual, the connections under `limits`."""

    def __init__(self, app: web.Application, limits: EdgeLimits, **kwargs: Any) -> None:
        kwargs.setdefault("keepalive_timeout", limits.idle_timeout)
        kwargs.setdefault("max_line_size", MAX_REQUEST_LINE)
        super().__init__(app, **kwargs)
        self.limits = limits

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()
        return EdgeServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            limits=self.limits,
            **self._kwargs,
        )


async def set_server_header(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: the product's name, never aiohttp's and Python's versions."""
    response.headers["Server"] = SERVER
