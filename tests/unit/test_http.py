"""The Bot API's HTTP/1.1 client (bot/runtime/http.py) against a server that answers as it is
told: keep-alive reuse, every way an answer's body may end, and every way a server may fail.
A failure is a network error or a timeout for the caller; the connection it happened on is
never used again, and the next call works."""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram.error import NetworkError, TimedOut

from bot.runtime.botapi import BotApi
from bot.runtime.http import MAX_HEAD, Http1Pool, HttpError

OK = b'{"ok":true,"result":{"message_id":7}}'


def plain(body: bytes = OK, *, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"{extra}\r\n"
    ).encode() + body


class Scripted:
    """A server that reads each request whole, records it, and does the next thing it is told:
    write these pieces (bytes, a pause in seconds, "end" to close after them), "close" (without
    answering), or "hang" (never answer)."""

    def __init__(self) -> None:
        self.script: list[Any] = []
        self.requests: list[tuple[int, bytes, bytes]] = []  # (connection, head, body)
        self.connections = 0
        self.ended: list[int] = []  # connections the client closed
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Scripted:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/botTOKEN"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    self.ended.append(number)
                    return
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                self.requests.append((number, head, body))
                action = self.script.pop(0)
                if action == "close":
                    return
                if action == "hang":
                    await reader.read()  # until the client gives up and closes
                    self.ended.append(number)
                    return
                for piece in action if isinstance(action, list) else [action]:
                    if piece == "end":
                        return
                    if isinstance(piece, float):
                        await asyncio.sleep(piece)
                    else:
                        writer.write(piece)
                        await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[Scripted]:
    async with Scripted() as s:
        yield s


def pool(url: str, connections: int = 2, **timeouts: float) -> Http1Pool:
    return Http1Pool(
        url,
        connections,
        connect_timeout=timeouts.get("connect", 2.0),
        read_timeout=timeouts.get("read", 2.0),
        pool_timeout=timeouts.get("pool", 2.0),
    )


async def test_calls_reuse_one_kept_alive_connection_and_send_the_request_whole(
    server: Scripted,
) -> None:
    server.script += [plain(), plain(b'{"ok":true,"result":true}')]
    client = BotApi(server.url, 4)
    try:
        assert await client.call("sendMessage", {"chat_id": 5, "text": "你好"}) == {"message_id": 7}
        assert await client.call("answerCallbackQuery", {"callback_query_id": "1"}) is True
    finally:
        await client.close()
    assert server.connections == 1
    (conn, head, body), (conn2, head2, _) = server.requests
    assert conn == conn2 == 1
    lines = head.decode().split("\r\n")
    port = server.url.split(":")[2].split("/")[0]
    assert lines[0] == "POST /botTOKEN/sendMessage HTTP/1.1"
    assert f"Host: 127.0.0.1:{port}" in lines
    assert "Content-Type: application/json" in lines
    assert json.loads(body) == {"chat_id": 5, "text": "你好"}
    assert head2.startswith(b"POST /botTOKEN/answerCallbackQuery HTTP/1.1\r\n")


async def test_a_chunked_answer_in_pieces_is_read_whole_and_the_connection_kept(
    server: Scripted,
) -> None:
    body = b'{"ok":true,"result":[1,2,3]}'
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"a;name=value\r\n"
        + body[:10]
        + b"\r\n"
        + f"{len(body) - 10:X}\r\n".encode()
        + body[10:]
        + b"\r\n0\r\nX-Trailer: 1\r\n\r\n"
    )
    server.script += [[chunked[i : i + 7] for i in range(0, len(chunked), 7)], plain()]
    client = pool(server.url)
    try:
        assert await client.post("getUpdates", b"{}", "application/json") == (200, body)
        assert await client.post("getUpdates", b"{}", "application/json") == (200, OK)
    finally:
        await client.close()
    assert server.connections == 1


async def test_answers_without_a_length_end_at_the_close(server: Scripted) -> None:
    async def answer_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 502 Bad Gateway\r\n\r\nbad gateway")
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(answer_then_close, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    client = BotApi(f"http://127.0.0.1:{port}/botTOKEN", 1)
    try:
        assert await client.post("sendMessage", {"chat_id": 1}) == (502, b"bad gateway")
        assert await client.post("sendMessage", {"chat_id": 1}) == (502, b"bad gateway")
    finally:
        await client.close()
        srv.close()


async def test_connection_close_or_an_idle_close_by_the_server_opens_a_new_connection(
    server: Scripted,
) -> None:
    server.script += [plain(extra="Connection: close\r\n"), [plain(), "end"], plain()]
    client = pool(server.url, connections=1)
    try:
        # the first answer asks to close; the second is followed by the server's close
        for _ in range(2):
            assert (await client.post("sendMessage", b"{}", "application/json"))[0] == 200
        await asyncio.sleep(0.1)
        assert (await client.post("sendMessage", b"{}", "application/json"))[0] == 200
    finally:
        await client.close()
    assert [conn for conn, _, _ in server.requests] == [1, 2, 3]


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -4\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * (MAX_HEAD + 10),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nonly part of it",  # then the close
        b"",  # no answer at all: the close
    ],
)
async def test_what_is_not_an_answer_is_a_network_error_and_the_next_call_works(
    server: Scripted, answer: bytes
) -> None:
    server.script += [[answer, "end"], plain()]
    client = BotApi(server.url, 1)
    try:
        with pytest.raises(NetworkError):
            await client.call("sendMessage", {"chat_id": 1})
        assert await client.call("sendMessage", {"chat_id": 1}) == {"message_id": 7}
    finally:
        await client.close()
    assert server.connections == 2  # the broken connection was not used again


async def test_no_answer_times_out_closes_the_connection_and_frees_its_place(
    server: Scripted,
) -> None:
    server.script += ["hang", plain()]
    client = BotApi(server.url, 1, read_timeout=0.3, pool_timeout=1.0)
    try:
        with pytest.raises(TimedOut):
            await client.call("getUpdates", {"timeout": 0})
        assert await client.call("sendMessage", {"chat_id": 1}) == {"message_id": 7}
    finally:
        await client.close()
    await asyncio.sleep(0.05)
    assert server.ended[:1] == [1]  # the server saw the timed-out connection closed


async def test_a_caller_waits_for_a_free_connection_up_to_the_pool_timeout(
    server: Scripted,
) -> None:
    server.script += [[0.5, plain()], plain()]
    client = BotApi(server.url, 1, pool_timeout=0.1)
    try:
        slow = asyncio.create_task(client.call("sendMessage", {"chat_id": 1}))
        await asyncio.sleep(0.05)
        with pytest.raises(TimedOut):
            await client.call("sendMessage", {"chat_id": 2})
        assert await slow == {"message_id": 7}
        assert await client.call("sendMessage", {"chat_id": 3}) == {"message_id": 7}
    finally:
        await client.close()
    assert server.connections == 1


async def test_a_cancelled_call_closes_its_connection(server: Scripted) -> None:
    server.script += [[1.0, plain()], plain()]
    client = BotApi(server.url, 1)
    try:
        call = asyncio.create_task(client.call("sendMessage", {"chat_id": 1}))
        await asyncio.sleep(0.1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        # its late answer cannot be taken for the next call's
        assert await client.call("sendMessage", {"chat_id": 2}) == {"message_id": 7}
    finally:
        await client.close()
    assert server.connections == 2


async def test_an_address_that_is_not_http_is_a_network_error_at_each_call() -> None:
    for url in ("api.example/botTOKEN", "ftp://api.example/botTOKEN", "http://h:99999/b"):
        client = BotApi(url, 1, connect_timeout=1.0)
        try:
            with pytest.raises(NetworkError):
                await client.call("getMe", {})
        finally:
            await client.close()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


async def test_an_https_address_is_spoken_to_over_tls_and_checked(
    certificate: tuple[Path, Path],
) -> None:
    key, cert = certificate
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    answers: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        answers.append(head)
        writer.write(plain())
        await writer.drain()
        await reader.read()
        writer.close()

    srv = await asyncio.start_server(serve, "localhost", 0, ssl=served)
    port = srv.sockets[0].getsockname()[1]
    trusting = ssl.create_default_context(cafile=str(cert))
    client = Http1Pool(
        f"https://localhost:{port}/botTOKEN",
        1,
        connect_timeout=2.0,
        read_timeout=2.0,
        pool_timeout=2.0,
        tls=trusting,
    )
    stranger = Http1Pool(
        f"https://localhost:{port}/botTOKEN",
        1,
        connect_timeout=2.0,
        read_timeout=2.0,
        pool_timeout=2.0,
    )
    try:
        assert await client.post("getMe", b"{}", "application/json") == (200, OK)
        assert answers[0].startswith(b"POST /botTOKEN/getMe HTTP/1.1\r\n")
        # the system's certificates do not know this one: refused, as a network failure
        with pytest.raises(HttpError, match="CERTIFICATE_VERIFY_FAILED"):
            await stranger.post("getMe", b"{}", "application/json")
    finally:
        await client.close()
        await stranger.close()
        srv.close()
