"""The sender's Bot API client: one JSON POST per call over a pool of keep-alive connections.

python-telegram-bot builds each request through its request objects, httpx and httpcore (whose
pool looks at every pooled connection on every request): most of the CPU of a sent message. The
outbox already holds each call as JSON, so this client sends it as an `application/json` body
(which the Bot API accepts like a form) over the project's small HTTP/1.1 client
(bot/runtime/http.py: less than half of aiohttp's CPU a call), and reads only the answer's
envelope. Its errors are python-telegram-bot's own classes, raised for the same answers
(`telegram.request.BaseRequest._request_wrapper`), so the sender handles a 429, a blocked
person, a refused request, a migrated chat and a network error one way whichever client made
the call. Uploads (multipart) stay with python-telegram-bot.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.runtime.http import Http1Pool, HttpError

_JSON = "application/json"
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class BotApi:
    """Bot API calls with JSON bodies, `connections` kept alive to the API server."""

    def __init__(
        self,
        base_url: str,
        connections: int,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 5.0,
        pool_timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.connections = max(1, connections)
        self._http = Http1Pool(
            self.base_url,
            self.connections,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            pool_timeout=pool_timeout,
        )

    async def close(self) -> None:
        await self._http.close()

    async def call(self, method: str, payload: dict[str, Any]) -> Any:
        """POST one call; its `result`, or the error python-telegram-bot would raise."""
        return answer(*await self.post(method, payload))

    async def post(self, method: str, payload: dict[str, Any]) -> tuple[int, bytes]:
        """POST one call; the answer's status and body (a network error or a timeout raises
        python-telegram-bot's `NetworkError` / `TimedOut`)."""
        return await self.post_body(method, body_of(payload))

    async def post_body(self, method: str, body: bytes) -> tuple[int, bytes]:
        """`post` with the call's JSON body already encoded (`body_of`)."""
        try:
            return await self._http.post(method, body, _JSON)
        except TimeoutError as exc:
            raise TimedOut(f"Timed out: {exc!r}") from exc
        except HttpError as exc:
            raise NetworkError(f"HTTP: {exc}") from exc


def body_of(payload: dict[str, Any]) -> bytes:
    """A call's JSON body: its parameters, those set to None left out."""
    return _encode({k: v for k, v in payload.items() if v is not None}).encode()


def answer(code: int, raw: bytes) -> Any:
    """A call's `result`, or the error python-telegram-bot raises for its answer."""
    if 200 <= code <= 299:
        try:
            return json.loads(raw)["result"]
        except (ValueError, KeyError, TypeError) as exc:
            raise TelegramError("Invalid server response") from exc
    raise _error(code, raw)


def message_id_of(result: Any) -> int | None:
    """The id of the message a call's `result` names (a message, or a media group's first)."""
    if isinstance(result, list):
        result = result[0] if result else None
    value = result.get("message_id") if isinstance(result, dict) else None
    return value if isinstance(value, int) else None


def _error(code: int, raw: bytes) -> TelegramError:
    """The exception python-telegram-bot raises for a non-2xx answer."""
    try:
        message = f"{HTTPStatus(code).phrase} ({code})"
    except ValueError:
        message = f"Unknown HTTPError ({code})"
    try:
        data = json.loads(raw.decode("utf-8", "replace"))
        if not isinstance(data, dict):
            raise ValueError("not an object")
    except ValueError:
        message += f". Parsing the server response {raw!r} failed"
    else:
        message = data.get("description") or message
        parameters = data.get("parameters")
        if parameters:
            if parameters.get("migrate_to_chat_id"):
                return ChatMigrated(parameters["migrate_to_chat_id"])
            if parameters.get("retry_after"):
                return RetryAfter(parameters["retry_after"])
            message += f". The server response contained unknown parameters: {parameters}"
    if code == HTTPStatus.FORBIDDEN:
        return Forbidden(message)
    if code in (HTTPStatus.NOT_FOUND, HTTPStatus.UNAUTHORIZED):
        return InvalidToken(message)
    if code == HTTPStatus.BAD_REQUEST:
        return BadRequest(message)
    if code == HTTPStatus.CONFLICT:
        return Conflict(message)
    return NetworkError(message)
