"""Webhook delivery: POST pending updates to the bot, with retries and round-robin targets."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp

from bot.emulator.state import PendingUpdate, World

log = logging.getLogger(__name__)

MAX_BACKOFF = 2.0
BASE_BACKOFF = 0.05


class WebhookDeliverer:
    """Background task that delivers updates while a webhook is set."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._in_flight: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self._task = asyncio.create_task(self._run(), name="emulator-webhook")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._in_flight) if t is not None]
        for task in tasks:
            task.cancel()
        # their cancellation (or failure) is their result; a cancellation of stop still counts
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def _targets(self) -> list[str]:
        hook = self.world.webhook
        return list(hook.targets) or ([hook.url] if hook.url else [])

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            hook = self.world.webhook
            wait = 1.0
            if self._targets():
                allowed = hook.allowed_updates
                for item in list(self.world.pending):
                    if len(self._in_flight) >= hook.max_connections:
                        break
                    if item.in_flight:
                        continue
                    kind = next((k for k in item.update if k != "update_id"), "")
                    if allowed and kind not in allowed and not item.forced:
                        self.world.pending.remove(item)
                        continue
                    delay = item.next_try - loop.time()
                    if delay > 0:
                        wait = min(wait, delay)
                        continue
                    item.in_flight = True
                    task = asyncio.create_task(self._deliver(item))
                    self._in_flight.add(task)
                    task.add_done_callback(self._in_flight.discard)
            await self.world.wait_changed(wait)

    async def _deliver(self, item: PendingUpdate) -> None:
        loop = asyncio.get_running_loop()
        hook = self.world.webhook
        targets = self._targets()
        if not targets or self._session is None:
            item.in_flight = False
            return
        url = targets[hook.rr % len(targets)]
        hook.rr += 1
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        status: int | None = None
        error = ""
        try:
            async with self._session.post(url, json=item.update, headers=headers) as resp:
                status = resp.status
                await resp.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = f"Connection error: {exc.__class__.__name__}"
        ok = status is not None and 200 <= status < 300
        self.world.webhook_deliveries.append(
            {
                "update_id": item.update["update_id"],
                "url": url,
                "status": status,
                "ok": ok,
                "attempt": item.attempts + 1,
                "time": self.world.now(),
            }
        )
        if ok:
            with contextlib.suppress(ValueError):
                self.world.pending.remove(item)
        else:
            item.attempts += 1
            item.next_try = loop.time() + min(MAX_BACKOFF, BASE_BACKOFF * 2**item.attempts)
            hook.last_error_date = self.world.unix()
            hook.last_error_message = error or f"Wrong response from the webhook: {status}"
            log.debug(
                "webhook delivery of %s to %s failed: %s",
                item.update["update_id"],
                url,
                error or status,
            )
        item.in_flight = False
        self.world.notify()
