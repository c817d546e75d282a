"""The shape both the processor and the sender run in: passes until stopped, sleeping on a wake-up."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from bot.services.shared.domain import Wake

log = logging.getLogger(__name__)

#: With nothing to do, a loop still looks once in this many seconds: the safety net for work
#: nobody woke it for (another replica's expired lease, a wake-up lost with a connection).
IDLE_PASS = 30.0


async def run_passes(
    stop: asyncio.Event,
    wake: Wake,
    one_pass: Callable[[], Awaitable[bool]],
    name: str,
    idle: float = IDLE_PASS,
) -> None:
    """Run `one_pass` until `stop`; between passes, sleep until woken, until the next known due
    time, or at most `idle` seconds. `one_pass` returns True when more work is waiting now (its
    batch was full): then the next pass starts at once.

    The wake-up is cleared before each pass, not after: work committed while a pass runs sets
    it again, so the wait returns at once instead of missing it.
    """
    while not stop.is_set():
        wake.clear()
        if wake.due is not None and wake.due <= time.monotonic():
            wake.due = None
        try:
            more = await one_pass()
        except Exception:
            log.exception("%s pass failed", name)
            more = False
            await asyncio.sleep(1)
        if more or stop.is_set():
            continue
        timeout = idle
        if wake.due is not None:
            timeout = min(timeout, max(0.0, wake.due - time.monotonic()))
        try:
            await asyncio.wait_for(wake.wait(), timeout=timeout)
        except TimeoutError:
            pass
