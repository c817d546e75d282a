"""The public dashboard's read models: a community's and a grid's figures, computed in SQL.

Every figure is defined on /about/numbers (templates/web/numbers.html) from the `Rules` below:

* open now, split into new (reported within `rules.new`), stale (no update for `rules.stale`)
  and older (the rest);
* over the period (cases reported within `rules.window`): reported, resolved, median and 90th
  percentile time to first response and to resolution, on-time closure (resolved by the
  published resolution deadline, without an escalation, ÷ cases due: resolved, past their
  deadline, or escalated for a missed deadline), reopen rate (reopened ÷ resolved),
  and satisfaction — not over the period: over the cases resolved in the last
  `rules.rating_months` whole months and closed since, counted per grid and month, a cell
  only once its month is over, all its cases are closed and at least `rules.rating_minimum`
  residents rated (`bot.services.public.ratings`), so no figure moves when one resident rates;
* top categories of the last seven days, and reported vs resolved per week for `rules.weeks`.

A rate or a time over fewer than `rules.minimum` cases is not shown ("too few cases"): no grid
is judged on a handful of cases. The figures are computed by the database
(`bot.services.public.dashboard_queries`) and reused for `settings.dashboard_cache` per scope.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.services.public.dashboard_queries import (
    Context,
    open_cases,
    overview,
    percentile,
    scope_of,
)
from bot.services.public.figures import (
    Figures,
    GridLine,
    OpenCases,
    Overview,
    Rules,
    Share,
    Timing,
    Week,
)
from bot.services.shared.domain import Domain
from bot.store.db import reading

log = logging.getLogger(__name__)
# A value may be served up to this many reuse times old while its refresh runs.
STALE_FACTOR = 4


class Dashboard:
    """The read models behind the public pages, with a short-lived cache per scope."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self._cache: dict[tuple[str, ...], tuple[float, Any]] = {}
        self._running: dict[tuple[str, ...], asyncio.Future[Any]] = {}

    @property
    def rules(self) -> Rules:
        return Rules.of(self.domain.settings)

    async def community(self, grid_ids: Sequence[str] | None = None) -> Overview:
        """The figures of a set of grids (None: every grid), with a line per grid."""
        key = ("community", *(sorted(grid_ids) if grid_ids is not None else ["*"]))
        return await self._cached(key, lambda s: overview(s, self._ctx(), grid_ids, lines=True))

    async def grid(self, grid_id: str) -> Overview:
        return await self._cached(
            ("grid", grid_id), lambda s: overview(s, self._ctx(), [grid_id], lines=False)
        )

    async def open_cases(self, grid_ids: Sequence[str] | None) -> dict[str, int]:
        """Open cases per grid (for a map around a grid; None: every grid): one pass over the
        open-case index."""
        key = ("open", *(sorted(grid_ids) if grid_ids is not None else ["*"]))

        async def compute(session: AsyncConnection) -> dict[str, int]:
            scope = scope_of(list(grid_ids) if grid_ids is not None else None)
            found = await open_cases(session, self._ctx(), scope)
            return {g: o.total for g, o in found.items()}

        return await self._cached(key, compute)

    def _ctx(self) -> Context:
        return Context(
            self.domain.clock.now(), self.rules, self.domain.sqlite, self.domain.routing.gridmap.tz
        )

    async def _cached(self, key: tuple[str, ...], compute: Any) -> Any:
        """The value under `key`, computed once however many ask at once.

        Fresh values are served as they are; a value past its reuse time but younger than
        `STALE_FACTOR` times it is served while one refresh runs in the background, so readers
        of a busy page never wait for a district's figures; older or missing values are
        computed while the reader waits.
        """
        hit = self._cache.get(key)
        ttl = self.domain.settings.dashboard_cache.total_seconds()
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        running = self._running.get(key)
        if running is None:
            running = asyncio.ensure_future(self._compute(key, compute))
            self._running[key] = running
            running.add_done_callback(lambda done: self._done(key, done))
        if hit is not None and hit[0] + ttl * (STALE_FACTOR - 1) > now:
            return hit[1]
        return await asyncio.shield(running)

    def _done(self, key: tuple[str, ...], task: asyncio.Future[Any]) -> None:
        self._running.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("computing figures failed: %r", task.exception(), extra={"scope": key[:2]})

    async def _compute(self, key: tuple[str, ...], compute: Any) -> Any:
        # A read-only connection: on SQLite it takes no write lock, so the bot never waits.
        async with reading(self.domain.engine) as connection:
            value = await compute(connection)
        ttl = self.domain.settings.dashboard_cache.total_seconds()
        if ttl > 0:
            if len(self._cache) > 2048:  # a crawler walking every grid: forget, do not grow
                self._cache.clear()
            self._cache[key] = (time.monotonic() + ttl, value)
        return value


__all__ = [
    "Dashboard",
    "Figures",
    "GridLine",
    "OpenCases",
    "Overview",
    "Rules",
    "Share",
    "Timing",
    "Week",
    "percentile",
]
