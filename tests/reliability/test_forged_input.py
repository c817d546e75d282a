"""Forged buttons and hostile command arguments: a clear answer at once, no retries, nothing changed.

Every callback family the dispatcher knows gets its valid prefix with garbage, huge, negative
and non-ASCII-digit ids; every command that takes arguments gets the same. The person who
caused the error is answered within 2 s (no retry loop, no "something went wrong"), the
update is handled once, and the database is exactly as it was.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from sqlalchemy import select

from bot.bounds import parse_id, parse_int
from bot.store.models import (
    Case,
    CaseEvent,
    CaseFollower,
    Consultation,
    ConsultBallot,
    ConsultComment,
    InboxUpdate,
    Invite,
    StaffMember,
    User,
)
from tests.reliability.rel_helpers import file_report
from tests.support.world import COMMITTEE, LEADER, MEMBER_1, World

RESIDENT = 97001
HUGE = "9" * 60
SNAPSHOT_TABLES = (Case, CaseEvent, CaseFollower, Consultation, ConsultBallot, ConsultComment)


async def snapshot(world: World) -> dict[str, Any]:
    """What a forged press must not change: cases, their trails, consultations, people."""
    assert world.app is not None
    state: dict[str, Any] = {}
    async with world.app.domain.sessions() as session:
        for model in (*SNAPSHOT_TABLES, StaffMember, Invite):
            table = model.__table__
            rows = (await session.execute(select(table))).all()
            state[table.name] = sorted(repr(tuple(r)) for r in rows)
        users = (
            await session.execute(
                select(
                    User.id,
                    User.state,
                    User.state_data,
                    User.language,
                    User.consent_at,
                    User.home_grid_id,
                    User.verified,
                    User.erased_at,
                )
            )
        ).all()
        state["users"] = sorted(repr(tuple(r)) for r in users)
    return state


async def inbox_rows(world: World, after: int) -> list[InboxUpdate]:
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        stmt = select(InboxUpdate).where(InboxUpdate.update_id > after)
        return list((await session.execute(stmt)).scalars().all())


async def last_update_id(world: World) -> int:
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        ids = (await session.execute(select(InboxUpdate.update_id))).scalars().all()
    return max(ids, default=0)


async def answered_within(world: World, pressed: dict[str, Any], seconds: float) -> str:
    """The callback answer's text, failing if it took longer than `seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        answer = await world.sim.callback_answer(pressed["callback_query_id"])
        if answer.get("answered"):
            return str(answer.get("text") or "")
        assert loop.time() < deadline, f"no answer within {seconds} s: {answer}"
        await asyncio.sleep(0.02)


def forged_callbacks(case: int, version: int) -> list[str]:
    """Valid prefixes of every family with garbage, huge, negative and odd-digit arguments."""
    return [
        # staff card buttons
        f"c:acc:{HUGE}:{version}",
        f"c:acc:-{case}:{version}",
        f"c:acc:{case}:-1",
        f"c:acc:{case}:{HUGE}",
        f"c:acc:²:{version}",
        f"c:zzz:{case}:{version}",
        f"c:tgt:{case}:{version}:m:{HUGE}",
        f"c:tgt:{case}:{version}:m:²",
        f"c:cat:{case}:{version}:nonsense",
        f"c:skip:{case}:{version}",
        "c:",
        # resident case buttons
        f"r:cx:{HUGE}",
        "r:cx:-1",
        "r:cx:0",
        "r:cx:١٢",
        f"r:rate:{case}:{HUGE}",
        f"r:rate:{case}:-3",
        f"r:rate:{case}:9",
        f"r:cat:{case}:nonsense",
        f"r:tl:{HUGE}",
        f"r:zz:{case}",
        # draft buttons
        "d:follow:999999",
        f"d:follow:{HUGE}",
        "d:follow:-1",
        "d:bld:../../etc",
        "d:zz",
        # onboarding, language, forget
        "o:bld:nowhere",
        "o:consent:maybe",
        "o:zzz",
        "l:xx",
        "l:",
        "f:maybe",
        # committee buttons
        f"k:res:{HUGE}",
        "k:man:-1",
        "k:csv:0",
        f"k:cl:{HUGE}",
        "k:g:nowhere",
        "k:arep:-1",
        # volunteers: claims, withdrawals, attendance, thanks; cases staff file
        f"vt:c:{HUGE}",
        "vt:c:-1",
        "vt:w:١٢",
        f"vt:a:{case}",
        "vt:a:0",
        "vt:ty",
        "vt:zz:1",
        "it:ch:teleport",
        "it:ok:printed",
        "it:zz",
        # votes
        f"v:{HUGE}:o:0",
        "v:-1:o:0",
        "v:1:o:-1",
        f"v:1:t:{HUGE}",
        "v:abc:s:1",
        # household verification
        f"h:y:{HUGE}",
        "h:y:-1",
        "h:n:abc",
        # unknown families
        "zz:1",
        ":::",
    ]


@pytest.mark.parametrize("presser", ["resident", "member", "committee"])
async def test_forged_presses_get_an_answer_at_once_and_change_nothing(
    world: World, caplog: pytest.LogCaptureFixture, presser: str
) -> None:
    caplog.set_level(logging.WARNING)
    await world.resident(RESIDENT)
    human_id, _ = await file_report(
        world, RESIDENT, "The street light outside building 1 is broken"
    )
    card = await world.card(MEMBER_1, human_id)
    await world.settle()
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        case = (await session.execute(select(Case).where(Case.human_id == human_id))).scalar_one()
    user = {"resident": RESIDENT, "member": MEMBER_1, "committee": COMMITTEE}[presser]
    after = await world.last_id(user)
    await world.say(user, "/help")  # the presser has written to the bot before
    await world.wait_bot(user, after=after)
    await world.settle()
    message_id = card["message_id"] if presser == "member" else await world.last_id(user)
    before = await snapshot(world)
    first_update = await last_update_id(world)
    caplog.clear()
    for data in forged_callbacks(case.id, case.version):
        pressed = await world.sim.press(user, message_id, data=data, forge=True)
        await answered_within(world, pressed, 2.0)
    await world.settle()
    assert await snapshot(world) == before
    rows = await inbox_rows(world, first_update)
    assert rows and all(r.status == "done" and r.attempts == 1 for r in rows), [
        (r.payload.get("callback_query", {}).get("data"), r.status, r.attempts, r.error)
        for r in rows
        if r.status != "done" or r.attempts != 1
    ]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors][:3]
    texts = [m.get("text") or "" for m in await world.sim.bot_messages(user)]
    assert not any("went wrong" in t for t in texts)


COMMANDS = [
    f"/stats {HUGE}",
    "/stats 99999999999",
    "/stats -5",
    "/stats abc",
    "/stats ²",
    f"/case GV-2026-{HUGE}",
    "/case -1",
    "/case ../../etc",
    f"/export {HUGE}",
    "/export -1",
    "/export ²",
    f"/deactivate {HUGE}",
    "/deactivate -5",
    f"/start c{HUGE}",
    "/start c-1",
    "/start c²",
    f"/start inv{HUGE}",
    f"/invite member {HUGE}",
    f"/report {HUGE}",
    f"/consultpost {HUGE}",
    f"/queue {HUGE}",
    f"/triage {HUGE}",
    f"/my {HUGE}",
    f"/mygrid {HUGE}",
    f"/language {HUGE}",
    f"/cancel {HUGE}",
    f"/proposal {HUGE}",
    "/proposal -1",
    "/proposal ²",
    f"/start support_{HUGE}",
    "/start support_²",
    "/start support_-1",
    f"/propose {HUGE}",
    f"/proposals {HUGE}",
]


@pytest.mark.parametrize(
    "user", [LEADER, COMMITTEE, RESIDENT], ids=["leader", "committee", "resident"]
)
async def test_hostile_command_arguments_get_an_answer_at_once(
    world: World, caplog: pytest.LogCaptureFixture, user: int
) -> None:
    caplog.set_level(logging.WARNING)
    world.settings_overrides["user_rate_per_minute"] = 1000
    await world.restart_bot()
    if user == RESIDENT:
        await world.resident(RESIDENT)
    first_update = await last_update_id(world)
    caplog.clear()
    loop = asyncio.get_running_loop()
    for command in COMMANDS:
        after = await world.last_id(user)
        started = loop.time()
        await world.say(user, command)
        await world.wait_bot(user, after=after, timeout=2.0)
        assert loop.time() - started < 2.0, command
        await world.settle()
    rows = await inbox_rows(world, first_update)
    assert all(r.status == "done" and r.attempts == 1 for r in rows), [
        (r.error, r.attempts) for r in rows if r.status != "done" or r.attempts != 1
    ]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    texts = [m.get("text") or "" for m in await world.sim.bot_messages(user)]
    assert not any("went wrong" in t or "出错" in t for t in texts)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("argument", ["abc", "-5", "99999999999", "0"])
async def test_stats_says_it_used_the_default_period(
    world: World, lang: str, argument: str
) -> None:
    if lang == "en":
        await world.say(LEADER, "/language")
        choose = await world.wait_bot(LEADER, buttons=True)
        await world.press(LEADER, choose, "English")
        await world.wait_bot(LEADER, after=choose["message_id"])
    after = await world.last_id(LEADER)
    await world.say(LEADER, f"/stats {argument}")
    reply = await world.wait_bot(LEADER, after=after, timeout=2.0)
    expected = {
        "en": (f"“{argument}” is not a number of days", "last 30 days"),
        "zh": (f"“{argument}”不是", "近30天"),
    }[lang]
    assert all(part in reply["text"] for part in expected), reply["text"]


def test_numbers_from_outside_are_bounded() -> None:
    assert parse_id("42") == 42
    assert parse_id("0") is None and parse_id("-1") is None
    assert parse_id(HUGE) is None and parse_id("2147483648") is None
    assert parse_id("²") is None and parse_id("١٢") is None and parse_id(" 1") is None
    assert parse_id("4503599627370497", high=2**52) is None
    assert parse_int("-3", low=-5, high=5) == -3 and parse_int("-", low=-5) is None
    assert parse_int("7", low=1, high=5) is None and parse_int(None) is None
