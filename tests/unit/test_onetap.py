"""One-tap category fixes (bot/services/cases/onetap.py): the resident's filing message offers
the likeliest categories when the classifier was unsure, the triage card offers the top three
and *More…*, and every press settles the category through `labels.settle_label` once.

Residents and the leader press through the chat dispatcher (`dialogue_helpers.press`, as the
bot runs it); the desk is asked through aiohttp's test client on the same domain.
"""

from __future__ import annotations

import re
from datetime import timedelta
from types import MappingProxyType
from typing import Any

import pytest
from dialogue_helpers import press, say
from page_helpers import pages
from sqlalchemy import func, select
from unit_helpers import (
    LEADER,
    MEMBER_1,
    PROPERTY_CHAT,
    buttons,
    events_of,
    last_outbox_id,
    new_resident,
    outbox,
)

from bot.services.cases import labels, lifecycle, onetap, views
from bot.services.cases.lifecycle import CaseActionError
from bot.services.people import desk_auth
from bot.services.shared.domain import Domain, UnitOfWork
from bot.store.models import Case, Correction, OutboxMessage, User
from routing.classifier import Classification, Classifier

# An unsure guess: `dispute` at 0.6, `traffic` and `property` next.
UNSURE = {"dispute": 0.6, "traffic": 0.25, "property": 0.1, "other": 0.05}
PARKING = "My neighbour keeps parking in front of the bins"


def guess(category: str | None, confidence: float, shares: dict[str, float]) -> Classification:
    return Classification(category, confidence, (), {}, MappingProxyType(shares))


async def filed(
    uow: UnitOfWork,
    resident: User,
    classification: Classification,
    text: str = PARKING,
) -> Case:
    """A case filed from `resident`'s home with a fixed classifier outcome."""
    return await lifecycle.create_case(
        uow,
        resident,
        text=text,
        grid_id="xingfu-1",
        building_id="xf-1",
        place_text=None,
        location=None,
        photos=[],
        source_update_id=None,
        classification=classification,
    )


async def filing_message(uow: UnitOfWork, resident: User) -> OutboxMessage:
    sent = [m for m in await outbox(uow, resident.id) if m.method == "sendMessage"]
    return sent[-1]


async def corrections(uow: UnitOfWork, case: Case) -> list[Correction]:
    await uow.session.flush()
    rows = await uow.session.execute(select(Correction).where(Correction.case_id == case.id))
    return list(rows.scalars())


def callback_answers(messages: list[OutboxMessage]) -> list[dict[str, Any]]:
    return [m.payload for m in messages if m.method == "answerCallbackQuery"]


def removed_buttons(messages: list[OutboxMessage], chat_id: int) -> bool:
    return any(
        m.method == "editMessageReplyMarkup"
        and m.chat_id == chat_id
        and m.payload["reply_markup"] == {"inline_keyboard": []}
        for m in messages
    )


# -- the classifier's accessor ------------------------------------------------------------


def test_top_gives_the_likeliest_categories_with_their_probabilities() -> None:
    classifier = Classifier.default()
    sure = classifier.classify("The street lamp outside my building is broken")
    top = sure.top(3)
    assert [c for c, _ in top][0] == sure.category == "facilities"
    assert len(top) == 3 and top[0][1] >= top[1][1] >= top[2][1] > 0
    assert abs(sum(sure.probabilities.values()) - 1) < 0.01
    assert sure.top(1) == top[:1] and sure.top(0) == ()
    # an abstention still ranks the categories (the triage card offers them)
    vague = classifier.classify("the thing near the gate again, please look")
    assert vague.category is None and len(vague.top(3)) == 3
    assert "nothing" not in vague.probabilities


# -- the resident's filing message --------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_an_unsure_report_offers_the_top_three_with_the_current_one_marked(
    uow: UnitOfWork, lang: str
) -> None:
    resident = await new_resident(uow, lang=lang)
    case = await filed(uow, resident, guess("dispute", 0.6, UNSURE))
    message = await filing_message(uow, resident)
    label = uow.domain.renderer.label
    assert buttons(message) == [
        (
            label(lang, "btn_cat_current", name=label(lang, "cat_dispute")),
            f"r:one:{case.id}:0:dispute",
        ),
        (label(lang, "cat_traffic"), f"r:one:{case.id}:0:traffic"),
        (label(lang, "cat_property"), f"r:one:{case.id}:0:property"),
        (label(lang, "btn_cat_else"), f"r:else:{case.id}:0"),
    ]
    assert buttons(message)[0][0].startswith("✓")
    unsure = "not sure about the category" if lang == "en" else "不太确定"
    assert unsure in message.payload["text"]


async def test_a_sure_report_keeps_the_change_category_button(uow: UnitOfWork) -> None:
    resident = await new_resident(uow)
    case = await filed(uow, resident, guess("dispute", 0.95, {"dispute": 0.95, "other": 0.05}))
    message = await filing_message(uow, resident)
    assert [data for _, data in buttons(message)] == [f"r:chg:{case.id}"]


async def test_an_abstention_offers_three_categories_none_marked(uow: UnitOfWork) -> None:
    resident = await new_resident(uow)
    case = await filed(uow, resident, guess(None, 0.4, UNSURE), text="the thing at the gate")
    assert case.status == "triage"
    message = await filing_message(uow, resident)
    assert [d for _, d in buttons(message)] == [
        f"r:one:{case.id}:0:dispute",
        f"r:one:{case.id}:0:traffic",
        f"r:one:{case.id}:0:property",
        f"r:else:{case.id}:0",
    ]
    assert not any(text.startswith("✓") for text, _ in buttons(message))
    assert "grid leader decides" in message.payload["text"]


async def test_nothing_to_offer_keeps_the_whole_list_behind_a_button(uow: UnitOfWork) -> None:
    resident = await new_resident(uow)
    case = await filed(uow, resident, guess(None, 0.0, {}), text="hello")
    assert [d for _, d in buttons(await filing_message(uow, resident))] == [f"r:chg:{case.id}"]


# -- a press ------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_a_press_refiles_and_reroutes_the_case_and_settles_the_label_once(
    uow: UnitOfWork, lang: str
) -> None:
    resident = await new_resident(uow, lang=lang)
    case = await filed(uow, resident, guess("dispute", 0.6, UNSURE))
    assert case.owner_chat_id == MEMBER_1 and case.party_id is None
    mark = await last_outbox_id(uow)
    await press(uow, resident.id, f"r:one:{case.id}:0:property", lang=lang)
    assert case.category == "property"
    # re-routed as a correction is: the property company's group has the card now
    assert case.party_id == "xingfu-wuye" and case.owner_chat_id == PROPERTY_CHAT
    assert case.status == "assigned"
    fixes = await corrections(uow, case)
    assert [(c.predicted, c.corrected, c.by_role) for c in fixes] == [
        ("dispute", "property", "resident")
    ]
    kinds = [e.kind for e in await events_of(uow, case)]
    assert kinds.count("category_changed") == 1 and "rerouted" in kinds
    settled = [e for e in await events_of(uow, case) if e.kind in labels.LABEL_EVENTS]
    assert settled[0].data["source"] == "one_tap"
    sent = await outbox(uow, after=mark)
    assert removed_buttons(sent, resident.id), "the used buttons go"
    assert callback_answers(sent)[-1]["text"] == uow.domain.renderer.label(lang, "category_changed")
    # the resident hears of the new owner in their own language
    update = [m for m in sent if m.chat_id == resident.id and m.method == "sendMessage"]
    assert update
    assert ("has a new owner" if lang == "en" else "已改由新的人员办理") in update[-1].payload[
        "text"
    ]


async def test_a_press_on_the_marked_category_confirms_it_without_rerouting(
    uow: UnitOfWork,
) -> None:
    resident = await new_resident(uow)
    case = await filed(uow, resident, guess("dispute", 0.6, UNSURE))
    mark = await last_outbox_id(uow)
    await press(uow, resident.id, f"r:one:{case.id}:0:dispute")
    assert case.category == "dispute" and case.owner_chat_id == MEMBER_1 and case.version == 1
    fixes = await corrections(uow, case)
    assert [(c.predicted, c.corrected) for c in fixes] == [("dispute", "dispute")]
    kinds = [e.kind for e in await events_of(uow, case)]
    assert kinds == ["created", "category_confirmed"]
    sent = await outbox(uow, after=mark)
    assert callback_answers(sent)[-1]["text"] == "Thank you — the category stays."
    assert removed_buttons(sent, resident.id)
    # the owner's card carries the new version, so its buttons keep working
    card = [m for m in sent if m.chat_id == MEMBER_1 and m.method == "editMessageText"]
    assert card and any(":1" in d for _, d in buttons(card[-1]) if d.startswith("c:acc:"))


async def test_a_press_from_triage_hands_the_case_to_the_categorys_owner(
    uow: UnitOfWork,
) -> None:
    resident = await new_resident(uow)
    case = await filed(uow, resident, guess(None, 0.4, UNSURE), text="the thing at the gate")
    assert case.status == "triage" and case.owner_chat_id == LEADER
    await press(uow, resident.id, f"r:one:{case.id}:0:traffic")
    assert case.status == "assigned" and case.category == "traffic"
    assert [(c.predicted, c.corrected) for c in await corrections(uow, case)] == [(None, "traffic")]


async def test_a_replayed_press_changes_nothing(uow: UnitOfWork) -> None:
    resident = await new_resident(uow)
    case = await filed(uow, resident, guess("dispute", 0.6, UNSURE))
    await press(uow, resident.id, f"r:one:{case.id}:0:traffic")
    version, owner = case.version, case.owner_chat_id
    mark = await last_outbox_id(uow)
    await press(uow, resident.id, f"r:one:{case.id}:0:property")  # the same message again
    assert case.category == "traffic" and case.version == version
    assert case.owner_chat_id == owner
    assert len(await corrections(uow, case)) == 1
    answer = callback_answers(await outbox(uow, after=mark))[-1]
    assert answer["show_alert"] and "expired" in answer["text"]


@pytest.mark.parametrize(
    "data",
    [
        "r:one:{id}:7:traffic",  # a version the case never had
        "r:one:{id}:x:traffic",  # not a number
        "r:one:{id}:99999999999999999999999:traffic",  # out of bounds
        "r:one:{id}:0:no-such-category",
        "r:one:{id}:0",
        "r:one:{id}",
        "r:else:{id}:3",
        "r:one:999999:0:traffic",  # no such case
    ],
)
async def test_a_forged_press_changes_nothing(uow: UnitOfWork, data: str) -> None:
    resident = await new_resident(uow)
    case = await filed(uow, resident, guess("dispute", 0.6, UNSURE))
    mark = await last_outbox_id(uow)
    await press(uow, resident.id, data.format(id=case.id))
    assert case.category == "dispute" and case.version == 0 and case.owner_chat_id == MEMBER_1
    assert await corrections(uow, case) == []
    sent = await outbox(uow, after=mark)
    assert [m.method for m in sent if m.method == "sendMessage"] == []
    assert callback_answers(sent), "every press is answered"


async def test_a_press_by_someone_else_is_refused(uow: UnitOfWork) -> None:
    resident = await new_resident(uow)
    neighbour = await new_resident(uow)
    case = await filed(uow, resident, guess("dispute", 0.6, UNSURE))
    mark = await last_outbox_id(uow)
    for data in (f"r:one:{case.id}:0:traffic", f"r:else:{case.id}:0"):
        await press(uow, neighbour.id, data)
    assert case.category == "dispute" and case.version == 0
    assert await corrections(uow, case) == []
    sent = await outbox(uow, after=mark)
    assert [a["text"] for a in callback_answers(sent)] == ["Not allowed."] * 2
    assert not removed_buttons(sent, neighbour.id)
    with pytest.raises(CaseActionError):
        await lifecycle.resident_one_tap(uow, neighbour, case, 0, "traffic")


async def test_after_acceptance_the_buttons_are_refused_and_removed(uow: UnitOfWork) -> None:
    resident = await new_resident(uow)
    case = await filed(uow, resident, guess("dispute", 0.6, UNSURE))
    await lifecycle.accept(uow, MEMBER_1, case)
    version = case.version
    mark = await last_outbox_id(uow)
    # even with the case's current version: accepted means someone is on it
    await press(uow, resident.id, f"r:one:{case.id}:{version}:traffic")
    assert case.category == "dispute" and case.status == "accepted"
    assert await corrections(uow, case) == []
    sent = await outbox(uow, after=mark)
    assert removed_buttons(sent, resident.id)
    assert "expired" in callback_answers(sent)[-1]["text"]


async def test_the_buttons_lapse_after_the_window(uow: UnitOfWork) -> None:
    resident = await new_resident(uow)
    case = await filed(uow, resident, guess("dispute", 0.6, UNSURE))
    uow.now = uow.now + onetap.WINDOW + timedelta(seconds=1)
    await press(uow, resident.id, f"r:one:{case.id}:0:traffic")
    assert case.category == "dispute" and await corrections(uow, case) == []


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_something_else_shows_every_category_and_a_waiting_case_stays_with_the_leader(
    uow: UnitOfWork, lang: str
) -> None:
    resident = await new_resident(uow, lang=lang)
    case = await filed(uow, resident, guess(None, 0.4, UNSURE), text="the thing at the gate")
    mark = await last_outbox_id(uow)
    await press(uow, resident.id, f"r:else:{case.id}:0", lang=lang)
    assert case.status == "triage" and case.category is None and case.version == 0
    sent = await outbox(uow, after=mark)
    assert removed_buttons(sent, resident.id)
    listed = [m for m in sent if m.method == "sendMessage"]
    assert len(listed) == 1
    assert ("the grid leader will choose" if lang == "en" else "网格长会确定分类") in (
        listed[0].payload["text"]
    )
    choices = [d for _, d in buttons(listed[0])]
    assert len(choices) == len(views.CATEGORY_ORDER)
    assert all(d.startswith(f"r:cat:{case.id}:") for d in choices)


async def test_something_else_on_a_filed_case_shows_every_category(uow: UnitOfWork) -> None:
    resident = await new_resident(uow)
    case = await filed(uow, resident, guess("dispute", 0.6, UNSURE))
    mark = await last_outbox_id(uow)
    await press(uow, resident.id, f"r:else:{case.id}:0")
    listed = [m for m in await outbox(uow, resident.id, after=mark) if m.method == "sendMessage"]
    assert "grid leader" not in listed[-1].payload["text"]
    choices = [d for _, d in buttons(listed[-1])]
    assert len(choices) == len(views.CATEGORY_ORDER)
    assert all(d.startswith(f"r:cat:{case.id}:") for d in choices)
    # the whole list settles the label through the same function
    await press(uow, resident.id, f"r:cat:{case.id}:health")
    assert case.category == "health"
    assert [(c.predicted, c.corrected) for c in await corrections(uow, case)] == [
        ("dispute", "health")
    ]


# -- the triage card ----------------------------------------------------------------------


async def test_the_triage_card_offers_the_top_three_then_more(uow: UnitOfWork) -> None:
    resident = await new_resident(uow)
    text = "the thing near the gate again, please look"
    case = await filed(uow, resident, uow.domain.classifier.classify(text), text=text)
    assert case.status == "triage"
    top = [c for c, _ in uow.domain.classifier.classify(text).top(3)]
    mark = await last_outbox_id(uow)
    await say(uow, LEADER, "/triage")
    cards = [m for m in await outbox(uow, LEADER, after=mark) if m.method == "sendMessage"]
    data = [d for _, d in buttons(cards[-1]) if d.startswith("c:cat")]  # the category choice
    assert data == [f"c:cat:{case.id}:0:{c}" for c in top] + [f"c:catm:{case.id}:0"]
    # More…: the card shows every category
    mark = await last_outbox_id(uow)
    await press(uow, LEADER, f"c:catm:{case.id}:0")
    edits = [m for m in await outbox(uow, LEADER, after=mark) if m.method == "editMessageText"]
    full = [d for _, d in buttons(edits[-1])]
    assert full == [f"c:cat:{case.id}:0:{c}" for c in views.CATEGORY_ORDER]
    assert case.version == 0, "showing the list changes nothing"
    # a press on one of the top three places the case and settles the label once
    await press(uow, LEADER, f"c:cat:{case.id}:0:{top[1]}")
    assert case.status == "assigned" and case.category == top[1]
    fixes = await corrections(uow, case)
    assert [(c.predicted, c.corrected, c.by_role) for c in fixes] == [(None, top[1], "leader")]
    settled = [e for e in await events_of(uow, case) if e.kind in labels.LABEL_EVENTS]
    assert len(settled) == 1 and settled[0].data["source"] == "triage"
    # a replay of the stale card changes nothing
    await press(uow, LEADER, f"c:cat:{case.id}:0:{top[0]}")
    assert case.category == top[1] and len(await corrections(uow, case)) == 1


async def test_more_is_refused_to_a_member_without_triage(uow: UnitOfWork) -> None:
    resident = await new_resident(uow)
    case = await filed(uow, resident, guess(None, 0.4, UNSURE), text="the thing at the gate")
    mark = await last_outbox_id(uow)
    await press(uow, MEMBER_1, f"c:catm:{case.id}:0")
    sent = await outbox(uow, after=mark)
    assert [m.method for m in sent] == ["answerCallbackQuery"]


# -- the desk -----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_the_desk_offers_the_top_three_first_and_more(domain: Domain, lang: str) -> None:
    text = "the thing near the gate again, please look"
    async with domain.unit() as uow:
        resident = await new_resident(uow)
        case = await filed(uow, resident, uow.domain.classifier.classify(text), text=text)
        human_id, case_id = case.human_id, case.id
        top = onetap.top_categories(uow, text)
        token, signed = await desk_auth.open_session(uow, LEADER, "link")
        csrf = signed.session.csrf
    client = await pages(domain)
    try:
        client.session.cookie_jar.update_cookies({"gv_desk": token})
        for path in ("/desk/", f"/desk/cases/{human_id}"):
            async with client.get(path, headers={"Accept-Language": lang}) as r:
                page = await r.text()
            assert r.status == 200, page
            part = page.split('class="top-categories">', 1)[1].split("</div>", 1)[0]
            assert [v for v in _values(part)] == top, path
            assert ("More…" if lang == "en" else "更多…") in page
        # the board's top button places the case through the same call as the card; a
        # browser sends the pressed button's value first, then the closed list's choice
        listed = re.findall(r'<select name="category"><option value="([a-z_]+)"', page)[0]
        assert listed != top[2]
        form = [
            ("csrf", csrf),
            ("case", human_id),
            ("version", "0"),
            ("category", top[2]),
            ("category", listed),
        ]
        async with client.post("/desk/triage", data=form, allow_redirects=False) as r:
            assert r.status == 303, await r.text()
    finally:
        await client.close()
    async with domain.unit() as uow:
        case = await uow.session.get(Case, case_id)
        assert case is not None and case.category == top[2] and case.status == "assigned"
        count = await uow.session.execute(
            select(func.count()).select_from(Correction).where(Correction.case_id == case_id)
        )
        assert count.scalar() == 1


def _values(part: str) -> list[str]:
    return re.findall(r'name="category" value="([a-z_]+)"', part)
