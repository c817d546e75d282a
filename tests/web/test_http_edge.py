"""The web server against slow, greedy and proxied clients, on raw loopback sockets: half-sent
requests are timed out, one address cannot hold every connection, forwarded headers count only
from a trusted proxy, and the server names no versions."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.support.world import MEMBER_1, World
from tests.web.desk_helpers import web_link
from tests.web.open311_helpers import V2, issue_key

pytestmark = pytest.mark.db


def _address(world: World) -> tuple[str, int]:
    host, port = world.app.web_url.split("//", 1)[1].rsplit(":", 1)  # type: ignore[union-attr]
    return host, int(port)


async def _connect(world: World, source: str = "127.0.0.1") -> Any:
    host, port = _address(world)
    return await asyncio.open_connection(host, port, local_addr=(source, 0))


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes | None:
    """What the server sent before closing, or None if it is still open after `seconds`."""
    data = b""
    deadline = time.monotonic() + seconds
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), deadline - time.monotonic())
            if not chunk:
                return data
            data += chunk
    except (TimeoutError, ConnectionResetError):
        return data if time.monotonic() < deadline else None


async def _request(world: World, raw: bytes, source: str = "127.0.0.1") -> bytes:
    reader, writer = await _connect(world, source)
    writer.write(raw)
    await writer.drain()
    answer = await _closed_within(reader, 10)
    writer.close()
    assert answer is not None, "the server kept the connection open"
    return answer


def _get(path: str, *headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: grid.example.org", *headers, "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def test_half_sent_requests_are_closed_within_the_header_timeout(web_world: World) -> None:
    w = web_world
    w.settings_overrides = {"web_header_timeout": 0.5, "web_max_connections_per_ip": 1000}
    await w.restart_bot()
    started = time.monotonic()
    conns = [await _connect(w) for _ in range(60)]
    for n, (_, writer) in enumerate(conns):
        if n % 3 == 0:
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # stops mid-header
        elif n % 3 == 1:
            writer.write(b"GE")  # stops mid-request-line
        # and every third sends nothing at all
    answers = await asyncio.gather(*(_closed_within(r, 8) for r, _ in conns))
    for _, writer in conns:
        writer.close()
    assert all(a is not None for a in answers), "a half-sent request was kept open"
    assert time.monotonic() - started < 8
    assert any(a.startswith(b"HTTP/1.1 408") for a in answers if a)
    # A client that dribbles its headers a byte at a time is cut off too.
    reader, writer = await _connect(w)
    cut_off = False
    for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40:
        try:
            writer.write(bytes([byte]))
            await writer.drain()
        except ConnectionError:
            cut_off = True
            break
        await asyncio.sleep(0.05)
    assert cut_off or await _closed_within(reader, 3) is not None
    writer.close()
    # A prompt client is served as before, and keeps its connection between requests.
    reader, writer = await _connect(w)
    for _ in range(2):
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
    writer.close()


async def test_a_stalled_body_is_answered_408_and_the_connection_closed(
    web_world: World,
) -> None:
    w = web_world
    w.settings_overrides = {"web_body_timeout": 0.5}
    await w.restart_bot()
    key = await issue_key(w)
    reader, writer = await _connect(w)
    body = f"api_key={key}&service_code=facilities&lat=39.91".encode()
    writer.write(
        f"POST {V2}/requests.json HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body) + 500}\r\n\r\n".encode()
        + body
    )
    answer = await _closed_within(reader, 8)
    writer.close()
    assert answer is not None, "a stalled body kept its connection"
    assert answer.startswith(b"HTTP/1.1 408") and b'"code":408' in answer


async def test_one_address_cannot_hold_every_connection(web_world: World) -> None:
    w = web_world
    w.settings_overrides = {"web_max_connections_per_ip": 5, "web_header_timeout": 30}
    await w.restart_bot()
    held = [await _connect(w, "127.0.0.1") for _ in range(5)]
    reader, writer = await _connect(w, "127.0.0.1")  # the sixth
    answer = await _closed_within(reader, 3)
    writer.close()
    assert answer is not None and answer.startswith(b"HTTP/1.1 503"), answer
    # Another address is served meanwhile.
    other = await _request(w, _get("/healthz"), source="127.0.0.2")
    assert other.startswith(b"HTTP/1.1 200"), other
    # A connection given back is a place free again.
    held.pop()[1].close()
    for _ in range(50):
        answer = await _request(w, _get("/healthz"))
        if answer.startswith(b"HTTP/1.1 200"):
            break
        await asyncio.sleep(0.05)
    assert answer.startswith(b"HTTP/1.1 200"), answer
    for _, writer in held:
        writer.close()


async def test_forwarded_addresses_count_only_from_a_trusted_proxy(web_world: World) -> None:
    w = web_world
    w.settings_overrides = {
        "web_trusted_proxies": ("127.0.0.1",),
        "web_burst_per_ip": 3,
        "web_rate_per_ip": 0.01,
        "web_max_connections_per_ip": 2,
        "web_header_timeout": 30,
    }
    await w.restart_bot()
    path = f"{V2}/services.json"

    async def status(source: str, *headers: str) -> int:
        answer = await _request(w, _get(path, *headers), source=source)
        return int(answer.split(b" ", 2)[1])

    # Behind the proxy each resident has a bucket of their own: the city is not one client.
    for resident in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        assert [await status("127.0.0.1", f"X-Forwarded-For: {resident}") for _ in range(3)] == [
            200
        ] * 3
    # A client cannot pick its bucket by writing its own hop left of the proxy's.
    spoofed = "X-Forwarded-For: 203.0.113.77, 198.51.100.1"
    assert await status("127.0.0.1", spoofed) == 429
    # From a peer that is not a trusted proxy the header is ignored: it is one client.
    statuses = [await status("127.0.0.2", f"X-Forwarded-For: 203.0.113.{n}") for n in range(4)]
    assert statuses == [200, 200, 200, 429]
    # The proxy's own connections are not capped as one client's.
    held = [await _connect(w, "127.0.0.1") for _ in range(4)]
    assert (await _request(w, _get("/healthz"))).startswith(b"HTTP/1.1 200")
    for _, writer in held:
        writer.close()


async def test_https_at_the_proxy_makes_the_desk_cookies_secure(web_world: World) -> None:
    w = web_world
    w.settings_overrides = {"web_trusted_proxies": ("127.0.0.1",)}
    await w.restart_bot()
    link = await web_link(w, MEMBER_1)
    login = link[link.index("/desk/login") :]
    proxied = await _request(w, _get(login, "X-Forwarded-Proto: https"))
    assert b"Set-Cookie: gv_desk_login=" in proxied
    assert b"; Secure" in proxied.split(b"Set-Cookie: gv_desk_login=")[1].split(b"\r\n")[0]
    for source, header in (("127.0.0.2", "X-Forwarded-Proto: https"), ("127.0.0.1", "")):
        plain = await _request(w, _get(login, *([header] if header else [])), source=source)
        assert b"Set-Cookie: gv_desk_login=" in plain
        assert b"; Secure" not in plain.split(b"Set-Cookie: gv_desk_login=")[1].split(b"\r\n")[0]
    # Open311 discovery names the endpoint as the client reached it.
    discovery = await _request(w, _get("/open311/discovery.json", "X-Forwarded-Proto: https"))
    assert b'"url":"https://grid.example.org/open311/v2"' in discovery
    spoofed = await _request(
        w, _get("/open311/discovery.json", "X-Forwarded-Proto: https"), source="127.0.0.2"
    )
    assert b'"url":"http://grid.example.org/open311/v2"' in spoofed


async def test_the_server_names_no_versions(web_world: World) -> None:
    w = web_world
    for raw in (
        _get("/"),
        _get("/nowhere"),
        _get("/data/cases.csv"),
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    ):
        answer = await _request(w, raw)
        head = answer.split(b"\r\n\r\n")[0].lower()
        assert b"\r\nserver: gridvoice" in head, head
        assert b"python" not in head and b"aiohttp" not in head


async def test_head_on_a_download_sends_headers_only_and_runs_no_export(
    web_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.services.public import open_data

    w = web_world
    await w.resident(7301, address="Xingfu Garden Building 1")
    await w.report(7301, "The street light outside building 1 has been broken for a week")
    ran: list[str] = []
    for name in ("stream_public_cases", "grid_months", "grids_geojson", "datapackage"):
        original = getattr(open_data, name)

        def spy(*args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
            ran.append(_name)
            return _original(*args, **kw)

        monkeypatch.setattr(open_data, name, spy)
    paths = {
        "/data/cases.csv": "text/csv",
        "/data/cases-2026-11.csv": "text/csv",
        "/data/cases.geojson": "application/geo+json",
        "/data/grids.geojson": "application/geo+json",
        "/data/grid-months.csv": "text/csv",
        "/data/datapackage.json": "application/json",
    }
    reader, writer = await _connect(w)
    for path, kind in paths.items():
        # Keep-alive: each answer must end where its headers say, or the next one is garbled.
        writer.write(f"HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).decode().lower()
        assert head.startswith("http/1.1 200"), (path, head)
        assert f"content-type: {kind}; charset=utf-8" in head, (path, head)
        assert "transfer-encoding" not in head
        assert "content-length" not in head  # not known before the export runs
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    rest = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert rest.startswith(b"HTTP/1.1 200"), rest[:200]  # nothing was sent after any header
    assert ran == []
    # GET still downloads.
    answer = await _request(w, _get("/data/cases.csv"))
    assert b"service_request_id" in answer and "stream_public_cases" in ran


async def test_a_client_that_stops_reading_an_answer_is_dropped() -> None:
    """A download read at a trickle would hold its database cursor for as long as the client
    likes: with nothing taken for `send_timeout`, the server gives up on it."""
    import socket

    from aiohttp import web

    from bot.web.server import EdgeLimits, EdgeRunner

    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[str] = loop.create_future()

    async def flood(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        try:
            for _ in range(20_000):  # over a gigabyte: no buffer holds it
                await response.write(b"x" * 65536)
        except ConnectionResetError:
            outcome.set_result("dropped")
            return response
        outcome.set_result("written")
        return response

    app = web.Application()
    app.router.add_get("/", flood)
    runner = EdgeRunner(app, EdgeLimits(send_timeout=0.5), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.setblocking(False)
    try:
        await loop.sock_connect(client, ("127.0.0.1", runner.addresses[0][1]))
        await loop.sock_sendall(client, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        started = time.monotonic()
        assert await asyncio.wait_for(outcome, 30) == "dropped"
        assert time.monotonic() - started < 10
    finally:
        client.close()
        await runner.cleanup()
