"""Helpers shared by the resident, staff and escalation end-to-end tests (no tests here)."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import func, select

from bot.store.models import Case, CaseEvent, InboxUpdate, User
from tests.support.world import CASE_ID, World, button_labels

# Telegram language codes and the bot's language for each.
LANGS = [("en", "en"), ("zh-hans", "zh")]
LANG_IDS = ["en", "zh"]

# A 1x1 PNG: the emulator reads its size; any bytes would do.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def label(world: World, lang: str, key: str, **data: Any) -> str:
    assert world.app is not None
    return world.app.domain.renderer.label(lang, key, **data)


def render(world: World, lang: str, template: str, **data: Any) -> str:
    assert world.app is not None
    return world.app.domain.renderer.render(lang, template, **data)


def case_id_in(message: dict[str, Any]) -> str:
    match = CASE_ID.search((message.get("text") or "") + (message.get("caption") or ""))
    assert match, message
    return match.group(0)


def has_button(message: dict[str, Any], text: str) -> bool:
    return any(text in b for b in button_labels(message))


async def user_row(world: World, user_id: int) -> User | None:
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        return await session.get(User, user_id)


async def case_row(world: World, human_id: str) -> Case:
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        return (await session.execute(select(Case).where(Case.human_id == human_id))).scalar_one()


async def events(world: World, human_id: str) -> list[CaseEvent]:
    case = await case_row(world, human_id)
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        stmt = select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        return list((await session.execute(stmt)).scalars().all())


async def event_kinds(world: World, human_id: str) -> list[str]:
    return [e.kind for e in await events(world, human_id)]


async def failed_inbox(world: World) -> int:
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        return (
            await session.execute(select(func.count()).where(InboxUpdate.status == "failed"))
        ).scalar_one()


async def answer_of(world: World, pressed: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Wait until the bot answered a callback query; returns the answer."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        answer = await world.sim.callback_answer(pressed["callback_query_id"])
        if answer.get("answered"):
            return answer
        if loop.time() > deadline:
            raise AssertionError(f"callback never answered: {answer}")
        await asyncio.sleep(0.03)


async def bot_texts(world: World, chat_id: int, after: int = 0) -> list[str]:
    return [
        (m.get("text") or m.get("caption") or "")
        for m in await world.sim.bot_messages(chat_id, after)
    ]


async def wake(world: World, times: int = 1, timeout: float = 15.0) -> None:
    """Let the scheduler run a pass now: each wake waits until a pass that began after it has
    ended (a pass already running may have read before the change), then for the bot to settle."""
    import asyncio

    assert world.app is not None
    scheduler = world.app.scheduler
    loop = asyncio.get_running_loop()
    for _ in range(times):
        until = scheduler.passes + (2 if scheduler.running else 1)
        world.app.domain.schedule_changed.set()
        deadline = loop.time() + timeout
        while scheduler.passes < until:
            if loop.time() > deadline:
                raise AssertionError("the scheduler did not run a pass")
            await asyncio.sleep(0.01)
        await settle(world)


async def resolve(
    world: World,
    staff: int,
    card: dict[str, Any],
    note: str,
    photo: bytes | None = None,
    chat: int | None = None,
) -> None:
    """Press Resolve on a card, write the note, then send a photo or skip it (prompts come privately)."""
    last = await world.last_id(staff)
    await world.act(staff, card, "res", chat=chat)
    prompt = await world.wait_bot(staff, after=last)
    await world.say(staff, note)
    photo_prompt = await world.wait_bot(staff, after=prompt["message_id"], buttons=True)
    if photo is not None:
        await world.sim.send_photo(staff, photo)
    else:
        await world.press(staff, photo_prompt, "")


async def settle(world: World, quiet: float = 0.1, timeout: float = 10.0) -> None:
    """`world.settle()`, but robust to the gaps it cannot see (an update fetched but not yet
    stored, an outbox row being sent): quiet means nothing pending twice, `quiet` seconds apart."""
    import asyncio

    from bot.store.models import OutboxMessage

    assert world.app is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    calm = 0
    while calm < 2:
        await world.settle(timeout=max(0.1, deadline - loop.time()))
        async with world.app.domain.sessions() as session:
            busy = (
                await session.execute(select(func.count()).where(OutboxMessage.status == "sending"))
            ).scalar_one()
        calm = calm + 1 if busy == 0 else 0
        if loop.time() > deadline:
            raise AssertionError("not settled")
        await asyncio.sleep(quiet)
