"""Privacy commands, state that survives a restart, bad input, long answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.store.models import Case, CaseEvent, CasePhoto
from tests.support.chat import (
    LANG_IDS,
    LANGS,
    PNG,
    bot_texts,
    case_row,
    failed_inbox,
    label,
    render,
    settle,
    user_row,
)
from tests.support.world import MEMBER_1, World

pytestmark = pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)

LIGHT = {
    "en": "The street light outside building 1 has been broken for a week",
    "zh": "楼下路灯坏了一个星期了",
}


async def test_mydata_and_forget_with_confirmation_anonymises_cases(
    world: World, code: str, lang: str
) -> None:
    user = 901
    await world.resident(user, lang=lang)
    case_id, _ = await world.report(user, LIGHT[lang])
    after = await world.last_id(user)
    await world.say(user, "/mydata")
    data = await world.wait_bot(user, case_id, after=after)
    assert "Resident901" in data["text"] and "R-" in data["text"] and "xingfu-1" in data["text"]

    await world.say(user, "/forget")
    confirm = await world.wait_bot(user, after=data["message_id"], buttons=True)
    await world.press(user, confirm, label(world, lang, "btn_forget_no"))
    kept = await world.wait_bot(user, after=confirm["message_id"])
    row = await user_row(world, user)
    assert row is not None and row.first_name == "Resident901"

    await world.say(user, "/forget")
    confirm = await world.wait_bot(user, after=kept["message_id"], buttons=True)
    await world.press(user, confirm, label(world, lang, "btn_forget_yes"))
    gone = await world.wait_bot(user, after=confirm["message_id"])
    assert "1" in gone["text"]
    row = await user_row(world, user)
    assert row is not None and row.first_name is None and row.home_address is None
    assert row.home_grid_id is None and row.home_building_id is None and row.consent_at is None
    case = await case_row(world, case_id)
    assert case.resident_id is None and case.status == "assigned"
    # the member still works on it; nobody is told
    card = await world.card(MEMBER_1, case_id)
    await world.act(MEMBER_1, card, "acc")
    await world.wait_edited(MEMBER_1, card["message_id"], label(world, "zh", "status_accepted"))
    assert (await case_row(world, case_id)).status == "accepted"
    assert await failed_inbox(world) == 0


async def test_restart_mid_report_keeps_the_draft(world: World, code: str, lang: str) -> None:
    user = 902
    await world.resident(user, lang=lang)
    after = await world.last_id(user)
    await world.say(user, LIGHT[lang])
    await world.wait_bot(user, after=after, buttons=True)
    await settle(world)
    await world.restart_bot()
    after = await world.last_id(user)
    await world.sim.send_photo(user, PNG)
    last = await world.wait_bot(user, "📷", after=after, buttons=True)
    assert "📷" in last["text"] and LIGHT[lang][:12] in last["text"]
    await world.press(user, last, label(world, lang, "btn_send_report"))
    filed = await world.wait_bot(user, "GV-", after=last["message_id"])
    case_id = filed["text"].split("GV-", 1)[1][:11]
    case = await case_row(world, "GV-" + case_id)
    assert case.text == LIGHT[lang]
    async with world.app.domain.sessions() as session:  # type: ignore[union-attr]
        photos = (
            (await session.execute(select(CasePhoto).where(CasePhoto.case_id == case.id)))
            .scalars()
            .all()
        )
    assert len(photos) == 1


async def test_bad_input_gets_short_answers_in_the_users_language(
    world: World, code: str, lang: str
) -> None:
    user = 903
    await world.resident(user, lang=lang)
    unsupported = render(world, lang, "unsupported_content").strip()
    for kind in ("sticker", "voice", "document"):
        after = await world.last_id(user)
        await world.sim.send_raw(kind, user)
        answer = await world.wait_bot(user, after=after)
        assert answer["text"].strip() == unsupported, kind

    after = await world.last_id(user)
    await world.say(user, "/frobnicate now")
    answer = await world.wait_bot(user, "/frobnicate", after=after)
    assert (
        answer["text"].strip()
        == render(world, lang, "unknown_command", command="/frobnicate").strip()
    )

    after = await world.last_id(user)
    sent = await world.say(user, "hello there")
    await world.wait_bot(user, after=after)
    after = await world.last_id(user)
    await world.sim.edit_text(user, sent["message_id"], "hello there, edited")
    answer = await world.wait_bot(user, after=after)
    assert answer["text"].strip() == render(world, lang, "edit_not_applied").strip()

    # very long text: kept truncated, with a notice
    world.clock.advance(timedelta(minutes=2))
    await world.say(user, "/cancel")
    await settle(world)
    after = await world.last_id(user)
    long_text = ("The drain by the gate is blocked. " * 80)[:2500]
    await world.say(user, long_text)
    await settle(world)
    texts = await bot_texts(world, user, after)
    notice = render(world, lang, "text_too_long", limit=2000).strip()
    assert any(t.strip() == notice for t in texts)
    draft = (await world.sim.bot_messages(user, after))[-1]
    assert draft["reply_markup"]
    await world.press(user, draft, label(world, lang, "btn_send_report"))
    filed = await world.wait_bot(user, "GV-", after=draft["message_id"])
    case = await case_row(world, "GV-" + filed["text"].split("GV-", 1)[1][:11])
    assert len(case.text) <= 2000

    # a flood: answered once, politely
    world.clock.advance(timedelta(minutes=2))
    await settle(world)
    after = await world.last_id(user)
    for i in range(30):
        await world.say(user, f"flood {i}")
    await settle(world)
    texts = await bot_texts(world, user, after)
    warning = render(world, lang, "rate_limited", dropped=10).strip()
    assert sum(1 for t in texts if t.strip() == warning) == 1  # one notice: 10 not taken
    assert len(texts) <= 21
    assert await failed_inbox(world) == 0


async def test_long_timeline_is_split_into_several_messages(
    world: World, code: str, lang: str
) -> None:
    user = 904
    await world.resident(user, lang=lang)
    case_id, _ = await world.report(user, LIGHT[lang])
    case = await case_row(world, case_id)
    assert world.app is not None
    async with world.app.domain.unit() as uow:
        for i in range(60):
            uow.session.add(
                CaseEvent(
                    case_id=case.id,
                    at=world.clock.now(),
                    actor_id=user,
                    actor_role="resident",
                    kind="answered",
                    to_status="assigned",
                    note=f"note {i} " + "x" * 190,
                    data={},
                )
            )
    after = await world.last_id(user)
    await world.say(user, "/my")
    mine = await world.wait_bot(user, after=after, buttons=True)
    await world.press(user, mine, case_id)
    await world.wait_bot(user, "note 59 ", after=mine["message_id"])
    await settle(world)
    parts = await world.sim.bot_messages(user, mine["message_id"])
    assert len(parts) >= 3
    assert all(len(p["text"]) <= 4096 for p in parts)
    joined = "\n".join(p["text"] for p in parts)
    assert "note 0 " in joined and "note 59 " in joined
    assert await failed_inbox(world) == 0


async def test_long_my_list_fits_telegram(world: World, code: str, lang: str) -> None:
    user = 905
    await world.resident(user, lang=lang)
    assert world.app is not None
    async with world.app.domain.unit() as uow:
        for i in range(40):
            uow.session.add(
                Case(
                    resident_id=user,
                    language=lang,
                    text=f"problem {i} " + "y" * 300,
                    category="other",
                    confidence=1.0,
                    matched=[],
                    priority="normal",
                    grid_id="xingfu-1",
                    status="assigned",
                    created_at=world.clock.now(),
                    updated_at=world.clock.now(),
                    version=0,
                    reopen_count=0,
                    escalation_count=0,
                    human_id=f"GV-2026-9{i:05d}",
                )
            )
    after = await world.last_id(user)
    await world.say(user, "/my")
    await world.wait_bot(user, after=after, buttons=True)
    await settle(world)
    parts = await world.sim.bot_messages(user, after)
    assert parts and all(len(p["text"]) <= 4096 for p in parts)
    assert any(p["reply_markup"] for p in parts)
