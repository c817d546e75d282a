"""Verification (grid member's two taps, the household register) and announcements with a photo
and muting, end to end, in English and Chinese."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from bot.cli import register as register_cli
from bot.services.people.household import resident_token
from bot.store.models import User
from tests.e2e.consult_helpers import T, answer_of, consultation, people, vote, with_button
from tests.support.chat import LANG_IDS, LANGS
from tests.support.world import COMMITTEE, MEMBER_1, MEMBER_2, World

VERIFIED = {"en": "verified by your grid member", "zh": "网格员已确认您的住址"}
CONTACT = {
    "en": {
        "verified": "matches the household register",
        "not_found": "not in the household register",
        "not_yours": "share your own contact",
    },
    "zh": {
        "verified": "与户籍登记一致",
        "not_found": "不在户籍登记中",
        "not_yours": "分享您本人的联系方式",
    },
}
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


async def verified(world: World, user: int) -> bool:
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        row = await session.get(User, user)
        return bool(row and row.verified)


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_grid_member_approves_in_two_taps(world: World, code: str, lang: str) -> None:
    resident = 39001
    await world.resident(resident, lang=code)  # Xingfu Garden Building 1: grid xingfu-1
    token = resident_token(world.settings.token, resident)
    request = await with_button(world, MEMBER_1, f"h:y:{token}")
    assert not await verified(world, resident)
    # a member of another grid cannot approve
    refused = await world.sim.press(
        MEMBER_2, request["message_id"], data=f"h:y:{token}", forge=True
    )
    assert await answer_of(world, refused)
    await asyncio.sleep(0.2)
    assert not await verified(world, resident)
    after = await world.last_id(resident)
    approved = await world.sim.press(MEMBER_1, request["message_id"], data=f"h:y:{token}")
    assert await answer_of(world, approved)
    await world.wait_bot(resident, VERIFIED[lang], after=after)
    assert await verified(world, resident)
    cid, _ = await consultation(world, grids=["xingfu-1"])
    assert T[lang]["recorded"] in await vote(world, resident, cid, 0)


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_household_register_contact_verifies(
    world: World, code: str, lang: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register = tmp_path / "register.csv"
    register.write_text(
        "phone,place\n+86 138 0013 8000,xf-1\n13900139000,xingfu-2\n", encoding="utf-8"
    )
    monkeypatch.setenv("DATABASE_URL", world.db_url)
    assert await register_cli._load(register) == 0
    owner, stranger, impostor = 39101, 39102, 39103
    for i in (owner, stranger, impostor):
        await world.resident(i, lang=code)
    texts = CONTACT[lang]

    async def share(user: int, phone: str, contact_user: int | None, expect: str) -> None:
        after = await world.last_id(user)
        extra = {"user_id": contact_user} if contact_user is not None else {}
        await world.sim.send_contact(user, phone, "Me", **extra)
        await world.wait_bot(user, texts[expect], after=after)

    await share(stranger, "+8613700137000", stranger, "not_found")
    await share(impostor, "+8613800138000", owner, "not_yours")  # someone else's number
    await share(impostor, "+8613800138000", None, "not_yours")  # a contact card, not one's own
    await share(owner, "+8613800138000", owner, "verified")
    assert await verified(world, owner)
    assert not await verified(world, stranger) and not await verified(world, impostor)
    cid, _ = await consultation(world, grids=["xingfu-1"])
    assert T[lang]["recorded"] in await vote(world, owner, cid, 1)


async def test_announcement_with_photo_and_mute(world: World) -> None:
    en, zh, muted = 39201, 39202, 39203
    await people(world, [en], "xingfu-1", "en")
    await people(world, [zh], "xingfu-1", "zh-hans")
    await world.resident(muted)
    after = await world.last_id(muted)
    await world.say(muted, "/mute")
    await world.wait_bot(muted, "muted", after=after)

    after = await world.last_id(COMMITTEE)
    await world.say(COMMITTEE, "/announce")
    asked = await world.wait_bot(COMMITTEE, after=after)
    await world.sim.send_photo(COMMITTEE, PNG, caption="Water off Saturday 9:00-12:00")
    grids = await world.wait_bot(COMMITTEE, after=asked["message_id"], buttons=True)
    await world.sim.press(COMMITTEE, grids["message_id"], data="k:ag:xingfu-1")
    grids = await world.wait_bot(COMMITTEE, after=grids["message_id"], buttons=True)
    await world.sim.press(COMMITTEE, grids["message_id"], data="k:asend")
    sent = await world.wait_bot(COMMITTEE, "#", after=grids["message_id"])
    assert "2" in sent["text"]
    for user, heading in ((en, "Announcement from your community"), (zh, "社区公告")):
        photo = await world.sim.wait_for(user, lambda m: bool(m.get("photo")), timeout=10)
        assert heading in photo["caption"] and "Water off Saturday" in photo["caption"]
    # the muted resident still gets updates on their case
    case_id, filed = await world.report(
        muted, "The street light outside building 1 has been broken for a week"
    )
    card = await world.card(MEMBER_1, case_id)
    await world.act(MEMBER_1, card, "acc")
    update = await world.wait_bot(muted, case_id, after=filed["message_id"])
    assert update
    await world.settle()
    for m in await world.sim.bot_messages(muted):
        assert not m.get("photo") and "Water off" not in (m.get("text") or "")
