"""Texts a person reads: plural forms, line breaks, example dates, lists, the right refusal,
and what /my, /case, /help and a consultation's deep link show."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace as NS

import pytest
from sqlalchemy import update

from bot.render import Renderer
from bot.store.models import Case, Consultation
from tests.e2e.consult_helpers import (
    consultation,
    datas,
    manage,
    people,
    press_data,
    step,
    vote,
    with_button,
)
from tests.support.chat import LANG_IDS, LANGS, case_row, label, settle
from tests.support.world import COMMITTEE, LEADER, MEMBER_1, World

NOW = datetime(2026, 11, 24, 2, tzinfo=UTC)


def test_plural_forms_in_both_languages() -> None:
    r = Renderer()
    assert r.label("en", "btn_in_days", days=1) == "In 1 day"
    assert r.label("en", "btn_in_days", days=3) == "In 3 days"
    assert r.label("zh", "btn_in_days", days=1) == "1天后"
    assert "1 day)" in r.label("en", "reopen_too_late", days=1)
    assert "已超过1天" in r.label("zh", "reopen_too_late", days=1)
    assert "1 report stays" in r.render("en", "forgotten", cases=1)
    assert "1 open case was" in r.render("en", "deactivated", user="1", moved=1)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_consultation_messages_keep_their_line_breaks(lang: str) -> None:
    r = Renderer()
    c = NS(
        id=1,
        question="Bike shed?",
        options=["Yes", "No"],
        multiple=False,
        secret=True,
        allow_change=False,
        closes_at=NOW,
        opens_at=NOW,
        status="open",
    )
    results = NS(
        options=[NS(n=1, text="Yes", votes=1, percent=100)],
        ballots=1,
        eligible=2,
        turnout=50,
        grids=[],
    )
    text = r.render(lang, "consult_results", c=c, r=results, names={})
    assert text.splitlines()[1] == "Bike shed?", text
    published = r.render(lang, "consult_published", c=c, link="https://t.me/b?start=c1")
    assert published.splitlines()[-1].endswith("https://t.me/b?start=c1")
    assert len(published.splitlines()) == 3, published
    ballot = r.render(lang, "consult_ballot", c=c)
    assert "\n\n" in ballot.split("🔒", 1)[1]  # a blank line before the closing time
    assert "。 " not in ballot


def test_a_new_owner_is_not_announced_as_the_first() -> None:
    r = Renderer()
    case = NS(human_id="GV-2026-000001", status="assigned", category="facilities")
    data = dict(case=case, party_name=None, owner_name="刘洋", owner_rung="member")
    assert "new owner" in r.render("en", "case_update", event="rerouted", **data)
    assert "now has an owner" not in r.render("en", "case_update", event="reassigned", **data)
    assert "新的" in r.render("zh", "case_update", event="rerouted", **data)


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_lists_have_no_blank_lines_between_items(world: World, code: str, lang: str) -> None:
    user = 1801
    await world.resident(user, lang=code)
    await world.report(user, "The street light outside building 1 is broken")
    await world.report(user, "Garbage bins overflowing next to building 3, smells terrible")
    after = await world.last_id(user)
    await world.say(user, "/my")
    mine = await world.wait_bot(user, after=after, timeout=2.0)
    assert "\n\n" not in mine["text"], mine["text"]
    after = await world.last_id(MEMBER_1)
    await world.say(MEMBER_1, "/queue")
    queue = await world.wait_bot(MEMBER_1, after=after, timeout=2.0)
    assert "\n\n" not in queue["text"], queue["text"]


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_consultation_example_dates_are_ahead(world: World, code: str, lang: str) -> None:
    if lang == "en":
        await world.say(COMMITTEE, "/language")
        choose = await world.wait_bot(COMMITTEE, buttons=True)
        await world.press(COMMITTEE, choose, "English")
        await world.wait_bot(COMMITTEE, after=choose["message_id"])
    m = await step(world, lambda: world.say(COMMITTEE, "/consult"))
    m = await step(world, lambda: world.say(COMMITTEE, "Should we add a bicycle shed?"))
    m = await step(world, lambda: world.say(COMMITTEE, "Yes\nNo"))
    m = await step(world, lambda: press_data(world, COMMITTEE, m, "k:kind:1"))
    m = await step(world, lambda: press_data(world, COMMITTEE, m, "k:g:xingfu-1"))
    m = await step(world, lambda: press_data(world, COMMITTEE, m, "k:gok"))
    m = await step(world, lambda: press_data(world, COMMITTEE, m, "k:bal:n"))
    dates = re.findall(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", m["text"])
    assert dates, m["text"]
    now = world.clock.now().replace(tzinfo=None)
    assert all(datetime.strptime(d, "%Y-%m-%d %H:%M") > now for d in dates), dates
    # /cancel leaves the dialogue: the next message is not taken as an answer
    m = await step(world, lambda: world.say(COMMITTEE, "/cancel"))
    assert label(world, lang, "btn_now") not in str(m.get("reply_markup"))
    m = await step(world, lambda: world.say(COMMITTEE, "2030-01-01 09:00"))
    assert not dates or "2030-01-01" not in (m.get("text") or "")
    assert not any(d.startswith("k:") for d in datas(m))


async def test_committee_can_close_a_consultation_now(world: World) -> None:
    voters = [18101, 18102]
    await people(world, voters, "xingfu-1")
    cid, _ = await consultation(world, grids=["xingfu-1"], days=7)
    await vote(world, voters[0], cid, 0)
    m = await manage(world, cid)
    assert any(d == f"k:cln:{cid}" for d in datas(m))
    confirm = await step(world, lambda: press_data(world, COMMITTEE, m, f"k:cln:{cid}"))
    assert any(d == f"k:cly:{cid}" for d in datas(confirm))
    after = await world.last_id(voters[0])
    await press_data(world, COMMITTEE, confirm, f"k:cly:{cid}")
    await world.wait_bot(voters[0], f"#{cid}", after=after)
    await settle(world)
    assert world.app is not None
    async with world.app.domain.sessions() as session:
        row = await session.get(Consultation, cid)
        assert row is not None and row.status == "closed"


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_deep_link_after_voting_shows_the_vote_not_a_live_ballot(
    world: World, code: str, lang: str
) -> None:
    voter = 18201
    await people(world, [voter], "xingfu-1", code)
    cid, _ = await consultation(world, grids=["xingfu-1"], secret=True)
    await with_button(world, voter, f"v:{cid}:o:")
    await vote(world, voter, cid, 1)
    await settle(world)
    after = await world.last_id(voter)
    await world.say(voter, f"/start c{cid}")
    shown = await world.wait_bot(voter, f"#{cid}", after=after, timeout=2.0)
    assert not any(d.startswith(f"v:{cid}:o:") for d in datas(shown)), datas(shown)
    assert {"en": "recorded", "zh": "已记录"}[lang] in shown["text"]


async def test_leaders_only_commands_tell_a_member_whose_they_are(world: World) -> None:
    for command in ("/triage", "/stats"):
        after = await world.last_id(MEMBER_1)
        await world.say(MEMBER_1, command)
        reply = await world.wait_bot(MEMBER_1, after=after, timeout=2.0)
        assert "网格长" in reply["text"] and "工作人员能用" not in reply["text"], reply["text"]
    after = await world.last_id(MEMBER_1)
    await world.say(MEMBER_1, "/consult")
    reply = await world.wait_bot(MEMBER_1, after=after, timeout=2.0)
    assert "委员会" in reply["text"]


async def test_stats_has_no_row_for_a_case_waiting_in_triage(world: World) -> None:
    user = 1811
    await world.resident(user)
    case_id, _ = await world.report(user, "The street light outside building 1 is broken")
    await settle(world)
    assert world.app is not None
    async with world.app.domain.unit() as uow:
        await uow.session.execute(
            update(Case)
            .where(Case.human_id == case_id)
            .values(status="triage", category=None, owner_id=LEADER, owner_chat_id=LEADER)
        )
    after = await world.last_id(LEADER)
    await world.say(LEADER, "/stats")
    reply = await world.wait_bot(LEADER, after=after, timeout=2.0)
    assert "— 1" not in reply["text"] and "李强" not in reply["text"], reply["text"]


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_case_with_something_that_is_not_a_case_id_shows_usage(
    world: World, code: str, lang: str
) -> None:
    user = 1821
    await world.resident(user, lang=code)
    after = await world.last_id(user)
    await world.say(user, "/case <b>hello</b>")
    reply = await world.wait_bot(user, after=after, timeout=2.0)
    assert "hello" not in reply["text"]
    assert reply["text"].strip() == (await render_usage(world, lang))


async def render_usage(world: World, lang: str) -> str:
    assert world.app is not None
    return world.app.domain.renderer.render(lang, "case_usage")


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_help_in_a_plain_group_gets_a_hint(world: World, code: str, lang: str) -> None:
    user, group = 1831, -100888
    await world.sim.create_user(user, "Neighbour", language_code=code)
    await world.sim.create_chat(group, "Building chat", [user])
    await world.sim.send_text(user, "/help", chat=group)
    reply = await world.wait_bot(group, timeout=2.0)
    assert {"en": "private chat", "zh": "私聊"}[lang] in reply["text"]


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_followers_see_the_followed_case_in_my(world: World, code: str, lang: str) -> None:
    first, second = 1841, 1842
    await world.resident(first)
    await world.resident(second, lang=code, address="Xingfu Garden Building 2")
    case_id, _ = await world.report(
        first, "The street light outside building 1 is broken, flat 301"
    )
    after = await world.last_id(second)
    await world.say(second, "The street light outside building 1 is broken")
    draft = await world.wait_bot(second, buttons=True, after=after)
    await world.press(second, draft, label(world, lang, "btn_send_report"))
    offer = await world.wait_bot(second, case_id, after=draft["message_id"], buttons=True)
    await world.press(second, offer, label(world, lang, "btn_follow_case", case_id=case_id))
    await world.wait_bot(second, "🔔", after=offer["message_id"])
    after = await world.last_id(second)
    await world.say(second, "/my")
    mine = await world.wait_bot(second, after=after, timeout=2.0)
    assert case_id in mine["text"] and "flat 301" not in mine["text"], mine["text"]
    assert (await case_row(world, case_id)).resident_id == first


@pytest.mark.parametrize(
    ("code", "lang", "typed"),
    [
        ("en", "en", "Ankang 9"),
        ("en", "en", "the riverside park"),
        ("zh-hans", "zh", "幸福小区十三号楼"),
        ("zh-hans", "zh", "安康9栋"),
    ],
)
async def test_an_address_that_names_no_building_is_not_found(
    world: World, code: str, lang: str, typed: str
) -> None:
    user = 1851
    await world.sim.create_user(user, "Newcomer", language_code=code)
    await world.say(user, "/start")
    welcome = await world.wait_bot(user, buttons=True)
    await world.press(user, welcome, "✅")
    asked = await world.wait_bot(user, after=welcome["message_id"])
    await world.say(user, typed)
    reply = await world.wait_bot(user, after=asked["message_id"], timeout=2.0)
    buildings = [b for b in (reply.get("reply_markup") or {}).get("inline_keyboard", [])]
    assert not buildings, reply
    assert world.app is not None
    expected = world.app.domain.renderer.render(
        lang, "address_no_match", text=typed, communities=[]
    )
    assert expected.splitlines()[0][:20] in reply["text"]
