"""Durable intake: every update is stored in the inbox before Telegram is told it arrived.

Long polling advances the offset only after the updates are committed; the webhook
answers 200 only after the same. A duplicate delivery hits the inbox's primary key and
is dropped, so it can never create a second case, vote or message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from telegram import Bot
from telegram.error import NetworkError, RetryAfter, TimedOut

from bot.clock import wall_now
from bot.runtime.botapi import BotApi
from bot.runtime.metrics import Metrics
from bot.services.shared.domain import Domain
from bot.store.upserts import inbox_insert

log = logging.getLogger(__name__)

#: Telegram's most updates a getUpdates answers (its default `limit`).
LIMIT = 100

ALLOWED_UPDATES = [
    "message",
    "edited_message",
    "callback_query",
    "inline_query",
    "poll_answer",
    "my_chat_member",
]


def update_user_id(payload: dict[str, Any]) -> int | None:
    """Whose update this is, to keep each person's updates in order."""
    for key in (
        "message",
        "edited_message",
        "callback_query",
        "poll_answer",
        "my_chat_member",
        "channel_post",
        "inline_query",
    ):
        part = payload.get(key)
        if isinstance(part, dict):
            who = part.get("from") or part.get("user") or {}
            if isinstance(who, dict) and isinstance(who.get("id"), int):
                return who["id"]
            chat = part.get("chat") or {}
            if isinstance(chat, dict) and isinstance(chat.get("id"), int):
                return chat["id"]
    return None


def inbox_rows(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The inbox rows (pending) of a batch of updates; payloads without an update_id are dropped."""
    rows = []
    for payload in payloads:
        update_id = payload.get("update_id")
        if not isinstance(update_id, int):
            continue
        rows.append(
            {
                "update_id": update_id,
                "payload": payload,
                "user_id": update_user_id(payload),
                "received_at": wall_now(),
                "status": "pending",
                "attempts": 0,
            }
        )
    return rows


async def store_updates(domain: Domain, payloads: list[dict[str, Any]]) -> int:
    """Insert updates into the inbox, ignoring ones already there. Returns how many were new."""
    rows = inbox_rows(payloads)
    if not rows:
        return 0
    stmt, params = inbox_insert(rows)
    async with domain.unit() as uow:
        result = await uow.session.execute(stmt, params)
    domain.inbox_written.set()
    return max(0, result.rowcount or 0)


class Poller:
    """Long polling that confirms an update to Telegram only once it is in the inbox.

    `take_in` stores a batch (and may handle it in the same transaction: see
    `Processor.take_in`); it returns how many updates were new.
    """

    def __init__(
        self,
        domain: Domain,
        bot: Bot,
        metrics: Metrics,
        take_in: Callable[[list[dict[str, Any]]], Awaitable[int]] | None = None,
    ) -> None:
        self.domain = domain
        self.bot = bot
        self.metrics = metrics
        self.take_in = take_in or (lambda payloads: store_updates(domain, payloads))
        self.offset: int | None = None
        self._stop = asyncio.Event()
        # the long poll on the sender's lean client (bot/runtime/botapi.py): one connection,
        # read for as long as a poll may last
        self.api = BotApi(bot.base_url, 1, read_timeout=domain.settings.poll_timeout + 10)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        try:
            await self._poll()
        finally:
            await self.api.close()

    async def _poll(self) -> None:
        timeout = self.domain.settings.poll_timeout
        interval = self.domain.settings.poll_interval
        loop = asyncio.get_running_loop()
        backoff = 1.0
        while not self._stop.is_set():
            kwargs: dict[str, Any] = {"timeout": timeout, "allowed_updates": ALLOWED_UPDATES}
            if self.offset is not None:
                kwargs["offset"] = self.offset
            asked = loop.time()
            try:
                updates = await self.api.call("getUpdates", kwargs)
                backoff = 1.0
            except RetryAfter as exc:
                wait = exc.retry_after
                await asyncio.sleep(
                    wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
                )
                continue
            except (TimedOut, NetworkError) as exc:
                if self._stop.is_set():
                    return
                log.warning("getUpdates failed: %s", exc)
                await asyncio.sleep(backoff)
                backoff = min(30.0, backoff * 2)
                continue
            if not updates:
                continue
            new = await self.take_in(updates)
            self.metrics.inc("gridvoice_updates_received_total", len(updates))
            self.metrics.inc("gridvoice_updates_duplicate_total", len(updates) - new)
            self.offset = max(u["update_id"] for u in updates) + 1
            if len(updates) < LIMIT:
                await self._pause(asked + interval - loop.time())

    async def _pause(self, seconds: float) -> None:
        """Wait before asking again, so that updates coming close together are fetched and
        handled as one batch. Only a poll that answered within the interval leaves a pause: a
        long poll that waited for its update is past it, and a full batch asks again at once."""
        if seconds > 0:
            try:
                await asyncio.wait_for(self._stop.wait(), seconds)
            except TimeoutError:
                pass
