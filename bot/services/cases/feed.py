"""A small in-process notifier: who is watching cases hears when one changed.

Services call `case_changed(uow, case_id)`; the news goes out after the transaction commits
(never for a rollback). It only reaches watchers in this process: the desk also re-checks the
newest audit row every few seconds, so boards served by other replicas converge too.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from bot.services.shared.domain import Domain, UnitOfWork

QUEUE_SIZE = 100


class CaseFeed:
    """Fan-out of 'case N changed' (None: something changed, re-read everything)."""

    def __init__(self) -> None:
        self._watchers: set[asyncio.Queue[int | None]] = set()

    def publish(self, case_id: int | None) -> None:
        for queue in list(self._watchers):
            try:
                queue.put_nowait(case_id)
            except asyncio.QueueFull:  # a stalled watcher: it re-reads everything anyway
                pass

    @contextmanager
    def watch(self) -> Iterator[asyncio.Queue[int | None]]:
        queue: asyncio.Queue[int | None] = asyncio.Queue(QUEUE_SIZE)
        self._watchers.add(queue)
        try:
            yield queue
        finally:
            self._watchers.discard(queue)

    @property
    def watchers(self) -> int:
        return len(self._watchers)


_FEEDS: weakref.WeakKeyDictionary[Domain, CaseFeed] = weakref.WeakKeyDictionary()


def feed_of(domain: Domain) -> CaseFeed:
    feed = _FEEDS.get(domain)
    if feed is None:
        feed = _FEEDS[domain] = CaseFeed()
    return feed


def case_changed(uow: UnitOfWork, case_id: int) -> None:
    """Tell watchers about this case once the unit of work has committed."""
    feed = feed_of(uow.domain)
    uow.after_commit.append(lambda: feed.publish(case_id))
