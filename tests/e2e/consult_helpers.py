"""Shared steps for consultation tests: many verified residents fast, the /consult dialogue."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from bot.services.people.residents import pseudonym_for
from bot.store.models import User
from tests.support.chat import wake
from tests.support.world import COMMITTEE, World

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
                    announcements_dm=True,
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


# --- the consultation steps of the paths tests (committee and resident) -------------------
T = {
    "en": {
        "invite": "collecting proposals",
        "ask_proposal": "Send your proposal",
        "ask_comment": "Send your comment",
        "saved": "passed to the committee",
        "recorded": "Your vote is recorded",
        "changed": "Your vote was changed",
        "already": "already voted",
        "not_eligible": "not eligible",
        "ballot": "Consultation #",
        "voted": "Your vote is recorded: ",
        "sep": ", ",
        "choose": "choose an option first",
    },
    "zh": {
        "invite": "征集大家的建议",
        "ask_proposal": "发送您的建议",
        "ask_comment": "发送您的留言",
        "saved": "已转给委员会",
        "recorded": "您的投票已记录",
        "changed": "您的投票已更改",
        "already": "您已经投过票",
        "not_eligible": "没有资格",
        "ballot": "议事协商 #",
        "voted": "您的投票已记录：",
        "sep": "、",
        "choose": "请先选择",
    },
}


async def people(
    world: World, ids: list[int], grid: str, code: str = "en", *, verified: bool = True
) -> None:
    """Residents created in the store (consented, home grid) and in the emulator."""
    lang = "zh" if code.startswith("zh") else "en"
    for i in ids:
        await world.sim.create_user(i, f"Resident{i}", language_code=code)
    assert world.app is not None
    async with world.app.domain.unit() as uow:
        for i in ids:
            uow.session.add(
                User(
                    id=i,
                    language=lang,
                    pseudonym=pseudonym_for(i),
                    created_at=uow.now,
                    consent_at=uow.now,
                    home_grid_id=grid,
                    verified=verified,
                    state_data={},
                    muted_announcements=False,
                    announcements_dm=True,
                    unreachable=False,
                )
            )


async def consultation(
    world: World,
    *,
    grids: list[str],
    options: str | None = "Yes\nNo\nLater",
    secret: bool = False,
    multiple: bool = False,
    change: bool = False,
    live: bool = False,
    opens: str | None = None,
    days: int = 3,
) -> tuple[int, dict[str, Any]]:
    """The committee's /consult dialogue; options None means «proposals first»."""
    m = await step(world, lambda: world.say(COMMITTEE, "/consult"))
    m = await step(world, lambda: world.say(COMMITTEE, "Should we add a bicycle shed?"))
    if options is None:
        m = await step(world, lambda: press_data(world, COMMITTEE, m, "k:prop"))
    else:
        m = await step(world, lambda: world.say(COMMITTEE, options))
    m = await step(
        world, lambda: press_data(world, COMMITTEE, m, f"k:kind:{'n' if multiple else '1'}")
    )
    for g in grids:
        m = await step(world, lambda g=g, m=m: press_data(world, COMMITTEE, m, f"k:g:{g}"))
    m = await step(world, lambda: press_data(world, COMMITTEE, m, "k:gok"))
    m = await step(
        world, lambda: press_data(world, COMMITTEE, m, f"k:bal:{'s' if secret else 'n'}")
    )
    if opens is None:
        m = await step(world, lambda: press_data(world, COMMITTEE, m, "k:op:now"))
    else:
        m = await step(world, lambda: world.say(COMMITTEE, opens))
    m = await step(world, lambda: press_data(world, COMMITTEE, m, f"k:cl:{days}"))
    if not secret:
        m = await step(world, lambda: press_data(world, COMMITTEE, m, f"k:chg:{int(change)}"))
    if not secret:  # a secret ballot never shows live counts
        m = await step(world, lambda: press_data(world, COMMITTEE, m, f"k:live:{int(live)}"))
    published = await step(world, lambda: press_data(world, COMMITTEE, m, "k:pub"))
    cid = int(published["text"].split("#", 1)[1].split()[0])
    return cid, published


def datas(message: dict[str, Any]) -> list[str]:
    return [
        b["callback_data"]
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row
    ]


async def with_button(world: World, user: int, prefix: str, after: int = 0) -> dict[str, Any]:
    return await world.sim.wait_for(
        user, lambda m: any(d.startswith(prefix) for d in datas(m)), timeout=10, after=after
    )


async def answer_of(world: World, pressed: dict[str, Any]) -> str:
    for _ in range(200):
        a = await world.sim.callback_answer(pressed["callback_query_id"])
        if a.get("answered"):
            return a.get("text") or ""
        await asyncio.sleep(0.05)
    raise AssertionError("callback never answered")


async def vote(world: World, user: int, cid: int, option: int) -> str:
    m = await with_button(world, user, f"v:{cid}:o:")
    return await answer_of(
        world, await world.sim.press(user, m["message_id"], data=f"v:{cid}:o:{option}")
    )


async def manage(world: World, cid: int) -> dict[str, Any]:
    after = await world.last_id(COMMITTEE)
    await world.say(COMMITTEE, "/consultations")
    listing = await world.wait_bot(COMMITTEE, after=after, buttons=True)
    await press_data(world, COMMITTEE, listing, f"k:man:{cid}")
    return await world.wait_bot(COMMITTEE, f"#{cid}", after=listing["message_id"], buttons=True)


async def committee_press(world: World, message: dict[str, Any], prefix: str) -> dict[str, Any]:
    after = await world.last_id(COMMITTEE)
    await press_data(world, COMMITTEE, message, prefix)
    return await world.wait_bot(COMMITTEE, after=after)


async def close_all(world: World, days: int = 3) -> None:
    world.clock.advance(timedelta(days=days, minutes=1))
    await wake(world)
