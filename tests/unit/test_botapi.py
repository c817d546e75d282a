"""The sender's lean Bot API client (bot/runtime/botapi.py) reads every answer as
python-telegram-bot does: the same error class and text for the same answer, so a 429, a
blocked person, a refused edit, a migrated chat or an outage is handled one way whichever
client made the call."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web
from telegram.error import TelegramError
from telegram.request import BaseRequest, RequestData

from bot.runtime.botapi import BotApi

ANSWERS: list[tuple[int, bytes]] = [
    (
        429,
        b'{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3",'
        b'"parameters":{"retry_after":3}}',
    ),
    (403, b'{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}'),
    (400, b'{"ok":false,"error_code":400,"description":"Bad Request: message is not modified"}'),
    (400, b'{"ok":false,"error_code":400,"description":"Bad Request: message to edit not found"}'),
    (
        400,
        b'{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded",'
        b'"parameters":{"migrate_to_chat_id":-1001234}}',
    ),
    (400, b'{"ok":false,"error_code":400,"description":"Bad Request: odd","parameters":{"x":1}}'),
    (401, b'{"ok":false,"error_code":401,"description":"Unauthorized"}'),
    (409, b'{"ok":false,"error_code":409,"description":"Conflict: terminated by other request"}'),
    (500, b'{"ok":false,"error_code":500,"description":"Internal Server Error"}'),
    (502, b"bad gateway"),
    (503, b""),
]


class _Canned(BaseRequest):
    """PTB's own request wrapper over one canned answer."""

    def __init__(self, code: int, body: bytes) -> None:
        self.answer = (code, body)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return None

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        return self.answer


async def _ptb_error(code: int, body: bytes) -> TelegramError:
    with pytest.raises(TelegramError) as caught:
        await _Canned(code, body).post("http://api.invalid/botX/sendMessage", RequestData())
    return caught.value


@pytest.fixture
async def api() -> Any:
    seen: list[tuple[str, Any, str]] = []
    answers: list[tuple[int, bytes]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append((request.match_info["method"], await request.json(), request.content_type))
        code, body = answers.pop(0)
        return web.Response(status=code, body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/botTOKEN/{method}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = BotApi(f"http://127.0.0.1:{port}/botTOKEN", 4)
    try:
        yield client, answers, seen
    finally:
        await client.close()
        await runner.cleanup()


@pytest.mark.parametrize(("code", "body"), ANSWERS)
async def test_an_error_answer_raises_what_ptb_raises(api: Any, code: int, body: bytes) -> None:
    client, answers, _ = api
    answers.append((code, body))
    with pytest.raises(TelegramError) as caught:
        await client.call("sendMessage", {"chat_id": 1, "text": "hi"})
    expected = await _ptb_error(code, body)
    assert type(caught.value) is type(expected)
    assert str(caught.value) == str(expected)
    assert getattr(caught.value, "retry_after", None) == getattr(expected, "retry_after", None)
    assert getattr(caught.value, "new_chat_id", None) == getattr(expected, "new_chat_id", None)


async def test_a_call_is_one_json_body_without_empty_parameters(api: Any) -> None:
    client, answers, seen = api
    answers.append((200, json.dumps({"ok": True, "result": {"message_id": 7}}).encode()))
    markup = {"inline_keyboard": [[{"text": "✅ 好", "callback_data": "d:ok"}]]}
    result = await client.call(
        "sendMessage",
        {
            "chat_id": 5,
            "text": "你好",
            "reply_markup": markup,
            "allow_paid_broadcast": True,
            "reply_parameters": None,
        },
    )
    assert result == {"message_id": 7}
    method, params, content_type = seen[0]
    assert (method, content_type) == ("sendMessage", "application/json")
    assert params == {
        "chat_id": 5,
        "text": "你好",
        "reply_markup": markup,
        "allow_paid_broadcast": True,
    }


async def test_the_api_down_is_a_network_error() -> None:
    from telegram.error import NetworkError

    client = BotApi("http://127.0.0.1:9/botTOKEN", 1)  # nothing listens on the discard port
    try:
        with pytest.raises(NetworkError):
            await client.call("sendMessage", {"chat_id": 1, "text": "hi"})
    finally:
        await client.close()
