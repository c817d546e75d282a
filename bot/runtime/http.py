"""A small HTTP/1.1 client for the Bot API: POSTs to one server over keep-alive connections.

The Bot API client (bot/runtime/botapi.py) sends every call as one JSON POST to one server and
reads one answer. aiohttp's general client (cookies, redirects, proxies, tracing, a task per
request body) spent 0.36–0.40 ms of CPU a call here; this one, 0.13–0.18 ms (1,000 POSTs to the
emulator, the answer's JSON not read): writing the request and reading its answer is all a call
needs. What it does:

- `connections` keep-alive connections at most, reused most recent first; a caller waits for
  a free one up to `pool_timeout`, and a new one is opened within `connect_timeout` (TLS for
  an ``https`` address, checked against the system's certificates unless `tls` says otherwise);
- the answer: a status line and headers (at most `MAX_HEAD` bytes), then a body of
  ``Content-Length`` bytes, ``chunked``, or up to the server's close; at most `MAX_BODY`
  bytes. The whole answer within `read_timeout` of the request;
- a connection is kept for the next call only when the answer was read whole and neither side
  asked to close it; anything else (an error, a timeout, a cancelled caller, bytes nobody
  asked for) closes it. A call is never sent twice: what to do after a failure is the
  caller's decision (the sender's rules on exactly once).

Failures raise `HttpError` (the connection failed, was lost, or answered what is not HTTP) or
`TimeoutError`; the Bot API client turns them into python-telegram-bot's `NetworkError` and
`TimedOut`.
"""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlsplit

#: The longest status line and headers read (a server sending more is not answering us).
MAX_HEAD = 64 * 1024
#: The largest body read: a full `getUpdates` answer is well under a megabyte.
MAX_BODY = 64 * 1024 * 1024


class HttpError(Exception):
    """The connection failed, was lost, or the server's answer is not HTTP/1.x."""


class _Answer(asyncio.Protocol):
    """One connection: writes a request, reads its answer into a future."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.lost = False
        self.keep = True
        # the answer being read: its status, and how its body ends
        self.status = 0
        self.length: int | None = None  # Content-Length; None: chunked or until the close
        self.chunked = False
        self.head_done = False

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            self.keep = False  # nobody asked: the connection is out of step, not reused
            self._close()
            return
        self.buf += data
        try:
            found = self._parse(eof=False)
        except HttpError as exc:
            self.keep = False
            waiter.set_exception(exc)
            self._close()
            return
        if found is not None:
            waiter.set_result(found)

    def eof_received(self) -> bool:
        self._ended(None)
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended(exc)

    # -- a request -------------------------------------------------------------------------

    def send(self, request: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.buf.clear()
        self.status, self.length, self.chunked, self.head_done = 0, None, False, False
        self.transport.write(request)
        return self.waiter

    def reusable(self) -> bool:
        return self.keep and not self.lost and not self.buf

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _ended(self, exc: Exception | None) -> None:
        self.lost = True
        self.keep = False
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        try:
            found = self._parse(eof=True)
        except HttpError as error:
            waiter.set_exception(error)
            return
        if found is not None:
            waiter.set_result(found)
        else:
            reason = f": {exc}" if exc else ""
            waiter.set_exception(HttpError(f"the server closed the connection{reason}"))

    # -- the answer ------------------------------------------------------------------------

    def _parse(self, eof: bool) -> tuple[int, bytes] | None:
        """The answer (status, body) once it is whole, else None (more to read)."""
        buf = self.buf
        while not self.head_done:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise HttpError("the answer's headers are too long")
                return None
            if end > MAX_HEAD:
                raise HttpError("the answer's headers are too long")
            self._head(bytes(buf[:end]))
            del buf[: end + 4]
            if 100 <= self.status < 200:  # an interim answer (100 Continue): the real one follows
                continue
            self.head_done = True
            if self.status in (204, 304):
                self.length = 0
        if self.chunked:
            return self._chunks()
        if self.length is not None:
            if len(buf) < self.length:
                return None
            body = bytes(buf[: self.length])
            del buf[: self.length]
            return self.status, body
        # neither length nor chunks: the body ends when the server closes
        self.keep = False
        if len(buf) > MAX_BODY:
            raise HttpError("the answer is too long")
        return (self.status, bytes(buf)) if eof else None

    def _head(self, head: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise HttpError(f"not an HTTP/1.x answer: {lines[0][:80]!r}")
        self.status = int(parts[1])
        if parts[0] == "HTTP/1.0":
            self.keep = False
        self.length, self.chunked = None, False
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise HttpError(f"a malformed header: {line[:80]!r}")
            name = name.strip().lower()
            value = value.strip()
            if name == "content-length":
                if not value.isdigit() or int(value) > MAX_BODY:
                    raise HttpError(f"a bad Content-Length: {value[:40]!r}")
                self.length = int(value)
            elif name == "transfer-encoding":
                self.chunked = value.lower().endswith("chunked")
            elif name == "connection" and "close" in value.lower():
                self.keep = False
        if self.chunked:
            self.length = None

    def _chunks(self) -> tuple[int, bytes] | None:
        """A chunked body once its last chunk and trailers are in; the buffer is left whole
        until then (a chunk is parsed from the start each time more arrives)."""
        buf = self.buf
        body = bytearray()
        at = 0
        while True:
            end = buf.find(b"\r\n", at)
            if end < 0:
                return None
            size_text = bytes(buf[at:end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise HttpError(f"a bad chunk size: {size_text[:20]!r}") from None
            if size < 0 or len(body) + size > MAX_BODY:
                raise HttpError("the answer is too long")
            at = end + 2
            if size == 0:
                # trailers, then an empty line
                while True:
                    end = buf.find(b"\r\n", at)
                    if end < 0:
                        return None
                    if end == at:
                        del buf[: end + 2]
                        return self.status, bytes(body)
                    at = end + 2
            if len(buf) < at + size + 2:
                return None
            body += buf[at : at + size]
            if buf[at + size : at + size + 2] != b"\r\n":
                raise HttpError("a chunk does not end as it should")
            at += size + 2


class Http1Pool:
    """POSTs to the server of `base_url` over at most `connections` keep-alive connections."""

    def __init__(
        self,
        base_url: str,
        connections: int,
        *,
        connect_timeout: float,
        read_timeout: float,
        pool_timeout: float,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        #: why no call can be made (an address that is not http(s)://host...), or None: each
        #: call then fails as a network error would, naming it
        self.unusable: str | None = None
        try:
            port = parts.port
        except ValueError:
            port, self.unusable = None, f"a bad port in {base_url!r}"
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.unusable = f"not an http(s) address: {base_url!r}"
        self.host = parts.hostname or ""
        self.tls = parts.scheme == "https"
        self.port = port or (443 if self.tls else 80)
        self.path = (parts.path or "/").rstrip("/") + "/"
        default_port = self.port == (443 if self.tls else 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.authority = host if default_port else f"{host}:{self.port}"
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.pool_timeout = pool_timeout
        self._slots = max(1, connections)
        self._free: asyncio.Semaphore | None = None  # made on first use, in the running loop
        self._idle: list[_Answer] = []
        self._open: set[_Answer] = set()
        #: the TLS settings of an https address (the system's certificates unless given)
        self._ssl = tls
        self.closed = False

    async def post(self, name: str, body: bytes, content_type: str) -> tuple[int, bytes]:
        """POST `body` to ``base_url + name``: the answer's status and body."""
        if self.closed or self.unusable:
            raise HttpError(self.unusable or "the client is closed")
        request = (
            f"POST {self.path}{name} HTTP/1.1\r\nHost: {self.authority}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1") + body
        free = self._semaphore()
        async with asyncio.timeout(self.pool_timeout):
            await free.acquire()
        conn: _Answer | None = None
        try:
            conn = await self._connection()
            async with asyncio.timeout(self.read_timeout):
                answer = await conn.send(request)
            if conn.reusable() and not self.closed:
                self._idle.append(conn)
            else:
                self._drop(conn)
            conn = None
            return answer
        except TimeoutError:
            raise  # an OSError too: the caller tells a timeout apart
        except OSError as exc:
            raise HttpError(f"{type(exc).__name__}: {exc}") from exc
        finally:
            if conn is not None:  # failed, timed out or cancelled: its state is unknown
                self._drop(conn)
            free.release()

    async def close(self) -> None:
        self.closed = True
        for conn in list(self._open):
            self._drop(conn)
        self._idle.clear()

    def _semaphore(self) -> asyncio.Semaphore:
        if self._free is None:
            self._free = asyncio.Semaphore(self._slots)
        return self._free

    async def _connection(self) -> _Answer:
        while self._idle:
            conn = self._idle.pop()
            if conn.reusable():
                return conn
            self._drop(conn)
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self.connect_timeout):
            if self.tls:
                if self._ssl is None:
                    self._ssl = ssl.create_default_context()
                _, conn = await loop.create_connection(
                    _Answer, self.host, self.port, ssl=self._ssl, server_hostname=self.host
                )
            else:
                _, conn = await loop.create_connection(_Answer, self.host, self.port)
        self._open.add(conn)
        return conn

    def _drop(self, conn: _Answer) -> None:
        conn.keep = False
        conn._close()
        self._open.discard(conn)
