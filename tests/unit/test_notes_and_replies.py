"""Internal notes (staff only, with mentions) and reply templates, through the services and the
chat dispatcher the bot runs.

A note is read by staff who may see the case, and by nobody else: not the resident, not a
follower (the public side is crawled in test_public_privacy.py). A colleague named in a note is
told; one who may not see the case cannot be named. A template is offered under a text prompt,
filled with the case's id, category, grid and the member's name, and used as is or edited.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from dialogue_helpers import press, say
from sqlalchemy import func, select
from unit_helpers import (
    LEADER,
    MEMBER_1,
    MEMBER_2,
    buttons,
    file_case,
    last_outbox_id,
    new_resident,
    outbox,
    texts_to,
)

from bot.services.cases import actions, lifecycle, notes, replies
from bot.services.cases.lifecycle import CaseActionError
from bot.services.cases.views import cb
from bot.services.people import residents
from bot.services.shared.domain import UnitOfWork
from bot.store.models import Case, CaseNote, User
from routing import replies as reply_rules
from routing.check import check_gridmap

ROOT = Path(__file__).resolve().parents[2]
NOTE = "Mrs Wang in 5-302 is the caretaker's aunt; go before noon. MARKER-INTERNAL-4K"
WORDS = ("MARKER-INTERNAL", "caretaker", "5-302")
NOTE_ACTION = actions.BY_NAME["note"]


async def _note_count(uow: UnitOfWork, case: Case) -> int:
    await uow.session.flush()
    found = await uow.session.execute(
        select(func.count()).select_from(CaseNote).where(CaseNote.case_id == case.id)
    )
    return int(found.scalar_one())


def _private(texts: list[str]) -> list[str]:
    return [t for t in texts if any(w in t for w in WORDS)]


# --- internal notes ---------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_a_note_is_read_by_staff_who_see_the_case_and_by_nobody_else(
    uow: UnitOfWork, lang: str
) -> None:
    reporter = await new_resident(uow, lang=lang)
    neighbour = await new_resident(uow, lang=lang)
    case = await file_case(uow, reporter, as_category="facilities")
    await lifecycle.follow(uow, neighbour, case)
    mark = await last_outbox_id(uow)
    await actions.perform(uow, MEMBER_1, case, NOTE_ACTION, NOTE, None)
    await lifecycle.resolve(uow, MEMBER_1, case, "Done")
    # staff in scope read it: the owner and the grid's leader, on the staff timeline
    for staff in (MEMBER_1, LEADER):
        assert [n.note for n in await notes.notes_for(uow, staff, case)] == [NOTE]
    # a member of another grid does not, nor the reporter, nor a follower
    for other in (MEMBER_2, reporter.id, neighbour.id):
        assert await notes.notes_for(uow, other, case) == []
    # nothing the reporter or the follower was sent holds it; their /case and /mydata neither
    for person in (reporter, neighbour):
        await say(uow, person.id, f"/case {case.human_id}", lang=lang)
        await say(uow, person.id, "/mydata", lang=lang)
        told = await texts_to(uow, person.id, after=mark)
        assert any(case.human_id in t for t in told)
        assert _private(told) == [], told
    assert "caretaker" not in str(await residents.my_data(uow, reporter))
    # the leader's /case shows it, marked as an internal note, beside the case's steps
    await say(uow, LEADER, f"/case {case.human_id}", lang=lang)
    shown = "\n".join(await texts_to(uow, LEADER, after=mark))
    assert "MARKER-INTERNAL-4K" in shown
    assert ("internal note" if lang == "en" else "内部备注") in shown
    assert (await lifecycle.timeline(uow, case))[-1].kind == "resolved"  # no audit row


async def test_notes_on_a_forgotten_residents_cases_are_erased_with_them(uow: UnitOfWork) -> None:
    """Staff may have written about the person; /forget erases those notes, not others'."""
    reporter = await new_resident(uow)
    neighbour = await new_resident(uow)
    theirs = await file_case(uow, reporter, as_category="facilities")
    other = await file_case(uow, neighbour, "Rubbish piled by the bins", as_category="facilities")
    await actions.perform(uow, MEMBER_1, theirs, NOTE_ACTION, NOTE, None)
    await actions.perform(uow, MEMBER_1, other, NOTE_ACTION, NOTE, None)
    await residents.forget(uow, reporter)
    assert await _note_count(uow, theirs) == 0
    assert await _note_count(uow, other) == 1


async def test_a_note_from_the_chat_card(uow: UnitOfWork) -> None:
    """The card's Note button arms a prompt; the next text is kept as a note, never sent."""
    reporter = await new_resident(uow)
    case = await file_case(uow, reporter, as_category="facilities")
    card = (await outbox(uow, MEMBER_1))[-1]
    assert cb("nte", case) in [data for _, data in buttons(card)]
    mark = await last_outbox_id(uow)
    await press(uow, MEMBER_1, cb("nte", case))
    await say(uow, MEMBER_1, NOTE)
    to_member = "\n".join(await texts_to(uow, MEMBER_1, after=mark))
    assert "internal note" in to_member and "Note kept" in to_member
    assert await _note_count(uow, case) == 1
    assert _private(await texts_to(uow, reporter.id, after=mark)) == []
    member = await uow.session.get(User, MEMBER_1)
    assert member is not None and member.state is None  # the prompt is over


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_a_mention_tells_the_named_colleague_with_the_case(
    uow: UnitOfWork, lang: str
) -> None:
    case = await file_case(uow, await new_resident(uow), as_category="facilities")
    await say(uow, LEADER, "/help", lang=lang)  # the leader reads the bot in `lang`
    mark = await last_outbox_id(uow)
    await press(uow, MEMBER_1, cb("nte", case))
    await say(uow, MEMBER_1, f"@Li_Qiang could you look? {NOTE}")
    told = "\n".join(await texts_to(uow, LEADER, after=mark))
    assert "MARKER-INTERNAL-4K" in told and f"/case {case.human_id}" in told
    assert ("named you" if lang == "en" else "提到了您") in told
    assert "李强" in "\n".join(await texts_to(uow, MEMBER_1, after=mark))  # "told: 李强"
    note = (await uow.session.execute(select(CaseNote))).scalars().one()
    assert note.mentions == [LEADER]
    # at the desk: a colleague picked from the list is told the same way
    mark = await last_outbox_id(uow)
    await actions.perform(uow, MEMBER_1, case, NOTE_ACTION, "Over to you", LEADER)
    assert any("Over to you" in t for t in await texts_to(uow, LEADER, after=mark))


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_naming_someone_who_may_not_see_the_case_is_refused(
    uow: UnitOfWork, lang: str
) -> None:
    case = await file_case(uow, await new_resident(uow), as_category="facilities")
    # desk and services: a member of another grid, by @name or picked; an unknown name
    for text, picked, key in (
        (f"@liu_yang see this. {NOTE}", None, "note_mention_refused"),
        (NOTE, MEMBER_2, "note_mention_refused"),
        (f"@nobody_here {NOTE}", None, "note_mention_unknown"),
    ):
        mark = await last_outbox_id(uow)
        with pytest.raises(CaseActionError) as refused:
            await actions.perform(uow, MEMBER_1, case, NOTE_ACTION, text, picked)
        assert refused.value.key == key
        assert await _note_count(uow, case) == 0
        assert await texts_to(uow, MEMBER_2, after=mark) == []
    # the chat: the member is told why, in their language, and the prompt ends
    await say(uow, MEMBER_1, "/help", lang=lang)
    mark = await last_outbox_id(uow)
    await press(uow, MEMBER_1, cb("nte", case), lang=lang)
    await say(uow, MEMBER_1, f"@liu_yang {NOTE}", lang=lang)
    answer = "\n".join(await texts_to(uow, MEMBER_1, after=mark))
    assert "刘洋" in answer
    assert ("cannot see this case" if lang == "en" else "无权查看") in answer
    assert await _note_count(uow, case) == 0
    assert await texts_to(uow, MEMBER_2, after=mark) == []


async def test_an_address_or_a_lone_at_sign_is_no_mention(uow: UnitOfWork) -> None:
    case = await file_case(uow, await new_resident(uow), as_category="facilities")
    text = "Mail ops@example.org, meet @ 5pm"
    await actions.perform(uow, MEMBER_1, case, NOTE_ACTION, text, None)
    assert await _note_count(uow, case) == 1
    with pytest.raises(CaseActionError) as refused:
        await actions.perform(uow, MEMBER_1, case, NOTE_ACTION, "   ", None)
    assert refused.value.key == "note_empty"


async def test_a_stranger_may_not_write_a_note(uow: UnitOfWork) -> None:
    case = await file_case(uow, await new_resident(uow), as_category="facilities")
    with pytest.raises(CaseActionError):
        await actions.perform(uow, MEMBER_2, case, NOTE_ACTION, NOTE, None)
    assert await _note_count(uow, case) == 0


# --- reply templates --------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_templates_are_filled_for_the_case_in_the_residents_language(
    uow: UnitOfWork, lang: str
) -> None:
    reporter = await new_resident(uow, lang=lang, first_name="Secretname")
    case = await file_case(
        uow, reporter, "Lamp broken, call me on 13800138000", as_category="facilities"
    )
    offered = replies.offered(uow, case, "resolve", MEMBER_1, "en")
    by_id = {o.id: o for o in offered}
    # the deployment's template for the category, and the shipped ones for every category
    assert {"lamp_replaced", "fixed", "repair_booked"} <= set(by_id)
    lamp = by_id["lamp_replaced"].text
    grid = uow.routing.gridmap.grids[case.grid_id].name.get(lang)
    assert case.human_id in lamp and grid in lamp and "王芳" in lamp
    assert ("replaced" in lamp) == (lang == "en")
    for o in offered:
        assert "{" not in o.text and "Secretname" not in o.text and "13800138000" not in o.text
    # titles in the member's language; a template offered only for the actions it fits
    assert by_id["lamp_replaced"].title == "Lamp replaced"
    assert "lamp_replaced" not in {o.id for o in replies.offered(uow, case, "ask", MEMBER_1, "en")}
    # never for the public note or an internal note
    assert replies.offered(uow, case, "public_note", MEMBER_1, "en") == []
    assert replies.offered(uow, case, "note", MEMBER_1, "en") == []


def test_filling_is_bounded_and_runs_no_format_string() -> None:
    values = {"case": "GV-2026-000001", "member": "x" * 500, "grid": "G"}
    filled = reply_rules.fill("{case} {member} {grid} {resident} {case.__class__} {}", values, 120)
    assert filled.startswith("GV-2026-000001 " + "x" * reply_rules.MAX_VALUE + " G {resident}")
    assert len(filled) <= 120
    assert len(reply_rules.fill("{member}" * 50, values, 300)) == 300


async def test_a_template_used_as_is_from_the_chat(uow: UnitOfWork) -> None:
    """Resolve → the prompt offers templates → one shown filled → «Use as is» → the photo step
    → Skip: the resident reads the template's text."""
    reporter = await new_resident(uow)
    case = await file_case(uow, reporter, as_category="facilities")
    expected = {o.id: o for o in replies.offered(uow, case, "resolve", MEMBER_1, "en")}["fixed"]
    mark = await last_outbox_id(uow)
    await press(uow, MEMBER_1, cb("res", case))
    prompt = (await outbox(uow, MEMBER_1, after=mark))[-1]
    offered = dict(buttons(prompt))
    assert offered["Fixed"] == cb("tpl", case, expected.index)
    mark = await last_outbox_id(uow)
    await press(uow, MEMBER_1, offered["Fixed"])
    shown = (await outbox(uow, MEMBER_1, after=mark))[-1]
    assert expected.text in str(shown.payload.get("text"))
    use = dict(buttons(shown))["✅ Use as is"]
    await press(uow, MEMBER_1, use)
    member = await uow.session.get(User, MEMBER_1)
    assert member is not None and member.state == "resolve_photo"
    await press(uow, MEMBER_1, f"c:skip:{case.id}:{case.version}")
    assert case.status == "resolved" and case.resolution_note == expected.text
    assert any(expected.text in t for t in await texts_to(uow, reporter.id, after=mark))
    # a replayed «Use as is» once the prompt is over changes nothing
    await press(uow, MEMBER_1, use)
    assert case.resolution_note == expected.text


async def test_a_template_edited_before_it_is_sent_from_the_chat(uow: UnitOfWork) -> None:
    reporter = await new_resident(uow, lang="zh")
    case = await file_case(uow, reporter, as_category="facilities")
    await press(uow, MEMBER_1, cb("ask", case))
    details = {o.id: o for o in replies.offered(uow, case, "ask", MEMBER_1, "en")}["need_details"]
    mark = await last_outbox_id(uow)
    await press(uow, MEMBER_1, cb("tpl", case, details.index))
    shown = "\n".join(await texts_to(uow, MEMBER_1, after=mark))
    assert "关于" in details.text and details.text in shown  # the resident's language
    edited = details.text + " 请问是几号楼？"
    await say(uow, MEMBER_1, edited)
    assert case.status == "needs_info"
    assert any(edited in t for t in await texts_to(uow, reporter.id, after=mark))


async def test_a_forged_template_press_changes_nothing(uow: UnitOfWork) -> None:
    case = await file_case(uow, await new_resident(uow), as_category="facilities")
    mark = await last_outbox_id(uow)
    await press(uow, MEMBER_1, cb("tpu", case, 0))  # no prompt armed
    await press(uow, MEMBER_1, cb("res", case))
    await press(uow, MEMBER_1, cb("tpu", case, 999))  # no such template
    await press(uow, MEMBER_1, cb("tpl", case, "x"))
    answers = [
        m.payload for m in await outbox(uow, after=mark) if m.method == "answerCallbackQuery"
    ]
    texts = " ".join(str(a.get("text")) for a in answers)
    assert "no longer open" in texts and "no longer offered" in texts
    assert case.status == "assigned" and case.resolution_note is None


async def test_a_template_used_and_edited_at_the_desk(uow: UnitOfWork) -> None:
    """The desk fills the text box from a template (the form then posts the box's text, as
    the member left it): the same action, the same resident's message."""
    reporter = await new_resident(uow)
    case = await file_case(uow, reporter, as_category="facilities")
    duplicate = {o.id: o for o in replies.offered(uow, case, "reject", LEADER, "en")}["duplicate"]
    edited = duplicate.text + " See GV-2026-000001."
    mark = await last_outbox_id(uow)
    await actions.perform(uow, LEADER, case, actions.BY_NAME["reject"], edited)
    assert case.status == "rejected"
    assert any(edited in t for t in await texts_to(uow, reporter.id, after=mark))


def _demo_map() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "bot/examples/demo-community.yaml").read_text("utf-8"))


def test_grids_check_reports_broken_templates() -> None:
    data = _demo_map()
    assert check_gridmap(data) == []
    data["replies"] = {
        "nosuch": [{"id": "a", "title": {"en": "A", "zh": "甲"}, "en": "x", "zh": "y"}],
        "facilities": [
            {"id": "b", "title": {"en": "B", "zh": "乙"}, "en": "Hi {resident}", "zh": "你好"},
            {"id": "c", "title": {"en": "C"}, "en": "x"},
            {"id": "d", "title": {"en": "D", "zh": "丁"}, "en": "x", "zh": "y", "for": ["note"]},
        ],
    }
    messages = " | ".join(p.message for p in check_gridmap(data))
    assert "unknown category 'nosuch'" in messages
    assert "unknown placeholder {resident}" in messages
    assert "no text in 'zh'" in messages
    assert "'note' is not one of" in messages
    data["replies"] = {}
    data["staff"][0]["username"] = "no spaces allowed"
    assert "no Telegram username" in " ".join(p.message for p in check_gridmap(data))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_shipped_templates_parse_cleanly_in_both_languages(lang: str) -> None:
    problems: list[str] = []
    raw = yaml.safe_load((ROOT / "templates" / lang / "replies.yaml").read_text("utf-8"))
    reply_rules.parse_replies(
        raw,
        tuple(_demo_map()["categories"]),
        lambda code, where, message: problems.append(message),
        langs=(lang,),
    )
    assert problems == []
    both = replies.shipped()
    ids = {r.id for rs in both.values() for r in rs}
    assert ids and all(set(r.text) == {"en", "zh"} for rs in both.values() for r in rs), ids


def test_templates_are_offered_for_the_texts_the_resident_reads_only() -> None:
    """Each action a template may fit is a row of the action table asking for a text; the
    public note (published) and the internal note (staff only) are never among them."""
    for name in reply_rules.FOR_ACTIONS:
        assert actions.Asks.TEXT in actions.BY_NAME[name].asks, name
    assert not {"public_note", "note"} & set(reply_rules.FOR_ACTIONS)
