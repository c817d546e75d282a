"""SimClient: a small async client of the emulator's /sim control API.

Used by tests, the demo and the benchmarks to play Telegram users::

    async with SimClient(emu.url) as sim:
        await sim.create_user(42, "Ann")
        await sim.send_text(42, "/start")
        reply = await sim.wait_for(42, lambda m: "Welcome" in (m["text"] or ""))
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from types import TracebackType
from typing import Any

import aiohttp


class SimError(RuntimeError):
    """The control API answered with an error."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(f"{status}: {description}")
        self.status = status
        self.description = description


class SimClient:
    """Async client of the emulator control API at ``url``."""

    def __init__(self, url: str, session: aiohttp.ClientSession | None = None) -> None:
        self.url = url.rstrip("/")
        self._session = session
        self._own_session = session is None

    async def __aenter__(self) -> SimClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None and self._own_session:
            await self._session.close()
        self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        return self._session

    async def _request(self, method: str, path: str, **kw: Any) -> Any:
        async with self._http().request(method, self.url + path, **kw) as resp:
            body = await resp.json(content_type=None)
        if not body.get("ok"):
            raise SimError(resp.status, body.get("description", ""))
        return body["result"]

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        return await self._request("POST", path, json=body)

    async def _get(self, path: str, **params: Any) -> Any:
        return await self._request(
            "GET", path, params={k: v for k, v in params.items() if v is not None}
        )

    # -- world -----------------------------------------------------------------------
    async def create_user(
        self, id: int, first_name: str = "User", language_code: str = "en", **fields: Any
    ) -> dict[str, Any]:
        body = {"id": id, "first_name": first_name, "language_code": language_code, **fields}
        return await self._post("/sim/users", body)

    async def create_chat(
        self, id: int, title: str, members: list[int], type: str = "group"
    ) -> dict[str, Any]:
        return await self._post(
            "/sim/chats", {"id": id, "type": type, "title": title, "members": members}
        )

    async def create_channel(
        self,
        id: int,
        title: str,
        username: str | None = None,
        bot_admin: bool = True,
        can_post_messages: bool = True,
    ) -> dict[str, Any]:
        """A channel; the bot is its administrator (that may post) unless told otherwise."""
        body: dict[str, Any] = {
            "id": id,
            "type": "channel",
            "title": title,
            "bot_admin": bot_admin,
            "can_post_messages": can_post_messages,
        }
        if username:
            body["username"] = username
        return await self._post("/sim/chats", body)

    async def channel_admin(
        self, chat: int, admin: bool = True, can_post_messages: bool = True, user: int | None = None
    ) -> dict[str, Any]:
        """Promote or demote the bot (or `user`) in a channel."""
        body: dict[str, Any] = {
            "chat": chat,
            "admin": admin,
            "can_post_messages": can_post_messages,
        }
        if user is not None:
            body["user"] = user
        return await self._post("/sim/channel_admin", body)

    async def create_users(self, first: int, count: int) -> dict[str, Any]:
        """`count` users (and their private chats) with ids from `first`, in one call."""
        return await self._post("/sim/users_bulk", {"first": first, "count": count})

    async def bot_counts(self) -> dict[int, int]:
        """Chat id -> how many messages the bot has there (chats with none left out)."""
        found = await self._get("/sim/bot_counts")
        return {int(k): int(v) for k, v in found.items()}

    async def block(self, user: int, blocked: bool = True) -> dict[str, Any]:
        return await self._post("/sim/block", {"user": user, "blocked": blocked})

    # -- users acting ----------------------------------------------------------------------
    async def send_raw(self, kind: str, user: int, **fields: Any) -> dict[str, Any]:
        """Send a message of any kind the control API knows (``kind`` is its key)."""
        value = fields.pop("value", True)
        body: dict[str, Any] = {"from": user, **fields}
        body.setdefault(kind, value)
        return await self._post("/sim/messages", body)

    async def send_text(
        self, user: int, text: str, chat: int | None = None, reply_to: int | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"from": user, "text": text}
        if chat is not None:
            body["chat"] = chat
        if reply_to is not None:
            body["reply_to_message_id"] = reply_to
        return await self._post("/sim/messages", body)

    async def send_texts(self, user: int, texts: list[str]) -> dict[str, Any]:
        """A burst of texts from `user` that reach the server together, in order."""
        return await self._post("/sim/messages", {"from": user, "texts": texts})

    async def send_photo(
        self,
        user: int,
        data: bytes,
        caption: str | None = None,
        chat: int | None = None,
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"from": user, "photo": base64.b64encode(data).decode()}
        if caption is not None:
            body["caption"] = caption
        if chat is not None:
            body["chat"] = chat
        if reply_to is not None:
            body["reply_to_message_id"] = reply_to
        return await self._post("/sim/messages", body)

    async def send_album(
        self, user: int, photos: list[bytes], caption: str | None = None, chat: int | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "from": user,
            "photos": [base64.b64encode(p).decode() for p in photos],
        }
        if caption is not None:
            body["caption"] = caption
        if chat is not None:
            body["chat"] = chat
        return await self._post("/sim/messages", body)

    async def send_location(
        self, user: int, lat: float, lon: float, chat: int | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"from": user, "location": {"latitude": lat, "longitude": lon}}
        if chat is not None:
            body["chat"] = chat
        return await self._post("/sim/messages", body)

    async def send_contact(
        self, user: int, phone_number: str, first_name: str, **fields: Any
    ) -> dict[str, Any]:
        contact = {"phone_number": phone_number, "first_name": first_name, **fields}
        return await self._post("/sim/messages", {"from": user, "contact": contact})

    async def edit_text(
        self, user: int, message_id: int, text: str, chat: int | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"from": user, "message_id": message_id, "text": text}
        if chat is not None:
            body["chat"] = chat
        return await self._post("/sim/edit_message", body)

    async def press(
        self,
        user: int,
        message_id: int,
        *,
        data: str | None = None,
        button: str | None = None,
        chat: int | None = None,
        forge: bool = False,
    ) -> dict[str, Any]:
        """Press an inline button (by ``data`` or by its label ``button``)."""
        body: dict[str, Any] = {"from": user, "message_id": message_id}
        if data is not None:
            body["data"] = data
        if button is not None:
            body["button"] = button
        if chat is not None:
            body["chat"] = chat
        if forge:
            body["forge"] = True
        return await self._post("/sim/callbacks", body)

    async def callback_answer(self, callback_query_id: str) -> dict[str, Any]:
        return await self._get(f"/sim/callbacks/{callback_query_id}")

    async def inline_query(self, user: int, query: str, **fields: Any) -> dict[str, Any]:
        """Type `@bot <query>` in a chat: the update's id and the inline query's id."""
        return await self._post("/sim/inline_queries", {"from": user, "query": query, **fields})

    async def inline_answer(self, inline_query_id: str) -> dict[str, Any]:
        """The bot's answer to an inline query so far (`answered`, `results`)."""
        return await self._get(f"/sim/inline_queries/{inline_query_id}")

    async def answer_poll(self, user: int, poll_id: str, option_ids: list[int]) -> dict[str, Any]:
        return await self._post(
            "/sim/poll_answers", {"from": user, "poll_id": poll_id, "option_ids": option_ids}
        )

    async def raw_update(self, update: dict[str, Any]) -> dict[str, Any]:
        return await self._post("/sim/raw_update", {"update": update})

    async def redeliver(self, update_id: int) -> dict[str, Any]:
        return await self._post("/sim/redeliver", {"update_id": update_id})

    async def set_webhook_targets(
        self, urls: list[str], secret_token: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"urls": urls}
        if secret_token is not None:
            body["secret_token"] = secret_token
        return await self._post("/sim/webhook", body)

    # -- observing -----------------------------------------------------------------------
    async def messages(self, chat_id: int, after: int = 0) -> list[dict[str, Any]]:
        return await self._get(f"/sim/chats/{chat_id}/messages", after=after)

    async def bot_messages(self, chat_id: int, after: int = 0) -> list[dict[str, Any]]:
        return [m for m in await self.messages(chat_id, after) if m["from_bot"]]

    async def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        return await self._get("/sim/calls", method=method)

    async def stats(self) -> dict[str, Any]:
        return await self._get("/sim/stats")

    async def pending_updates(self) -> int:
        return await self._get("/sim/updates/pending")

    async def set_clock(self, now: float) -> dict[str, Any]:
        return await self._post("/sim/clock", {"now": now})

    async def reset(self) -> None:
        await self._post("/sim/reset", {})

    async def wait_for(
        self,
        chat_id: int,
        predicate: Callable[[dict[str, Any]], bool] = lambda m: True,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the documented API
        after: int = 0,
    ) -> dict[str, Any]:
        """Wait until a bot message in ``chat_id`` (after ``after``) satisfies ``predicate``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for message in await self.bot_messages(chat_id, after):
                if not message["deleted"] and predicate(message):
                    return message
            if loop.time() >= deadline:
                break
            await asyncio.sleep(0.02)
        transcript = "\n".join(
            f"  #{m['message_id']} {'BOT' if m['from_bot'] else m['from']}: "
            f"{m['text'] or m['caption'] or ''!r}"
            f"{' buttons=' + str(m['buttons']) if m['buttons'] else ''}"
            f"{' (deleted)' if m['deleted'] else ''}"
            for m in await self.messages(chat_id)
        )
        raise AssertionError(
            f"no bot message in chat {chat_id} matched within {timeout}s; transcript:\n{transcript}"
        )
