"""Abuse and bad input: per-person rate limits, size limits, and fuzzed updates never crash the bot."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.store.models import InboxUpdate, OutboxMessage
from tests.reliability.rel_helpers import close_world, file_report, open_world
from tests.support.world import World

RATE_WARNING = "sending messages very fast"


async def bot_texts(world: World, user: int, after: int = 0) -> list[str]:
    return [
        m.get("text") or m.get("caption") or ""
        for m in await world.sim.bot_messages(user, after=after)
    ]


async def test_per_person_rate_limit_warns_once_and_recovers(world: World) -> None:
    user = 95001
    await world.resident(user)
    after = await world.last_id(user)
    for i in range(30):
        await world.say(user, f"more about the broken lamp, part {i}")
    await world.wait_bot(user, RATE_WARNING, after=after)
    await world.settle()
    texts = await bot_texts(world, user, after)
    assert sum(RATE_WARNING in t for t in texts) == 1  # warned once, not once per message
    assert len(texts) < 30
    # a minute later they are read again
    world.clock.advance(timedelta(seconds=61))
    after = await world.last_id(user)
    await world.say(user, "and one more thing")
    await world.wait_bot(user, after=after, buttons=True)
    await world.settle()
    assert len(await bot_texts(world, user, after)) == 1
    # another person is not affected by the first one's flood
    other = 95002
    await world.sim.create_user(other, "Other")
    await world.say(other, "/help")
    await world.wait_bot(other)
    await world.settle()
    assert not any(RATE_WARNING in t for t in await bot_texts(world, other))


async def test_an_update_whose_chat_is_malformed_is_kept_and_answers_nobody(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """A sender with a real id in a chat whose id is missing, text, zero, out of range, or
    (private) someone else's: nothing is sent, nothing fails, nothing is retried."""
    user = 95010
    await world.resident(user)
    caplog.set_level(logging.WARNING)
    sender = {"id": user, "is_bot": False, "first_name": "R"}
    for chat_id in (None, "abc", 0, 2**60, user + 1):
        for kind in ("message", "edited_message"):
            await world.sim.raw_update(
                {
                    kind: {
                        "message_id": 1,
                        "date": 0,
                        "chat": {"id": chat_id, "type": "private"},
                        "from": sender,
                        "text": "The lamp is broken",
                    }
                }
            )
    await world.settle()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    async with world.app.domain.sessions() as session:  # type: ignore[union-attr]
        assert not (
            await session.execute(select(InboxUpdate.update_id).where(InboxUpdate.status != "done"))
        ).all()
        assert not (
            await session.execute(select(OutboxMessage.id).where(OutboxMessage.chat_id == user + 1))
        ).all()


async def test_oversized_text_and_photo_get_a_defined_answer(world: World) -> None:
    user = 95003
    await world.resident(user)
    after = await world.last_id(user)
    await world.say(user, "The lift is broken. " * 400)  # 8,000 characters
    reply = await world.wait_bot(user, "kept the first", after=after)
    assert str(world.settings.max_text_length) in reply["text"]
    after = await world.last_id(user)
    await world.sim.raw_update(
        {
            "message": {
                "message_id": 999,
                "date": 0,
                "chat": {"id": user, "type": "private"},
                "from": {"id": user, "is_bot": False, "first_name": "R"},
                "photo": [
                    {
                        "file_id": "huge",
                        "file_unique_id": "h",
                        "width": 9000,
                        "height": 9000,
                        "file_size": 50 * 1024 * 1024,
                    }
                ],
            }
        }
    )
    await world.wait_bot(user, "too large", after=after)


# --- fuzzing --------------------------------------------------------------------------

ids = st.one_of(
    st.integers(min_value=1, max_value=2**40),
    st.integers(max_value=-1, min_value=-(2**52)),
    st.just(0),
    st.text(max_size=5),
    st.none(),
)
texts = st.one_of(
    st.text(max_size=300),
    st.deferred(lambda: hostile_commands),
    st.text(min_size=4000, max_size=6000),
    st.sampled_from(
        [
            "/start",
            "/report",
            "/my",
            "/case GV-9999-999999",
            "/case",
            "/forget",
            "/start " + "x" * 70,
            "/language",
            "/mydata",
            "/cancel",
            "/queue",
            "/%00",
            "&<b>",
            "</i>",
            "🏠" * 50,
            "\u202e\u0000",
        ]
    ),
)
users = st.fixed_dictionaries(
    {"id": ids, "is_bot": st.booleans(), "first_name": st.text(max_size=20)},
    optional={
        "language_code": st.sampled_from(["en", "zh", "xx", ""]),
        "username": st.text(max_size=10),
    },
)
chats = st.fixed_dictionaries(
    {"id": ids, "type": st.sampled_from(["private", "group", "supergroup", "channel", "weird"])}
)
messages = st.fixed_dictionaries(
    {"message_id": st.integers(min_value=-5, max_value=10**6), "date": st.integers(0, 2**31)},
    optional={
        "chat": chats,
        "from": users,
        "text": texts,
        "caption": texts,
        "photo": st.lists(
            st.fixed_dictionaries(
                {
                    "file_id": st.text(max_size=8),
                    "file_unique_id": st.text(max_size=8),
                    "width": st.integers(-1, 10**5),
                    "height": st.integers(-1, 10**5),
                },
                optional={"file_size": st.integers(-1, 2**40)},
            ),
            max_size=3,
        ),
        "location": st.fixed_dictionaries(
            {
                "latitude": st.floats(allow_nan=False, allow_infinity=False),
                "longitude": st.floats(allow_nan=False, allow_infinity=False),
            }
        ),
        "sticker": st.just({"file_id": "s"}),
        "entities": st.just([{"type": "bot_command"}]),
    },
)
# Every callback family with a valid prefix, then garbage, huge, negative or odd-digit ids.
CALLBACK_PREFIXES = [
    "c:acc:",
    "c:ask:",
    "c:res:",
    "c:rej:",
    "c:trf:",
    "c:tgt:",
    "c:view:",
    "c:back:",
    "c:skip:",
    "c:cat:",
    "c:catm:",
    "r:cx:",
    "r:tl:",
    "r:rate:",
    "r:bad:",
    "r:chg:",
    "r:cat:",
    "r:one:",
    "r:else:",
    "r:nc:",
    "r:still:",
    "d:send",
    "d:follow:",
    "d:bld:",
    "d:where",
    "d:typed",
    "d:cancel",
    "o:consent:",
    "o:bld:",
    "o:none",
    "l:",
    "f:",
    "k:res:",
    "k:man:",
    "k:csv:",
    "k:cl:",
    "k:g:",
    "k:opt:",
    "k:arep:",
    "v:",
    "v:1:o:",
    "v:1:t:",
    "v:1:s:",
    "h:y:",
    "h:n:",
]
hostile_numbers = st.one_of(
    st.integers(min_value=-(2**200), max_value=2**200).map(str),
    st.sampled_from(["9" * 60, "-1", "0", "²", "١٢", "1e9", "0x10", ""]),
    st.text(max_size=12),
)
forged_data = st.builds(
    lambda prefix, parts: (prefix + ":".join(parts)).encode()[:64].decode("utf-8", "ignore"),
    st.sampled_from(CALLBACK_PREFIXES),
    st.lists(hostile_numbers, min_size=1, max_size=3),
)
COMMANDS_WITH_ARGUMENTS = [
    "/stats",
    "/case",
    "/export",
    "/deactivate",
    "/invite member",
    "/consultpost",
    "/start c",
    "/start inv",
    "/report",
]
hostile_commands = st.builds(
    lambda command, argument: (
        command + argument if command.startswith("/start") else f"{command} {argument}"
    ),
    st.sampled_from(COMMANDS_WITH_ARGUMENTS),
    hostile_numbers,
)
callbacks = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=10), "from": users, "chat_instance": st.text(max_size=5)},
    optional={
        "data": st.one_of(
            st.text(max_size=64),
            forged_data,
            st.sampled_from(
                [
                    "c:acc:1:1",
                    "c:acc:999999999999:0",
                    "r:cx:abc",
                    "d:send",
                    "d:new",
                    "o:yes",
                    "l:xx",
                    "f:yes",
                    "c:",
                    "c:res:-1:-1:x",
                    ":::::",
                    "v:1:2",
                    "cs:1",
                ]
            ),
        ),
        "message": messages,
    },
)
garbage = st.dictionaries(
    st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=20), st.none()), max_size=4
)
updates = st.one_of(
    st.builds(lambda m: {"message": m}, messages),
    st.builds(lambda m: {"edited_message": m}, messages),
    st.builds(lambda m: {"channel_post": m}, messages),
    st.builds(lambda c: {"callback_query": c}, callbacks),
    st.builds(lambda u: {"poll_answer": {"poll_id": "p", "user": u, "option_ids": [0, -1]}}, users),
    st.builds(
        lambda u, c: {
            "my_chat_member": {
                "chat": c,
                "from": u,
                "date": 0,
                "old_chat_member": {"status": "member", "user": u},
                "new_chat_member": {"status": "kicked", "user": u},
            }
        },
        users,
        chats,
    ),
    st.builds(lambda g: {"unknown_kind": g}, garbage),
    st.builds(lambda g: {"message": g}, garbage),
    st.builds(
        lambda u: {"inline_query": {"id": "1", "from": u, "query": "x", "offset": ""}}, users
    ),
)


def well_formed_private_text(update: dict[str, Any]) -> int | None:
    """The person a defined answer is owed to: a private text message from a real user."""
    m = update.get("message")
    if not isinstance(m, dict) or not isinstance(m.get("text"), str) or not m["text"].strip():
        return None
    who, chat = m.get("from"), m.get("chat")
    if not (isinstance(who, dict) and isinstance(chat, dict)):
        return None
    if who.get("is_bot") or chat.get("type") != "private":
        return None
    if not isinstance(who.get("id"), int) or who["id"] <= 0 or who["id"] != chat.get("id"):
        return None
    if any(k in m for k in ("photo", "location", "sticker", "entities")):
        return None
    return who["id"]


async def _fuzz(batch: list[dict[str, Any]], caplog: pytest.LogCaptureFixture) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        world = await open_world(Path(tmp))
        try:
            await world.resident(96001)
            caplog.clear()
            for update in batch:
                await world.sim.raw_update(update)
            await world.settle(timeout=60)
            errors = [
                r
                for r in caplog.records
                if r.levelno >= logging.ERROR and r.name.startswith(("bot.", "handlers."))
            ]
            assert not errors, [
                (
                    r.getMessage(),
                    [x for x in (r.exc_text or "").splitlines() if "Error" in x][-2:],
                    getattr(r, "update_kind", None),
                )
                for r in errors
            ][:5]
            assert world.app is not None and all(
                not t.done() for t in world.app.tasks
            )  # still running
            owed = {u for u in map(well_formed_private_text, batch) if u is not None}
            async with world.app.domain.sessions() as session:
                answered = set(
                    (
                        await session.execute(
                            select(OutboxMessage.chat_id).where(OutboxMessage.chat_id.in_(owed))
                        )
                    ).scalars()
                )
                failed = (
                    await session.execute(
                        select(InboxUpdate.update_id).where(
                            InboxUpdate.status == "failed",
                            ~InboxUpdate.error.startswith("unparseable"),
                        )
                    )
                ).all()
            assert owed <= answered, owed - answered
            assert not failed
            # and a normal report still works afterwards
            case_id, _ = await file_report(
                world, 96001, "The street light outside building 1 is broken"
            )
            assert case_id.startswith("GV-")
        finally:
            await close_world(world)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(batch=st.lists(updates, min_size=20, max_size=40))
def test_fuzzed_updates_never_crash_and_people_get_answers(
    batch: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    run_bounded(_fuzz(batch, caplog))


def run_bounded(work: Any, seconds: float = 180.0) -> None:
    """Run an example for at most `seconds`. One that waits for something that never comes
    fails, naming where every task of it waited, instead of holding the whole run; if it
    does not stop when cancelled either, its loop is left behind rather than waited for."""
    loop = asyncio.new_event_loop()
    task = loop.create_task(work)
    try:
        loop.run_until_complete(asyncio.wait({task}, timeout=seconds))
        if task.done():
            task.result()
            return
        waits = _waits(loop)
        task.cancel()
        loop.run_until_complete(asyncio.wait({task}, timeout=10))
        stopped = "stopped" if task.done() else "did not stop"
        raise AssertionError(f"example ran over {seconds:g} s ({stopped} when cancelled):\n{waits}")
    finally:
        if task.done():  # as asyncio.run ends: what is left is cancelled, within bounds
            left = asyncio.all_tasks(loop)
            for t in left:
                t.cancel()
            if left:
                loop.run_until_complete(asyncio.wait(left, timeout=10))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()


def _waits(loop: asyncio.AbstractEventLoop) -> str:
    """Each pending task and the chain of awaits it is suspended in, innermost last."""
    lines = []
    for t in asyncio.all_tasks(loop):
        lines.append(f"{t.get_name()}:")
        coro: Any = t.get_coro()
        while coro is not None:
            frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
            if frame is not None:
                lines.append(
                    f"  {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}"
                )
            coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return "\n".join(lines)
