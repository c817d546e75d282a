"""Consultations end to end: 200 residents in 4 grids vote through the emulator's buttons."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import inspect, select, text

from tests.e2e.consult_helpers import (
    GRIDS,
    Captured,
    add_residents,
    create_consultation,
    press_data,
)
from tests.support.world import COMMITTEE, World

RESIDENTS = list(range(30001, 30201))  # 50 per grid


def grid_of(i: int) -> str:
    return GRIDS[(i - 30001) // 50]


async def ballot(world: World, user: int) -> dict:
    return await world.sim.wait_for(user, lambda m: "v:" in str(m.get("reply_markup")), timeout=30)


async def vote_option(world: World, user: int, cid: int, option: int) -> str:
    m = await ballot(world, user)
    pressed = await world.sim.press(user, m["message_id"], data=f"v:{cid}:o:{option}")
    return pressed["callback_query_id"]


async def answer_text(world: World, qid: str) -> str:
    for _ in range(200):
        a = await world.sim.callback_answer(qid)
        if a.get("answered"):
            return a.get("text") or ""
        await asyncio.sleep(0.05)
    raise AssertionError("callback never answered")


async def test_named_consultation_eligibility_one_vote_results_and_chart(world: World) -> None:
    await add_residents(world, RESIDENTS, grid_of)
    unverified = 30999
    await add_residents(world, [unverified], lambda i: "xingfu-1", verified=False)
    cid, published = await create_consultation(world, grids=GRIDS[:3], secret=False)
    assert "#" in published["text"]
    voters = [i for i in RESIDENTS[:150] if i % 5 != 0]  # 120 of the 150 eligible vote
    choice = {i: (0 if i % 2 else 1) if i % 3 else 2 for i in voters}
    for start in range(0, len(voters), 40):
        batch = voters[start : start + 40]
        await asyncio.gather(*(vote_option(world, i, cid, choice[i]) for i in batch))
    await world.settle(timeout=60)

    # one vote each: a second press is refused (changing is off)
    again = await world.sim.press(
        voters[0], (await ballot(world, voters[0]))["message_id"], data=f"v:{cid}:o:2", forge=True
    )
    assert "already voted" in await answer_text(world, again["callback_query_id"])
    # outside the audience (grid 4) and unverified: refused
    for outsider in (RESIDENTS[-1], unverified):
        after = await world.last_id(outsider)
        await world.say(outsider, f"/start c{cid}")
        refused = await world.wait_bot(outsider, after=after)
        assert "not eligible" in refused["text"]
    sent = await world.sim.send_text(RESIDENTS[-1], "hi")
    forged = await world.sim.press(
        RESIDENTS[-1], sent["message_id"], data=f"v:{cid}:o:0", forge=True
    )
    assert "not eligible" in await answer_text(world, forged["callback_query_id"])

    # no results before the close, not even for the committee
    after = await world.last_id(COMMITTEE)
    await world.say(COMMITTEE, "/consultations")
    listing = await world.wait_bot(COMMITTEE, after=after, buttons=True)
    after = listing["message_id"]
    await press_data(world, COMMITTEE, listing, f"k:man:{cid}")
    manage = await world.wait_bot(COMMITTEE, after=after, buttons=True)
    await press_data(world, COMMITTEE, manage, f"k:res:{cid}")
    later = await world.wait_bot(COMMITTEE, after=manage["message_id"])
    assert "截止后" in later["text"]  # the committee member reads Chinese
    await press_data(world, COMMITTEE, manage, f"k:rep:{cid}")
    report = await world.wait_bot(COMMITTEE, "送达", after=later["message_id"])
    assert "已发送 150" in report["text"]

    # the close: results to participants and the committee, with the chart
    before_close = await world.last_id(COMMITTEE)
    world.clock.advance(timedelta(days=3, minutes=1))
    world.app.domain.schedule_changed.set()
    results = await world.wait_bot(COMMITTEE, "#", after=before_close, timeout=30)
    expected = [sum(1 for i in voters if choice[i] == k) for k in range(3)]
    for n in expected:
        assert f"{n}票" in results["text"]
    assert "120" in results["text"] and "150" in results["text"] and "80.0%" in results["text"]
    photo = await world.sim.wait_for(
        COMMITTEE, lambda m: bool(m.get("photo")), after=before_close, timeout=30
    )
    assert photo["photo"]
    mine = await world.wait_bot(voters[0], "Results of consultation", timeout=30)
    assert f"{expected[choice[voters[0]]]} (" in mine["text"]
    assert len(await world.sim.calls("sendPhoto")) >= len(voters)
    # exactly once: another scheduler pass after a restart sends nothing more
    await world.settle(timeout=60)
    count = len(await world.sim.calls("sendPhoto"))
    await world.restart_bot()
    world.app.domain.schedule_changed.set()
    await asyncio.sleep(0.5)
    await world.settle(timeout=30)
    assert len(await world.sim.calls("sendPhoto")) == count


async def test_secret_ballot_stores_no_link_between_voter_and_choice(world: World) -> None:
    captured = Captured()
    logging.getLogger().addHandler(captured)
    captured.setLevel(logging.INFO)
    try:
        ids = RESIDENTS[:40]
        await add_residents(world, ids, lambda i: GRIDS[(i - 30001) // 20])
        cid, _ = await create_consultation(
            world, grids=GRIDS[:2], secret=True, options="Red\nGreen"
        )
        choice = {i: i % 2 for i in ids}
        await asyncio.gather(*(vote_option(world, i, cid, choice[i]) for i in ids))
        await world.settle(timeout=30)
        again = await world.sim.press(
            ids[0], (await ballot(world, ids[0]))["message_id"], data=f"v:{cid}:o:1", forge=True
        )
        assert "already voted" in await answer_text(world, again["callback_query_id"])
        await world.settle(timeout=30)
        # every row of every table: no row names a voter together with their choice
        engine = world.app.domain.engine
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
            dump = {}
            for t in tables:
                dump[t] = [
                    tuple(r) for r in (await conn.execute(text(f'SELECT * FROM "{t}"'))).all()
                ]
        for t, rows in dump.items():
            for row in rows:
                cells = " ".join(str(v) for v in row)
                for i in ids:
                    if str(i) in cells:
                        # a ballot offering every option is fine; naming only some would link
                        for marks in ([f"v:{cid}:o:0", f"v:{cid}:o:1"], ["Red", "Green"]):
                            named = [m for m in marks if m in cells]
                            assert len(named) in (0, len(marks)), (t, row)
        async with world.app.domain.sessions() as session:
            from bot.store.models import ConsultBallot, ConsultTally

            ballots = (await session.execute(select(ConsultBallot))).scalars().all()
            assert len(ballots) == 40 and all(b.choices is None for b in ballots)
            tallies = {
                t.option: t.votes for t in (await session.execute(select(ConsultTally))).scalars()
            }
            assert tallies == {0: 20, 1: 20}
        for line in captured.lines:  # the bot's own log lines at production level (INFO)
            if any(str(i) in line for i in ids):
                named = [m for m in (f"v:{cid}:o:0", f"v:{cid}:o:1") if m in line]
                assert len(named) in (0, 2), line
    finally:
        logging.getLogger().removeHandler(captured)
