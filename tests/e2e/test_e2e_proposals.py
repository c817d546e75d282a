"""Residents' proposals end to end through the emulator, in both languages: written in the chat,
supported to the threshold through shared links, answered by the committee on time (a
consultation), declined with a reason, answered late (a work item) and counted late; followers
told each step; forged, doubled and stale presses; a supporter who uses /forget."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.services.participation import proposals as ps
from bot.store.models import Case, Consultation, Proposal, ProposalSupport, User
from tests.e2e.consult_helpers import people
from tests.support.world import COMMITTEE, World

AUTHOR_EN, AUTHOR_ZH = 41001, 42001
SUPPORTERS_EN = list(range(41002, 41010))  # 8 verified residents of grid 1
SUPPORTERS_ZH = list(range(42002, 42010))
OUTSIDER = 41999  # unverified
T = {
    "en": {
        "title": "A new proposal",
        "text": "the proposal itself",
        "preview": "publish",
        "published": "is published",
        "supported": "your support is counted",
        "already": "already support",
        "reached": "reached",
        "consultation": "becomes consultation",
        "declined": "declined",
        "work": "work item",
        "following": "told each step",
        "long": "characters long",
    },
    "zh": {
        "title": "新建议",
        "text": "建议内容",
        "preview": "发布",
        "published": "已发布",
        "supported": "您的支持已计入",
        "already": "已经支持过",
        "reached": "达到门槛",
        "consultation": "转为议事协商",
        "declined": "未被采纳",
        "work": "工作事项",
        "following": "每一步进展",
        "long": "个字",
    },
}


async def answer_of(world: World, qid: str) -> str:
    for _ in range(200):
        a = await world.sim.callback_answer(qid)
        if a.get("answered"):
            return a.get("text") or ""
        await asyncio.sleep(0.05)
    raise AssertionError("callback never answered")


async def press(world: World, user: int, message: dict[str, Any], prefix: str) -> str:
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            if button.get("callback_data", "").startswith(prefix):
                pressed = await world.sim.press(
                    user, message["message_id"], data=button["callback_data"]
                )
                return await answer_of(world, pressed["callback_query_id"])
    raise AssertionError(f"no button {prefix!r} in {message.get('reply_markup')}")


async def forged(world: World, user: int, data: str) -> str:
    sent = await world.sim.send_text(user, "hello")
    pressed = await world.sim.press(user, sent["message_id"], data=data, forge=True)
    return await answer_of(world, pressed["callback_query_id"])


async def propose(
    world: World, user: int, lang: str, title: str, text: str, *, cite: bool = False
) -> int:
    t = T[lang]
    after = await world.last_id(user)
    await world.say(user, "/propose")
    m = await world.wait_bot(user, t["title"], after=after)
    await world.say(user, "x" * 130)  # too long: a clear message, the step stays
    m = await world.wait_bot(user, t["long"], after=m["message_id"])
    await world.say(user, title)
    m = await world.wait_bot(user, t["text"], after=m["message_id"])
    await world.say(user, text)
    preview = await world.wait_bot(user, title, after=m["message_id"], buttons=True)
    await world.say(user, "Building 3 stairwell")  # a place's words
    preview = await world.wait_bot(
        user, "Building 3 stairwell", after=preview["message_id"], buttons=True
    )
    if cite:  # the reports that prompted it: grouped by problem and place, nobody named
        await press(world, user, preview, "pp:cite")
        groups = await world.wait_bot(user, "📎", after=preview["message_id"], buttons=True)
        await press(world, user, groups, "pp:c:0")
        preview = await world.wait_bot(user, "1", after=groups["message_id"], buttons=True)
        assert "✅" in str(preview["reply_markup"])
    await press(world, user, preview, "pp:pub")
    published = await world.wait_bot(user, t["published"], after=preview["message_id"])
    match = re.search(r"#(\d+)", published["text"])
    assert match, published
    return int(match.group(1))


async def support_via_link(world: World, user: int, pid: int, lang: str) -> str:
    after = await world.last_id(user)
    await world.say(user, f"/start support_{pid}")
    card = await world.wait_bot(user, f"#{pid}", after=after, buttons=True)
    return await press(world, user, card, f"pr:{pid}:s")


async def proposal_row(world: World, pid: int) -> Proposal:
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        row = await session.get(Proposal, pid)
        assert row is not None
        return row


async def committee_card(world: World, pid: int, after: int, contains: str = "") -> dict[str, Any]:
    return await world.sim.wait_for(
        COMMITTEE,
        lambda m: (
            f"#{pid}" in (m.get("text") or "")
            and contains in (m.get("text") or "")
            and f"pa:{pid}:" in str(m.get("reply_markup"))
        ),
        timeout=15,
        after=after,
    )


async def test_proposal_to_threshold_consultation_and_a_declined_one_en(world: World) -> None:
    t = T["en"]
    await people(world, [AUTHOR_EN, *SUPPORTERS_EN], "xingfu-1", "en")
    await people(world, [OUTSIDER], "xingfu-1", "en", verified=False)
    pid = await propose(
        world,
        AUTHOR_EN,
        "en",
        "Lights in the stairwells of building 3",
        "The stairwells of building 3 are dark at night; please fit motion-sensor lights.",
    )
    row = await proposal_row(world, pid)
    assert row.status == "open" and row.threshold == 5 and row.place_text == "Building 3 stairwell"

    # four supports through the shared link; two ask to follow
    for user in SUPPORTERS_EN[:4]:
        assert t["supported"] in await support_via_link(world, user, pid, "en")
    for user in SUPPORTERS_EN[:2]:
        card = await world.wait_bot(user, f"#{pid}", buttons=True)
        assert t["following"] in await press(world, user, card, f"pr:{pid}:f")
    # the pressed card now offers to stop; stopping offers to follow again
    user = SUPPORTERS_EN[1]
    for prefix, said in ((f"pr:{pid}:u", "no longer"), (f"pr:{pid}:f", t["following"])):
        await world.settle()
        (card,) = [
            m for m in await world.sim.messages(user) if m["message_id"] == card["message_id"]
        ]
        assert said in await press(world, user, card, prefix)

    # doubled, forged and stale presses change nothing
    assert t["already"] in await forged(world, SUPPORTERS_EN[0], f"pr:{pid}:s")
    assert "verified residents" in await forged(world, OUTSIDER, f"pr:{pid}:s")
    assert "No such proposal" in await forged(world, SUPPORTERS_EN[5], "pr:99999:s")
    assert "Not allowed" in await forged(world, SUPPORTERS_EN[5], "pr:-1:s")
    assert "Not allowed" in await forged(world, SUPPORTERS_EN[5], f"pr:{pid}:zz")
    assert "This step is over" in await forged(world, SUPPORTERS_EN[5], "pp:pub")
    await world.settle()
    assert (await proposal_row(world, pid)).supports == 4

    # the fifth support reaches the threshold: author, followers and the committee are told
    after_c = await world.last_id(COMMITTEE)
    after = {u: await world.last_id(u) for u in (AUTHOR_EN, *SUPPORTERS_EN[:3])}
    assert t["supported"] in await support_via_link(world, SUPPORTERS_EN[4], pid, "en")
    for user in (AUTHOR_EN, SUPPORTERS_EN[0], SUPPORTERS_EN[1]):
        await world.wait_bot(user, t["reached"], after=after[user])
    await world.settle()
    told = [m for m in await world.sim.messages(SUPPORTERS_EN[2], after[SUPPORTERS_EN[2]])]
    assert not any(t["reached"] in (m.get("text") or "") for m in told)  # did not ask to follow
    card = await committee_card(world, pid, after_c, "")
    row = await proposal_row(world, pid)
    assert row.status == "reached" and row.answer_due is not None

    # answered on time: it becomes a consultation with its text
    await press(world, COMMITTEE, card, f"pa:{pid}:c")
    for user in (AUTHOR_EN, SUPPORTERS_EN[0]):
        await world.wait_bot(user, t["consultation"], after=after[user])
    row = await proposal_row(world, pid)
    assert row.status == "accepted" and not row.answered_late and row.consultation_id
    async with world.app.domain.sessions() as session:  # type: ignore[union-attr]
        c = await session.get(Consultation, row.consultation_id)
        assert c is not None and "motion-sensor lights" in c.question
    # a press on the answered card changes nothing (the committee reads Chinese)
    assert "已经答复过" in await press(world, COMMITTEE, card, f"pa:{pid}:d")

    # a second proposal declined with a public reason; a third would pass the weekly limit
    pid2 = await propose(
        world,
        AUTHOR_EN,
        "en",
        "A second bench by the gate",
        "A bench by the north gate would help older neighbours waiting for the bus.",
    )
    await world.say(COMMITTEE, f"/proposal {pid2}")
    card2 = await committee_card(world, pid2, after_c)
    await press(world, COMMITTEE, card2, f"pa:{pid2}:d")
    asked = await world.wait_bot(COMMITTEE, "公开理由", after=card2["message_id"])
    await world.say(COMMITTEE, "no")  # too short: asked again
    again = await world.wait_bot(COMMITTEE, "理由", after=asked["message_id"])
    await world.say(COMMITTEE, "The pavement there is too narrow for a bench and a wheelchair.")
    await world.wait_bot(COMMITTEE, "未采纳", after=again["message_id"])
    await world.wait_bot(AUTHOR_EN, "too narrow", after=after[AUTHOR_EN])
    row2 = await proposal_row(world, pid2)
    assert row2.status == "declined" and row2.answer_reason and not row2.answered_late

    await propose(
        world,
        AUTHOR_EN,
        "en",
        "A third idea",
        "Plant more trees along the inner road of the estate.",
    )
    last = await world.last_id(AUTHOR_EN)
    await world.say(AUTHOR_EN, "/propose")
    limit = await world.wait_bot(AUTHOR_EN, "most a week allows", after=last)
    assert "3" in limit["text"]

    async with world.app.domain.unit() as uow:  # type: ignore[union-attr]
        counts = await ps.answer_counts(uow, "xingfu")
    assert (counts.on_time, counts.late, counts.unanswered, counts.published) == (1, 0, 0, 3)


async def test_late_answer_work_item_and_a_supporter_who_forgets_zh(world: World) -> None:
    t = T["zh"]
    await people(world, [AUTHOR_ZH, *SUPPORTERS_ZH], "xingfu-2", "zh-hans")
    pid = await propose(
        world,
        AUTHOR_ZH,
        "zh",
        "在7号楼前装一个快递柜",
        "7号楼门口经常堆放快递，希望在楼前安装一个智能快递柜，方便老人取件。",
    )
    for user in SUPPORTERS_ZH[:2]:
        assert t["supported"] in await support_via_link(world, user, pid, "zh")
    card = await world.wait_bot(SUPPORTERS_ZH[0], f"#{pid}", buttons=True)
    await press(world, SUPPORTERS_ZH[0], card, f"pr:{pid}:f")

    # a point for, once; too long first
    await press(
        world,
        SUPPORTERS_ZH[1],
        card if False else await world.wait_bot(SUPPORTERS_ZH[1], f"#{pid}", buttons=True),
        f"pr:{pid}:p:f",
    )
    last = await world.last_id(SUPPORTERS_ZH[1])
    await world.say(SUPPORTERS_ZH[1], "好" * 250)
    await world.wait_bot(SUPPORTERS_ZH[1], t["long"], after=last)
    await world.say(SUPPORTERS_ZH[1], "老人不用再下楼等快递员。")
    await world.wait_bot(SUPPORTERS_ZH[1], "已公开", after=last)

    # a supporter uses /forget: the support stays counted, nobody behind it
    forgetter = SUPPORTERS_ZH[1]
    last = await world.last_id(forgetter)
    await world.say(forgetter, "/forget")
    confirm = await world.wait_bot(forgetter, after=last, buttons=True)
    await press(world, forgetter, confirm, "f:yes")
    await world.wait_bot(forgetter, after=confirm["message_id"])  # the data is erased
    await world.settle()
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        rows = (
            (
                await session.execute(
                    select(ProposalSupport).where(ProposalSupport.proposal_id == pid)
                )
            )
            .scalars()
            .all()
        )
    assert len(rows) == 2 and forgetter not in {r.user_id for r in rows}
    assert None in {r.user_id for r in rows}

    after_c = await world.last_id(COMMITTEE)
    for user in SUPPORTERS_ZH[2:5]:
        assert t["supported"] in await support_via_link(world, user, pid, "zh")
    await committee_card(world, pid, after_c)
    row = await proposal_row(world, pid)
    assert row.status == "reached" and row.supports == 5

    # the deadline passes unanswered: the scheduler marks it late and tells the committee
    world.clock.advance(timedelta(days=8))
    world.app.domain.schedule_changed.set()
    late = await committee_card(world, pid, after_c, "逾期")
    row = await proposal_row(world, pid)
    assert row.late_at is not None
    async with world.app.domain.unit() as uow:
        counts = await ps.answer_counts(uow, "xingfu")
    assert counts.unanswered == 1

    # answered late, as a work item with an owner and a due date: counted late
    after_a = await world.last_id(SUPPORTERS_ZH[0])
    await press(world, COMMITTEE, late, f"pa:{pid}:w")
    members = await world.wait_bot(COMMITTEE, "由谁负责", after=late["message_id"], buttons=True)
    await press(world, COMMITTEE, members, f"pa:{pid}:w:")
    days = await world.wait_bot(COMMITTEE, "何时完成", after=members["message_id"], buttons=True)
    await press(world, COMMITTEE, days, f"pa:{pid}:w:")
    await world.wait_bot(SUPPORTERS_ZH[0], t["work"], after=after_a)
    row = await proposal_row(world, pid)
    assert row.status == "accepted" and row.answered_late and row.work_case_id
    async with world.app.domain.sessions() as session:
        case = await session.get(Case, row.work_case_id)
        assert case is not None and case.source == "proposal" and case.grid_id == "xingfu-2"
        assert case.resident_id is None and case.owner_id is not None
    async with world.app.domain.unit() as uow:
        counts = await ps.answer_counts(uow, "xingfu")
    assert (counts.on_time, counts.late, counts.unanswered) == (0, 1, 0)


async def _inline(world: World, user: int, query: str) -> list[dict[str, Any]]:
    asked = await world.sim.inline_query(user, query)
    for _ in range(200):
        answer = await world.sim.inline_answer(asked["inline_query_id"])
        if answer.get("answered"):
            return list(answer.get("results") or [])
        await asyncio.sleep(0.05)
    raise AssertionError("inline query never answered")


async def test_inline_sharing_offers_own_cases_and_open_proposals(world: World) -> None:
    await world.resident(43001)
    case_id, _ = await world.report(
        43001, "The street light outside building 1 has been broken for a week"
    )
    async with world.app.domain.unit() as uow:  # type: ignore[union-attr]
        user = await uow.session.get(User, 43001)
        user.verified = True  # type: ignore[union-attr]
    pid = await propose(
        world,
        43001,
        "en",
        "Brighter street lights",
        "Several street lights by building 1 are too dim; please fit brighter lamps.",
        cite=True,
    )
    row = await proposal_row(world, pid)
    assert len(row.cited_case_ids) == 1  # the resident's own report, cited by its group
    card = await world.wait_bot(43001, "📎 1 report", buttons=True)
    assert "broken for a week" not in card["text"]
    results = await _inline(world, 43001, "")
    ids = {r["id"] for r in results}
    assert f"p{pid}" in ids and any(r["id"].startswith("c") for r in results)
    card = next(r for r in results if r["id"] == f"p{pid}")
    bot = world.app.domain.bot_username  # type: ignore[union-attr]
    link = f"https://t.me/{bot}?start=support_{pid}"
    assert link in card["input_message_content"]["message_text"]
    assert card["reply_markup"]["inline_keyboard"][0][0]["url"] == link
    shared_case = next(r for r in results if r["id"].startswith("c"))
    assert case_id in shared_case["input_message_content"]["message_text"]
    assert "broken for a week" not in str(shared_case)  # the card shares status, not words
    # words narrow it; hostile text changes nothing and is answered
    assert {r["id"] for r in await _inline(world, 43001, "brighter")} >= {f"p{pid}"}
    assert await _inline(world, 43001, "zzz-no-such-words") == []
    assert await _inline(world, 43001, "%_\u202e\x00zz" * 40) == []  # no wildcard
    # someone the bot does not know gets nothing (and is not created)
    await world.sim.create_user(43999, "Stranger", language_code="en")
    assert await _inline(world, 43999, "") == []
    # the shared link lands on the support button; a forged payload is refused clearly
    await people(world, [43002], "xingfu-1", "en")
    assert T["en"]["supported"] in await support_via_link(world, 43002, pid, "en")
    for payload in ("support_abc", "support_-1", "support_99999999999", "support_"):
        after = await world.last_id(43002)
        await world.say(43002, f"/start {payload}")
        refused = await world.wait_bot(43002, after=after)
        assert "No such proposal" in refused["text"]
