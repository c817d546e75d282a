"""Consultation paths beyond the main vote: proposals first, comments, CSV export, group posts,
multiple choice with changing votes, scheduled opening, live counts, the committee's answer
first. Resident-facing text is checked in English and Chinese."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.services.people.residents import pseudonym_for
from bot.store.models import ConsultBallot
from tests.e2e.consult_helpers import (
    T,
    answer_of,
    close_all,
    committee_press,
    consultation,
    datas,
    manage,
    people,
    step,
    vote,
    with_button,
)
from tests.support.chat import LANG_IDS, LANGS, wake
from tests.support.world import COMMITTEE, World

# What a resident reads, per language.
# --- 1. proposals first ------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_proposals_first_then_options_then_vote(world: World, code: str, lang: str) -> None:
    residents = [31001, 31002]
    await people(world, residents, "xingfu-1", code)
    cid, published = await consultation(world, grids=["xingfu-1"], options=None)
    assert "k:opt:" in str(datas(published))
    t = T[lang]
    for i, text in zip(residents, ("Bike shed by the gate", "More benches"), strict=True):
        invite = await with_button(world, i, f"v:{cid}:p")
        assert t["invite"] in invite["text"]
        await world.sim.press(i, invite["message_id"], data=f"v:{cid}:p")
        asked = await world.wait_bot(i, t["ask_proposal"], after=invite["message_id"])
        await world.say(i, text)
        await world.wait_bot(i, t["saved"], after=asked["message_id"])
    # no vote yet: a forged vote is refused
    early = await answer_of(
        world, await world.sim.press(31001, invite["message_id"], data=f"v:{cid}:o:0", forge=True)
    )
    assert ("not open" if lang == "en" else "未开放") in early

    m = await manage(world, cid)
    proposals = await committee_press(world, m, f"k:opt:{cid}")
    assert "Bike shed by the gate" in proposals["text"] and "More benches" in proposals["text"]
    assert pseudonym_for(31001) in proposals["text"]  # a named consultation: pseudonyms
    await world.wait_bot(COMMITTEE, after=proposals["message_id"])  # "send the options"
    opened = await step(world, lambda: world.say(COMMITTEE, "Bike shed by the gate\nMore benches"))
    assert f"#{cid}" in opened["text"]
    ballot = await with_button(world, 31001, f"v:{cid}:o:")
    assert t["ballot"] in ballot["text"]
    assert "Bike shed by the gate" in str(ballot["reply_markup"])
    assert t["recorded"] in await vote(world, 31001, cid, 0)


# --- 2. comments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
@pytest.mark.parametrize("secret", [False, True], ids=["named", "secret"])
async def test_comments_grouped_pseudonymous_or_anonymous(
    world: World, code: str, lang: str, secret: bool
) -> None:
    a, b = 32001, 32002
    await people(world, [a, b], "xingfu-1", code)
    cid, _ = await consultation(world, grids=["xingfu-1"], secret=secret)
    t = T[lang]
    await vote(world, a, cid, 0)
    for who, text in ((a, "Near the gate please"), (b, "What about the cost?")):
        m = await with_button(world, who, f"v:{cid}:c")
        after = await world.last_id(who)
        await world.sim.press(who, m["message_id"], data=f"v:{cid}:c")
        await world.wait_bot(who, t["ask_comment"], after=after)
        await world.say(who, text)
        await world.wait_bot(who, t["saved"], after=after)
    m = await manage(world, cid)
    comments = await committee_press(world, m, f"k:cmt:{cid}")
    body = comments["text"]
    assert "Near the gate please" in body and "What about the cost?" in body
    if secret:
        assert "R-" not in body and str(a) not in body and str(b) not in body
    else:
        assert pseudonym_for(a) in body and pseudonym_for(b) in body
        # grouped: A voted "Yes", so A's comment is under "Yes"; B's is general
        assert body.index("Yes") < body.index("Near the gate please") < body.index("综合")
        assert body.index("综合") < body.index("What about the cost?")
    assert str(a) not in body and str(b) not in body


# --- 3. CSV export -----------------------------------------------------------------------------


async def fetch_document(world: World, message: dict[str, Any]) -> str:
    file_id = message["document"]["file_id"]
    token = world.settings.token
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{world.emu.url}/bot{token}/getFile", params={"file_id": file_id}
        ) as r:
            path = (await r.json())["result"]["file_path"]
        async with http.get(f"{world.emu.url}/file/bot{token}/{path}") as r:
            return (await r.read()).decode("utf-8-sig")


@pytest.mark.parametrize("secret", [False, True], ids=["named", "secret"])
async def test_csv_export_counts_turnout_and_no_voter_ids(world: World, secret: bool) -> None:
    g1, g2 = [33001, 33002, 33003], [33101, 33102]
    await people(world, g1, "xingfu-1")
    await people(world, g2, "xingfu-2")
    cid, _ = await consultation(world, grids=["xingfu-1", "xingfu-2"], secret=secret)
    for i, option in ((33001, 0), (33002, 0), (33101, 1)):
        await vote(world, i, cid, option)
    # before the close: refused
    refused = await step(world, lambda: world.say(COMMITTEE, f"/export {cid}"))
    assert "截止后" in refused["text"]
    await close_all(world)
    after = await world.last_id(COMMITTEE)
    await world.say(COMMITTEE, f"/export {cid}")
    doc = await world.sim.wait_for(COMMITTEE, lambda m: bool(m.get("document")), after=after)
    assert doc["document"]["file_name"] == f"consultation-{cid}.csv"
    content = await fetch_document(world, doc)
    rows = list(csv.reader(io.StringIO(content)))
    assert ["option", "Yes", "2", "66.7"] in rows
    assert ["option", "No", "1", "33.3"] in rows
    assert ["option", "Later", "0", "0.0"] in rows
    assert ["total", "ballots", "3", "60.0"] in rows
    assert ["turnout", "xingfu-1", "2/3", "66.7"] in rows
    assert ["turnout", "xingfu-2", "1/2", "50.0"] in rows
    for i in g1 + g2:
        assert str(i) not in content
    ballots = [r for r in rows if r[0] == "ballot"]
    if secret:
        assert ballots == [] and "R-" not in content
    else:
        assert sorted(r[1] for r in ballots) == sorted(
            pseudonym_for(i) for i in (33001, 33002, 33101)
        )


# --- 4. posting to a group ----------------------------------------------------------------------


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_group_post_counts_only_eligible_voters(world: World, code: str, lang: str) -> None:
    group = -100777
    eligible, other_grid, unverified, stranger = 34001, 34002, 34003, 34004
    await people(world, [eligible], "xingfu-1", code)
    await people(world, [other_grid], "xingfu-3", code)
    await people(world, [unverified], "xingfu-1", code, verified=False)
    await world.sim.create_user(stranger, "Stranger", language_code=code)
    await world.sim.create_chat(
        group, "幸福小区业主群", [COMMITTEE, eligible, other_grid, unverified, stranger]
    )
    cid, _ = await consultation(world, grids=["xingfu-1"])
    await world.say(COMMITTEE, f"/consultpost {cid}", chat=group)
    post = await with_button(world, group, f"v:{cid}:o:")
    assert f"#{cid}" in post["text"]
    assert not any(d.endswith(":c") for d in datas(post))  # no comment button in a group
    t = T[lang]
    for who in (other_grid, unverified, stranger):
        pressed = await world.sim.press(who, post["message_id"], data=f"v:{cid}:o:1", chat=group)
        assert t["not_eligible"] in await answer_of(world, pressed)
    pressed = await world.sim.press(eligible, post["message_id"], data=f"v:{cid}:o:0", chat=group)
    assert t["recorded"] in await answer_of(world, pressed)
    pressed = await world.sim.press(eligible, post["message_id"], data=f"v:{cid}:o:1", chat=group)
    assert t["already"] in await answer_of(world, pressed)
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        ballots = (await session.execute(select(ConsultBallot))).scalars().all()
    assert [(b.user_id, b.choices) for b in ballots] == [(eligible, [0])]


# --- 6. multiple choice, changing a vote ------------------------------------------------------


async def toggle_and_submit(world: World, user: int, cid: int, options: list[int]) -> str:
    m = await with_button(world, user, f"v:{cid}:")
    mask = 0
    for i in options:
        mask ^= 1 << i
        await world.sim.press(user, m["message_id"], data=f"v:{cid}:t:{mask}")
        await world.wait_edited(user, m["message_id"], "")
        shown = [x for x in await world.sim.messages(user) if x["message_id"] == m["message_id"]][0]
        for _ in range(100):  # the edit shows the ticked boxes
            if f"v:{cid}:s:{mask}" in datas(shown):
                break
            await asyncio.sleep(0.05)
            shown = [
                x for x in await world.sim.messages(user) if x["message_id"] == m["message_id"]
            ][0]
        assert f"v:{cid}:s:{mask}" in datas(shown), datas(shown)
        assert str(shown["reply_markup"]).count("☑️") == bin(mask).count("1")
    return await answer_of(
        world, await world.sim.press(user, m["message_id"], data=f"v:{cid}:s:{mask}")
    )


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_multiple_choice_toggle_submit_and_change(world: World, code: str, lang: str) -> None:
    voter, fixed = 35001, 35002
    await people(world, [voter, fixed], "xingfu-1", code)
    t = T[lang]
    cid, _ = await consultation(world, grids=["xingfu-1"], multiple=True, change=True)
    # submitting nothing is refused
    m = await with_button(world, voter, f"v:{cid}:s:")
    assert f"v:{cid}:s:0" in datas(m)
    empty = await world.sim.press(voter, m["message_id"], data=f"v:{cid}:s:0")
    assert t["choose"] in await answer_of(world, empty)
    assert t["recorded"] in await toggle_and_submit(world, voter, cid, [0, 2])
    voted = await world.wait_edited(voter, m["message_id"], t["voted"])
    assert f"Yes{t['sep']}Later" in voted["text"]
    assert t["changed"] in await toggle_and_submit(world, voter, cid, [1])
    # the other consultation does not allow changing
    cid2, _ = await consultation(world, grids=["xingfu-1"], multiple=True, change=False)
    assert t["recorded"] in await toggle_and_submit(world, fixed, cid2, [1])
    m2 = await with_button(world, fixed, f"v:{cid2}:c")
    again = await world.sim.press(fixed, m2["message_id"], data=f"v:{cid2}:s:1", forge=True)
    assert t["already"] in await answer_of(world, again)
    await close_all(world)
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        rows = (await session.execute(select(ConsultBallot).order_by(ConsultBallot.id))).scalars()
        got = {(b.consultation_id, b.user_id): b.choices for b in rows}
    assert got == {(cid, voter): [1], (cid2, fixed): [1]}
    results = await world.wait_bot(voter, f"#{cid}", after=voted["message_id"], timeout=10)
    assert "1 (100.0%)" in results["text"] or "1票（100.0%）" in results["text"]


# --- 7. scheduled opening ------------------------------------------------------------------------


async def ballots_sent(world: World, user: int, cid: int) -> int:
    return sum(
        1
        for c in await world.sim.calls("sendMessage")
        if str(c["params"].get("chat_id")) == str(user)
        and f"v:{cid}:" in str(c["params"].get("reply_markup"))
        and c.get("status", 200) == 200
    )


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_scheduled_opening_delivers_once_across_restart(
    world: World, code: str, lang: str
) -> None:
    voter = 36001
    await people(world, [voter], "xingfu-1", code)
    # the world starts at 10:00 Beijing time; voting opens at 12:00
    cid, published = await consultation(world, grids=["xingfu-1"], opens="2026-11-24 12:00")
    assert "12:00" in published["text"]
    await wake(world)
    assert await ballots_sent(world, voter, cid) == 0
    world.clock.advance(timedelta(hours=1, minutes=50))
    await wake(world)
    assert await ballots_sent(world, voter, cid) == 0
    await world.restart_bot()
    world.clock.advance(timedelta(minutes=11))
    assert world.app is not None
    world.app.domain.schedule_changed.set()
    ballot = await with_button(world, voter, f"v:{cid}:o:")
    assert T[lang]["ballot"] in ballot["text"]
    await world.settle()
    await world.restart_bot()
    await wake(world, times=2)
    assert await ballots_sent(world, voter, cid) == 1
    assert T[lang]["recorded"] in await vote(world, voter, cid, 1)


# --- 9. live counts ------------------------------------------------------------------------------


async def test_live_counts_only_for_non_binding_polls(world: World) -> None:
    await people(world, [37001, 37002], "xingfu-1")
    live, _ = await consultation(world, grids=["xingfu-1"], live=True)
    binding, _ = await consultation(world, grids=["xingfu-1"], live=False)
    await vote(world, 37001, live, 2)
    await vote(world, 37001, binding, 2)
    m = await manage(world, live)
    shown = await committee_press(world, m, f"k:res:{live}")
    assert "实时，非约束性" in shown["text"] and "Later：1票（100.0%）" in shown["text"]
    m = await manage(world, binding)
    refused = await committee_press(world, m, f"k:res:{binding}")
    assert "截止后" in refused["text"] and "%" not in refused["text"]


# --- the committee's answer is not queued behind the ballots -----------------------------------


async def test_publish_answer_comes_before_the_ballots(world: World) -> None:
    ids = list(range(38001, 38061))
    await people(world, ids, "xingfu-1")
    cid, _ = await consultation(world, grids=["xingfu-1"])
    await world.settle(timeout=30)
    calls = await world.sim.calls("sendMessage")
    published = next(
        n
        for n, c in enumerate(calls)
        if str(c["params"].get("chat_id")) == str(COMMITTEE)
        and f"#{cid}" in str(c["params"].get("text"))
    )
    first_ballot = next(
        n for n, c in enumerate(calls) if f"v:{cid}:o:" in str(c["params"].get("reply_markup"))
    )
    assert published < first_ballot
