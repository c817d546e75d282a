"""One dialogue at a time, and nothing lost between them: an unsent report survives a staff
question, a rating and "Not solved"; a question nobody can answer is refused; staff who are
no longer staff are told; a lapsed staff prompt or another bot's command catches nothing."""

from __future__ import annotations

import pytest

from tests.support.chat import (
    LANG_IDS,
    LANGS,
    case_row,
    label,
    render,
    resolve,
    settle,
    user_row,
)
from tests.support.world import ADMIN, CASE_ID, MEMBER_1, World, button_labels

STAFF_LANG = "zh"
LAMP = {
    "en": "The street light outside building 1 has been broken for a week",
    "zh": "楼下路灯坏了一个星期了",
}
DOOR = {"en": "The entrance door of building 1 does not close", "zh": "1号楼单元门关不上了"}
HINGE = {"en": "also the hinge is rusty", "zh": "合页也生锈了"}
ANSWER = {"en": "Third floor, next to the lift", "zh": "三楼，电梯旁边"}
COMMENT = {"en": "Quick work, thanks", "zh": "谢谢，很快就修好了"}
REASON = {"en": "It went dark again last night", "zh": "昨晚又不亮了"}

pytestmark = pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)


async def _drafting(world: World, user: int, lang: str) -> dict:
    """The resident has started a second report and not sent it; returns its echo."""
    after = await world.last_id(user)
    await world.say(user, DOOR[lang])
    return await world.wait_bot(user, DOOR[lang], after=after, buttons=True)


async def _send(world: World, user: int, lang: str, after: int) -> str:
    """Press "Send report" on the latest draft echo; returns what the filed case says."""
    echoes = [
        m
        for m in await world.sim.bot_messages(user, after)
        if label(world, lang, "btn_send_report") in button_labels(m)
    ]
    assert echoes, "the draft is shown with its buttons"
    await world.press(user, echoes[-1], label(world, lang, "btn_send_report"))
    filed = await world.wait_bot(user, "GV-", after=echoes[-1]["message_id"])
    assert "already sent or discarded" not in filed["text"]
    return filed["text"]


async def test_a_staff_question_does_not_take_the_line_of_a_report_being_written(
    world: World, code: str, lang: str
) -> None:
    user = 2101
    await world.resident(user, lang=lang)
    case_id, _ = await world.report(user, LAMP[lang])
    card = await world.card(MEMBER_1, case_id)
    echo = await _drafting(world, user, lang)
    # the member asks about the first case while the resident writes the second
    await world.act(MEMBER_1, card, "ask")
    prompt = await world.wait_bot(MEMBER_1, after=card["message_id"])
    await world.say(MEMBER_1, "Which pole exactly?")
    question = await world.wait_bot(user, "Which pole exactly?", after=echo["message_id"])
    row = await case_row(world, case_id)
    assert question["text"].strip() == _shown(
        render(
            world,
            lang,
            "question_to_resident",
            case=row,
            question="Which pole exactly?",
            reply_only=True,
        )
    )
    after_member = await world.last_id(MEMBER_1)
    # the next line is more for the report, not an answer
    await world.say(user, HINGE[lang])
    more = await world.wait_bot(user, HINGE[lang], after=question["message_id"], buttons=True)
    assert DOOR[lang] in more["text"]
    await settle(world)
    assert not any(
        HINGE[lang] in (m["text"] or "")
        for m in await world.sim.bot_messages(MEMBER_1, after_member)
    )
    # sending works, with both lines; then the question's answer prompt arms, and says so
    filed = await _send(world, user, lang, question["message_id"])
    new_ids = [i for i in CASE_ID.findall(filed) if i != case_id]
    assert new_ids, filed
    new_case = await case_row(world, new_ids[0])
    assert HINGE[lang] in new_case.text and DOOR[lang] in new_case.text
    waiting = await world.wait_bot(user, case_id, after=question["message_id"])
    await settle(world)
    assert (await user_row(world, user)).state == "answer"  # type: ignore[union-attr]
    await world.say(user, ANSWER[lang])
    await world.wait_bot(MEMBER_1, ANSWER[lang], after=after_member)
    assert waiting is not None and prompt is not None


async def test_a_rating_over_a_report_being_written_brings_it_back(
    world: World, code: str, lang: str
) -> None:
    user = 2102
    await world.resident(user, lang=lang)
    case_id, _ = await world.report(user, LAMP[lang])
    card = await world.card(MEMBER_1, case_id)
    await world.act(MEMBER_1, card, "acc")
    card = await world.wait_edited(MEMBER_1, card["message_id"], case_id)
    after = await world.last_id(user)
    await resolve(world, MEMBER_1, card, "Replaced the bulb")
    resolved = await world.wait_bot(user, "Replaced the bulb", after=after, buttons=True)
    echo = await _drafting(world, user, lang)
    await world.press(user, resolved, "⭐⭐⭐⭐")
    ask = await world.wait_bot(user, case_id, after=echo["message_id"], buttons=True)
    await world.say(user, COMMENT[lang])
    back = await world.wait_bot(user, DOOR[lang], after=ask["message_id"], buttons=True)
    assert label(world, lang, "btn_send_report") in button_labels(back)
    assert (
        render(world, lang, "draft_saved", draft={"text": DOOR[lang]}, kept=True).split("\n")[0]
        in back["text"]
    )
    assert (await case_row(world, case_id)).rating_comment == COMMENT[lang]
    filed = await _send(world, user, lang, ask["message_id"])
    assert case_id not in filed


async def test_not_solved_over_a_report_being_written_brings_it_back(
    world: World, code: str, lang: str
) -> None:
    user = 2103
    await world.resident(user, lang=lang)
    case_id, _ = await world.report(user, LAMP[lang])
    card = await world.card(MEMBER_1, case_id)
    await world.act(MEMBER_1, card, "acc")
    card = await world.wait_edited(MEMBER_1, card["message_id"], case_id)
    after = await world.last_id(user)
    await resolve(world, MEMBER_1, card, "Replaced the bulb")
    resolved = await world.wait_bot(user, "Replaced the bulb", after=after, buttons=True)
    echo = await _drafting(world, user, lang)
    await world.press(user, resolved, label(world, lang, "btn_not_solved"))
    ask = await world.wait_bot(user, case_id, after=echo["message_id"])
    await world.say(user, REASON[lang])
    back = await world.wait_bot(user, DOOR[lang], after=ask["message_id"], buttons=True)
    assert label(world, lang, "btn_send_report") in button_labels(back)
    assert (await case_row(world, case_id)).status == "reopened"
    await _send(world, user, lang, ask["message_id"])


async def test_asking_a_resident_who_erased_their_data_is_refused(
    world: World, code: str, lang: str
) -> None:
    user = 2104
    await world.resident(user, lang=lang)
    case_id, _ = await world.report(user, LAMP[lang])
    card = await world.card(MEMBER_1, case_id)
    after = await world.last_id(user)
    await world.say(user, "/forget")
    confirm = await world.wait_bot(user, after=after, buttons=True)
    await world.press(user, confirm, label(world, lang, "btn_forget_yes"))
    await world.wait_bot(user, after=confirm["message_id"])
    await settle(world)
    after_member = await world.last_id(MEMBER_1)
    await world.say(MEMBER_1, "Which pole exactly?", reply_to=card["message_id"])
    refused = await world.wait_bot(MEMBER_1, after=after_member)
    assert label(world, STAFF_LANG, "ask_no_resident") in refused["text"]
    assert (await case_row(world, case_id)).status != "needs_info"


async def test_a_member_deactivated_mid_prompt_is_told_and_nothing_is_kept(
    world: World, code: str, lang: str
) -> None:
    if lang != "en":
        pytest.skip("staff read the map's staff language: one run is enough")
    user = 2105
    await world.resident(user, lang=lang)
    case_id, _ = await world.report(user, LAMP[lang])
    card = await world.card(MEMBER_1, case_id)
    await world.act(MEMBER_1, card, "rej")
    prompt = await world.wait_bot(MEMBER_1, after=card["message_id"])
    after_admin = await world.last_id(ADMIN)
    await world.say(ADMIN, f"/deactivate {MEMBER_1}")
    await world.wait_bot(ADMIN, after=after_admin)
    await settle(world)
    after_member = await world.last_id(MEMBER_1)
    await world.say(MEMBER_1, "duplicate of another case")
    told = await world.wait_bot(MEMBER_1, after=max(after_member, prompt["message_id"]))
    assert "⚠️" in told["text"] and case_id in told["text"]
    await settle(world)
    row = await user_row(world, MEMBER_1)
    assert row is not None and row.state is None and "duplicate" not in str(row.state_data)
    assert (await case_row(world, case_id)).status != "rejected"


async def test_a_command_for_another_bot_is_not_answered(
    world: World, code: str, lang: str
) -> None:
    user = 2106
    await world.resident(user, lang=lang)
    after = await world.last_id(user)
    await world.say(user, "/help@other_bot")
    await world.say(user, "/help")
    await world.wait_bot(user, after=after)
    await settle(world)
    assert len(await world.sim.bot_messages(user, after)) == 1


async def test_a_resident_back_from_blocking_answers_the_question_sent_again(
    world: World, code: str, lang: str
) -> None:
    user = 2107
    await world.resident(user, lang=lang)
    case_id, _ = await world.report(user, LAMP[lang])
    card = await world.card(MEMBER_1, case_id)
    await settle(world)
    await world.sim.block(user)
    after_member = await world.last_id(MEMBER_1)
    await world.say(MEMBER_1, "Which pole exactly?", reply_to=card["message_id"])
    await world.wait_bot(MEMBER_1, "⚠️", after=after_member)
    await settle(world)
    # the member's "sent" now says it waits: nobody reads "sent" for an undelivered question
    row = await case_row(world, case_id)
    sent = _shown(render(world, STAFF_LANG, "staff_sent_to_resident", case=row))
    member_now = [m["text"] or "" for m in await world.sim.bot_messages(MEMBER_1, after_member)]
    assert sent not in [t.strip() for t in member_now]
    # back with a press: the question sent again says the next message goes to them, and it does
    await world.sim.block(user, False)
    before_back = await world.last_id(user)
    filed = [
        m
        for m in await world.sim.bot_messages(user)
        if case_id in (m["text"] or "") and m["reply_markup"]
    ][0]
    await world.press(user, filed, label(world, lang, "btn_change_category"))
    await world.wait_bot(user, "Which pole exactly", after=before_back)
    await settle(world)
    after_member = await world.last_id(MEMBER_1)
    await world.say(user, ANSWER[lang])
    await world.wait_bot(MEMBER_1, ANSWER[lang], after=after_member)
    texts = " ".join(m["text"] or "" for m in await world.sim.bot_messages(user, before_back))
    assert label(world, lang, "btn_send_report") not in texts


async def test_cancel_puts_the_cards_buttons_back_after_a_transfer_target(
    world: World, code: str, lang: str
) -> None:
    if lang != "en":
        pytest.skip("staff read the map's staff language: one run is enough")
    user = 2108
    await world.resident(user, lang=lang)
    case_id, _ = await world.report(user, LAMP[lang])
    card = await world.card(MEMBER_1, case_id)
    await world.act(MEMBER_1, card, "trf")
    await settle(world)
    listed = [
        m for m in await world.sim.messages(MEMBER_1) if m["message_id"] == card["message_id"]
    ][0]
    await world.press(MEMBER_1, listed, "幸福物业")
    await settle(world)
    await world.say(MEMBER_1, "/cancel")
    await settle(world)
    now = [m for m in await world.sim.messages(MEMBER_1) if m["message_id"] == card["message_id"]][
        0
    ]
    datas = [b["callback_data"] for r in now["reply_markup"]["inline_keyboard"] for b in r]
    assert not any(d.startswith("c:tgt:") for d in datas)
    assert any(d.startswith("c:acc:") for d in datas)


def _shown(text: str) -> str:
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


async def test_cancel_before_a_transfer_target_puts_the_cards_buttons_back(
    world: World, code: str, lang: str
) -> None:
    """Transfer shows the targets on the card; a member who changes their mind and sends
    /cancel before choosing gets the card's own buttons back, and a line typed before a
    target is chosen transfers nothing."""
    if lang != "en":
        pytest.skip("staff read the map's staff language: one run is enough")
    user = 2109
    await world.resident(user, lang=lang)
    case_id, _ = await world.report(user, LAMP[lang])
    card = await world.card(MEMBER_1, case_id)
    await world.act(MEMBER_1, card, "trf")
    await settle(world)

    def datas(message: dict) -> list[str]:
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        return [b["callback_data"] for r in rows for b in r]

    async def card_now() -> dict:
        return [
            m for m in await world.sim.messages(MEMBER_1) if m["message_id"] == card["message_id"]
        ][0]

    assert any(d.startswith("c:tgt:") for d in datas(await card_now()))
    after = await world.last_id(MEMBER_1)
    await world.say(MEMBER_1, "the property company should do it")
    hint = await world.wait_bot(MEMBER_1, case_id, after=after)
    assert "/cancel" in hint["text"]
    await world.say(MEMBER_1, "/cancel")
    await settle(world)
    now = datas(await card_now())
    assert not any(d.startswith("c:tgt:") for d in now)
    assert any(d.startswith("c:acc:") for d in now)
    row = await case_row(world, case_id)
    assert row.status == "assigned" and row.owner_id == MEMBER_1
