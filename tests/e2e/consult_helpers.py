"""Shared steps for consultation tests: many verified residents fast, the /consult dialogue."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from gv_world import COMMITTEE, World

from bot.services.people.residents import pseudonym_for
from bot.store.models import User

GRIDS = ["xingfu-1", "xingfu-2", "xingfu-3", "xingfu-4"]


async def add_residents(
    world: World, ids: list[int], grid_of: Any, *, verified: bool = True
) -> None:
    """Residents created directly in the store (consented, home grid, verified) and in the emulator."""
    assert world.app is not None
    for start in range(0, len(ids), 50):
        await asyncio.gather(
            *(
                world.sim.create_user(i, f"Resident{i}", language_code="en")
                for i in ids[start : start + 50]
            )
        )
    async with world.app.domain.unit() as uow:
        for i in ids:
            uow.session.add(
                User(
                    id=i,
                    language="en",
                    pseudonym=pseudonym_for(i),
                    created_at=uow.now,
                    consent_at=uow.now,
                    home_grid_id=grid_of(i),
                    verified=verified,
                    state_data={},
                    muted_announcements=False,
                    unreachable=False,
                )
            )


async def press_data(
    world: World, user: int, message: dict[str, Any], prefix: str, chat: int | None = None
) -> None:
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            if button["callback_data"].startswith(prefix):
                await world.sim.press(
                    user, message["message_id"], data=button["callback_data"], chat=chat
                )
                return
    raise AssertionError(f"no button {prefix!r} in {message.get('reply_markup')}")


async def step(world: World, action: Any) -> dict[str, Any]:
    after = await world.last_id(COMMITTEE)
    await action()
    return await world.wait_bot(COMMITTEE, after=after)


async def create_consultation(
    world: World,
    *,
    grids: list[str],
    secret: bool,
    options: str = "Yes\nNo\nLater",
    change: bool = False,
    days: int = 3,
) -> tuple[int, dict[str, Any]]:
    m = await step(world, lambda: world.say(COMMITTEE, "/consult"))
    m = await step(world, lambda: world.say(COMMITTEE, "Should we add a bicycle shed?"))
    m = await step(world, lambda: world.say(COMMITTEE, options))
    m = await step(world, lambda: press_data(world, COMMITTEE, m, "k:kind:1"))
    for g in grids:
        m = await step(world, lambda g=g, m=m: press_data(world, COMMITTEE, m, f"k:g:{g}"))
    m = await step(world, lambda: press_data(world, COMMITTEE, m, "k:gok"))
    m = await step(
        world, lambda: press_data(world, COMMITTEE, m, "k:bal:s" if secret else "k:bal:n")
    )
    m = await step(world, lambda: press_data(world, COMMITTEE, m, "k:op:now"))
    m = await step(world, lambda: press_data(world, COMMITTEE, m, f"k:cl:{days}"))
    if not secret:
        m = await step(
            world, lambda: press_data(world, COMMITTEE, m, "k:chg:1" if change else "k:chg:0")
        )
    if not secret:
        m = await step(world, lambda: press_data(world, COMMITTEE, m, "k:live:0"))
    published = await step(world, lambda: press_data(world, COMMITTEE, m, "k:pub"))
    cid = int(published["text"].split("#", 1)[1].split()[0])
    return cid, published


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.getMessage()} {record.__dict__}")
