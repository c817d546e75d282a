"""The shape both the processor and the sender run in: passes until stopped, sleeping on a wake-up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def run_passes(
    stop: asyncio.Event, wake: asyncio.Event, one_pass: Callable[[], Awaitable[int]], name: str
) -> None:
    """Run `one_pass` until `stop`; after a pass that found nothing, wait for `wake` (or 0.5 s).

    The event is cleared before each pass, not after: work committed while a pass runs sets
    it again, so the wait returns at once instead of missing the wake-up.
    """
    while not stop.is_set():
        wake.clear()
        try:
            done = await one_pass()
        except Exception:
            log.exception("%s pass failed", name)
            done = 0
            await asyncio.sleep(1)
        if done == 0 and not stop.is_set():
            try:
                await asyncio.wait_for(wake.wait(), timeout=0.5)
            except TimeoutError:
                pass
