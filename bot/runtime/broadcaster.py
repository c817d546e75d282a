"""The broadcaster: checks channels being linked and feeds announcements' direct messages to
the outbox batch by batch (bot/services/participation/broadcast.py), a few seconds of sending
ahead of the sender, so a district's million recipients are never read or queued at once."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.runtime.loop import run_passes
from bot.runtime.metrics import Metrics
from bot.services.participation import broadcast
from bot.services.shared.domain import Domain

log = logging.getLogger(__name__)

RECHECK = 1.0  # seconds between looks for room while a broadcast is unfinished


class Broadcaster:
    def __init__(self, domain: Domain, bot: Bot, metrics: Metrics | None = None) -> None:
        self.domain = domain
        self.bot = bot
        self.metrics = metrics or Metrics()
        self._stop = asyncio.Event()
        # Woken when an announcement or a channel link is committed; while a broadcast is
        # unfinished it looks again each `RECHECK` seconds for room behind the sender.
        self._wake = domain.broadcast_wake
        self._bot_id: int | None = None

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        await run_passes(self._stop, self._wake, self.run_once, "broadcaster")

    async def run_once(self) -> int:
        return await self.check_channels() + await self.feed()

    async def feed(self) -> int:
        """Queue direct messages until `broadcast_backlog` seconds of sending are waiting."""
        s = self.domain.settings
        room_for = int(broadcast.rate(s) * s.broadcast_backlog)
        queued = 0
        async with self.domain.unit() as uow:
            waiting = await broadcast.backlog(uow)
            pending = await broadcast.unfinished(uow)
        room = room_for - waiting
        if pending:
            self._wake.at(time.monotonic() + RECHECK)
        for announcement_id in pending:
            while room > 0 and not self._stop.is_set():
                async with self.domain.unit() as uow:
                    a = await broadcast.lock(uow, announcement_id)
                    if a is None:
                        break
                    n = await broadcast.feed(uow, a, min(s.broadcast_batch, max(room, 1)))
                    finished = a.dm_done_at is not None
                queued += n
                room -= n
                self.metrics.inc("gridvoice_broadcast_queued_total", n)
                if finished:
                    break
            if room <= 0:
                break
        return queued

    async def _me(self) -> int:
        if self._bot_id is None:
            me = await self.bot.do_api_request("getMe", api_kwargs={})
            self._bot_id = int(me["id"])
        return self._bot_id

    async def check_channels(self) -> int:
        """Ask Telegram about each channel being linked: is the bot an administrator that may
        post there? The answer goes to the committee member who linked it."""
        async with self.domain.unit() as uow:
            todo = [(c.id, c.chat_ref) for c in await broadcast.to_check(uow)]
        done = 0
        for channel_id, ref in todo:
            chat: dict[str, Any] | None = None
            member: dict[str, Any] | None = None
            error: str | None = None
            try:
                chat_id: Any = int(ref) if not ref.startswith("@") else ref
                chat = await self.bot.do_api_request("getChat", api_kwargs={"chat_id": chat_id})
                member = await self.bot.do_api_request(
                    "getChatMember", api_kwargs={"chat_id": chat["id"], "user_id": await self._me()}
                )
            except (BadRequest, Forbidden) as exc:
                error = str(exc)
            except (RetryAfter, TimedOut, NetworkError):
                log.warning("channel check postponed", extra={"channel": channel_id})
                self._wake.at(time.monotonic() + 5 * RECHECK)
                continue  # still 'checking': asked again on a later pass
            async with self.domain.unit() as uow:
                await broadcast.record_check(uow, channel_id, chat, member, error)
            done += 1
        return done
