"""How every sub-command that touches the database starts, written once.

Settings come from the environment (plus the command's own options), the schema is brought up
to date, a `Domain` is opened on the store with the stored grid map, and it is disposed of on
the way out; `start_bot` does the same for the long-running bot. A sub-command holds only its
own work.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.runtime.app import Gridvoice
    from bot.services.shared.domain import Domain

NO_MAP = "ERROR no grid map loaded: run `gridvoice grids load FILE` first"


class NoGridMap(Exception):
    """The command needs a grid map and none is stored."""


def settings_from_env(**overrides: Any) -> Settings:
    """The deployment's settings; options given on the command line win (None = not given)."""
    from bot.config import Settings

    return Settings.from_env(**overrides)


@asynccontextmanager
async def ready_domain(
    settings: Settings | None = None, *, need_map: bool = False
) -> AsyncIterator[Domain]:
    """A domain on an up-to-date store with the stored map loaded; raises NoGridMap if asked."""
    from bot.services.shared.domain import Domain
    from bot.store.db import upgrade

    settings = settings or settings_from_env()
    await upgrade(settings.database_url)
    domain = Domain(settings)
    try:
        await domain.reload_routing(force=True)
        if need_map and not domain.has_routing:
            raise NoGridMap
        yield domain
    finally:
        await domain.dispose()


async def with_domain(
    action: Callable[[Domain], Awaitable[int]],
    settings: Settings | None = None,
    *,
    need_map: bool = False,
) -> int:
    """One command's work on a ready domain; its exit code (1, said why, if a map is missing)."""
    try:
        async with ready_domain(settings, need_map=need_map) as domain:
            return await action(domain)
    except NoGridMap:
        print(NO_MAP)
        return 1


def run_with_domain(
    action: Callable[[Domain], Awaitable[int]],
    settings: Settings | None = None,
    *,
    need_map: bool = False,
) -> int:
    """`with_domain` from synchronous code: what a sub-command's ``func`` calls."""
    return asyncio.run(with_domain(action, settings, need_map=need_map))


async def start_bot(settings: Settings, grid_map: str | None = None) -> Gridvoice:
    """The store brought up to date, `grid_map` loaded if its text changed, the bot started."""
    from bot.runtime.app import Gridvoice
    from bot.services.shared.gridmap_store import ensure_loaded

    async with ready_domain(settings) as domain:
        if grid_map:
            await ensure_loaded(domain, grid_map)
    gv = Gridvoice(settings)
    await gv.start(migrate=False)
    return gv


async def freeze_when_warm(gv: Gridvoice) -> None:
    """Once the bot is up, its classifier's second voter loaded too: what is alive then (the
    code, the models, the grid map: a few hundred thousand objects) lives as long as the
    process, so the garbage collector's full passes stop walking it (`gc.freeze`). Such a
    pass took about 40 ms of the event loop each; the young objects of a report are still
    collected as before. For the process that runs the bot (`gridvoice run`), not for a test
    process that starts many."""
    if gv.warm_task is not None:
        with contextlib.suppress(BaseException):
            await asyncio.shield(gv.warm_task)
    gc.collect()
    gc.freeze()
