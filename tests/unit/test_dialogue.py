"""The dialogue table: every stored state, its reader, and its cancel, command and expiry rules.

The stored strings are frozen here: rows in a database and buttons in people's chats carry them,
so renaming one must fail a test. Each state's rules are then played through the real chat
dispatcher (no emulator): `/cancel`, another command, and time passing.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from dialogue_helpers import dispatcher, press, rendered, say
from unit_helpers import MEMBER_1, file_case, last_outbox_id, new_resident, texts_to

from bot.clock import ManualClock
from bot.services.cases import lifecycle
from bot.services.cases.lifecycle import CaseActionError
from bot.services.people import staff
from bot.services.people.residents import Person, ensure_user, forget
from bot.services.reports import drafts
from bot.services.shared import dialogue
from bot.services.shared.dialogue import TABLE, OverDraft, Prompt
from bot.services.shared.domain import UnitOfWork
from bot.store.models import User
from handlers.dispatch import resolve_handler

ROOT = Path(__file__).resolve().parents[2]

# The values `users.state` holds in deployed databases. Never edit a value: add new ones.
STORED = frozenset(
    {
        "consent",
        "declined",
        "address",
        "draft",
        "answer",
        "rate_comment",
        "reopen_reason",
        "consult_comment",
        "ask",
        "resolve_note",
        "resolve_photo",
        "reject_reason",
        "reject_confirm",
        "transfer_reason",
        "public_note",
        "note",
        "hold_note",
        "extend_reason",
        "supervise_reason",
        "verify_photo",
        "consult",
        "consult_options",
        "announce",
        "cohandler_task",
        "summon_task",
        "task_waive",
        "return_reason",
        "ruling_reason",
        "volunteer",
        "task_post",
        "org_profile",
        "patrol",
        "assist",
        "propose",
        "proposal_point",
        "proposal_reason",
        "org_done_note",
    }
)

STAFF_PROMPTS = {
    Prompt.ASK,
    Prompt.RESOLVE_NOTE,
    Prompt.RESOLVE_PHOTO,
    Prompt.REJECT_REASON,
    Prompt.REJECT_CONFIRM,
    Prompt.TRANSFER_REASON,
    Prompt.PUBLIC_NOTE,
    Prompt.NOTE,
    Prompt.HOLD_NOTE,
    Prompt.EXTEND_REASON,
    Prompt.SUPERVISE_REASON,
    Prompt.VERIFY_PHOTO,
    Prompt.COHANDLER_TASK,
    Prompt.SUMMON_TASK,
    Prompt.TASK_WAIVE,
    Prompt.RETURN_REASON,
    Prompt.RULING_REASON,
    Prompt.PATROL,
    Prompt.ASSIST,
}
COMMITTEE_PROMPTS = {
    Prompt.CONSULT,
    Prompt.CONSULT_OPTIONS,
    Prompt.ANNOUNCE,
    Prompt.PROPOSAL_REASON,
}
# (what /cancel answers, whether another command leaves it, its time to live, the draft rule)
EXPECTED: dict[Prompt, tuple[str | None, bool, timedelta | None, OverDraft]] = {
    Prompt.CONSENT: (None, False, None, OverDraft.NONE),
    Prompt.DECLINED: (None, False, None, OverDraft.NONE),
    Prompt.ADDRESS: ("address_cancelled", False, None, OverDraft.NONE),
    Prompt.DRAFT: ("draft_discarded", False, timedelta(days=7), OverDraft.IS_DRAFT),
    Prompt.ANSWER: ("dialogue_cancelled", False, None, OverDraft.WAIT),
    Prompt.RATE_COMMENT: ("dialogue_cancelled", True, timedelta(minutes=30), OverDraft.SET_ASIDE),
    Prompt.REOPEN_REASON: ("dialogue_cancelled", True, timedelta(hours=2), OverDraft.SET_ASIDE),
    Prompt.CONSULT_COMMENT: (
        "consult_cancelled",
        True,
        timedelta(minutes=30),
        OverDraft.SET_ASIDE,
    ),
    Prompt.PROPOSE: ("proposal_cancelled", True, timedelta(days=1), OverDraft.SET_ASIDE),
    Prompt.PROPOSAL_POINT: (
        "proposal_cancelled",
        True,
        timedelta(minutes=30),
        OverDraft.SET_ASIDE,
    ),
    **{p: ("prompt_left", True, timedelta(hours=6), OverDraft.SET_ASIDE) for p in STAFF_PROMPTS},
    **{p: ("prompt_left", True, timedelta(days=1), OverDraft.SET_ASIDE) for p in COMMITTEE_PROMPTS},
    **{
        p: ("dialogue_cancelled", True, timedelta(days=1), OverDraft.SET_ASIDE)
        for p in (Prompt.VOLUNTEER, Prompt.TASK_POST, Prompt.ORG_PROFILE, Prompt.ORG_DONE_NOTE)
    },
}


def test_the_stored_values_are_frozen() -> None:
    assert {p.value for p in Prompt} == STORED
    assert set(TABLE) == set(Prompt)


@pytest.mark.parametrize("prompt", list(Prompt), ids=str)
def test_every_state_has_a_reader_that_resolves(prompt: Prompt) -> None:
    handler = resolve_handler(TABLE[prompt].handler)
    assert callable(handler)
    assert dispatcher().prompt_handlers[prompt] is handler


@pytest.mark.parametrize("prompt", list(Prompt), ids=str)
def test_each_state_is_read_in_the_component_that_owns_it(prompt: Prompt) -> None:
    rule = TABLE[prompt]
    assert rule.handler.startswith(f"handlers.{rule.component}."), rule.handler


@pytest.mark.parametrize("prompt", list(Prompt), ids=str)
def test_each_state_rule(prompt: Prompt) -> None:
    rule = TABLE[prompt]
    assert (rule.cancel, rule.command_leaves, rule.ttl, rule.over_draft) == EXPECTED[prompt]
    staff = prompt in STAFF_PROMPTS | COMMITTEE_PROMPTS
    assert rule.audience == ("staff" if staff else "resident")
    if staff:
        assert rule.lapse == "prompt_left"  # staff are told a prompt lapsed


def test_the_docs_table_is_generated_from_the_code() -> None:
    doc = (ROOT / "docs" / "dialogue.md").read_text(encoding="utf-8")
    assert dialogue.markdown_table() in doc, "regenerate: python -m bot.services.shared.dialogue"


# --- playing each state's rules through the chat ------------------------------------------------


async def _person_in(uow: UnitOfWork, prompt: Prompt) -> User:
    """Someone for whom `prompt` is armed now, with what the prompt's reader needs."""
    if prompt in STAFF_PROMPTS:
        user = await new_resident(uow, MEMBER_1)
        case = await file_case(uow, await new_resident(uow), as_category="facilities")
        dialogue.arm(uow, user, prompt, case_id=case.id, version=case.version, target="m:x")
        return user
    if prompt in COMMITTEE_PROMPTS:
        from unit_helpers import COMMITTEE

        user = await new_resident(uow, COMMITTEE)
        dialogue.arm(uow, user, prompt, step="question", draft={})
        return user
    user = await new_resident(uow)
    if prompt in (Prompt.CONSENT, Prompt.DECLINED, Prompt.ADDRESS):
        user.consent_at = None if prompt != Prompt.ADDRESS else user.consent_at
        user.home_grid_id = None
        user.home_building_id = None
        dialogue.arm(uow, user, prompt, pending="kept words" if prompt == Prompt.ADDRESS else None)
    elif prompt == Prompt.DRAFT:
        drafts.start_or_extend(uow, user, "The lamp outside is broken")
    else:
        case = await file_case(uow, user, as_category="facilities")
        dialogue.arm(uow, user, prompt, case_id=case.id, consultation_id=0)
    return user


@pytest.mark.parametrize("prompt", list(Prompt), ids=str)
async def test_cancel_follows_the_table(uow: UnitOfWork, prompt: Prompt) -> None:
    user = await _person_in(uow, prompt)
    mark = await last_outbox_id(uow)
    await say(uow, user.id, "/cancel")
    told = await texts_to(uow, user.id, after=mark)
    rule = TABLE[prompt]
    if rule.cancel is None:
        assert user.state == prompt.value  # /cancel does not apply: the state stays
        return
    assert user.state is None
    assert told, "the person is told what /cancel did"
    if rule.audience == "resident":
        assert told[0] == rendered(uow, "en", rule.cancel)
    else:
        assert "nothing was sent" in told[0]
    if prompt == Prompt.ADDRESS:
        assert user.state_data.get("pending") == "kept words"  # held words survive /cancel


@pytest.mark.parametrize("prompt", list(Prompt), ids=str)
async def test_another_command_leaves_only_where_the_table_says(
    uow: UnitOfWork, prompt: Prompt
) -> None:
    user = await _person_in(uow, prompt)
    await say(uow, user.id, "/privacy")
    left = user.state is None
    assert left == TABLE[prompt].command_leaves


@pytest.mark.parametrize("prompt", list(Prompt), ids=str)
async def test_expiry_follows_the_table(
    uow: UnitOfWork, clock: ManualClock, prompt: Prompt
) -> None:
    user = await _person_in(uow, prompt)
    ttl = TABLE[prompt].ttl
    clock.advance((ttl or timedelta(days=365)) - timedelta(minutes=1))
    uow.now = clock.now()
    assert await dialogue.read(uow, user) == prompt
    clock.advance(timedelta(minutes=2))
    uow.now = clock.now()
    mark = await last_outbox_id(uow)
    after = await dialogue.read(uow, user)
    if ttl is None:
        assert after == prompt
        return
    assert after is None
    told = await texts_to(uow, user.id, after=mark)
    assert bool(told) == (TABLE[prompt].lapse is not None)


# --- an unsent draft is never lost ---------------------------------------------------------------


async def test_a_prompt_the_resident_arms_keeps_the_draft_aside_and_brings_it_back(
    uow: UnitOfWork,
) -> None:
    user = await new_resident(uow)
    case = await file_case(uow, user, as_category="facilities")
    drafts.start_or_extend(uow, user, "The door of building 1 does not close")
    dialogue.arm(uow, user, Prompt.RATE_COMMENT, case_id=case.id)
    assert user.state == Prompt.RATE_COMMENT and dialogue.has_draft(user)
    mark = await last_outbox_id(uow)
    assert await dialogue.end(uow, user) == Prompt.DRAFT
    assert drafts.draft(user)["text"] == "The door of building 1 does not close"
    shown = await texts_to(uow, user.id, after=mark)
    assert shown and "still here" in shown[0] and "does not close" in shown[0]


async def test_a_staff_question_waits_for_the_draft_then_arms(uow: UnitOfWork) -> None:
    user = await new_resident(uow)
    case = await file_case(uow, user, as_category="facilities")
    drafts.start_or_extend(uow, user, "The door of building 1 does not close")
    mark = await last_outbox_id(uow)
    assert await lifecycle.ask(uow, MEMBER_1, case, "Which floor?")
    assert user.state == Prompt.DRAFT  # the next line still goes to the draft
    question = (await texts_to(uow, user.id, after=mark))[-1]
    assert "reply to this message" in question
    drafts.start_or_extend(uow, user, "also the hinge is rusty")
    assert "hinge" in drafts.draft(user)["text"]
    mark = await last_outbox_id(uow)
    await drafts.discard(uow, user)
    assert user.state == Prompt.ANSWER and user.state_data["case_id"] == case.id
    told = await texts_to(uow, user.id, after=mark)
    assert told == [rendered(uow, "en", "question_waiting", case=case)]


async def test_a_staff_question_takes_the_place_of_an_optional_prompt(uow: UnitOfWork) -> None:
    user = await new_resident(uow)
    case = await file_case(uow, user, as_category="facilities")
    dialogue.arm(uow, user, Prompt.RATE_COMMENT, case_id=case.id)
    assert await lifecycle.ask(uow, MEMBER_1, case, "Which floor?")
    assert user.state == Prompt.ANSWER


async def test_a_draft_lapses_with_the_resident_told_its_words(
    uow: UnitOfWork, clock: ManualClock
) -> None:
    user = await new_resident(uow)
    drafts.start_or_extend(uow, user, "Graffiti on the wall of building 3")
    clock.advance(timedelta(days=8))
    uow.now = clock.now()
    mark = await last_outbox_id(uow)
    assert await dialogue.read(uow, user) is None
    told = await texts_to(uow, user.id, after=mark)
    assert len(told) == 1 and "Graffiti on the wall" in told[0] and "not sent" in told[0]


def test_the_draft_echo_shows_the_line_just_added(uow: UnitOfWork) -> None:
    text = "word " * 200 + "also the hinge is rusty"
    echo = rendered(uow, "en", "draft_saved", draft={"text": text})
    assert "also the hinge is rusty" in echo


# --- asking someone who cannot answer ------------------------------------------------------------


async def test_asking_a_resident_who_erased_their_data_is_refused(uow: UnitOfWork) -> None:
    user = await new_resident(uow)
    case = await file_case(uow, user, as_category="facilities")
    await forget(uow, user)
    status = case.status
    with pytest.raises(CaseActionError) as refused:
        await lifecycle.ask(uow, MEMBER_1, case, "Which floor?")
    assert refused.value.key == "ask_no_resident"
    assert case.status == status


async def test_asking_on_a_case_without_a_resident_is_refused(uow: UnitOfWork) -> None:
    case = await file_case(uow, None, as_category="facilities")
    with pytest.raises(CaseActionError) as refused:
        await lifecycle.ask(uow, MEMBER_1, case, "Which floor?")
    assert refused.value.key == "ask_no_resident"
    assert case.status != "needs_info"


# --- staff who are no longer staff, commands for other bots --------------------------------------


async def test_a_member_deactivated_mid_prompt_is_told_and_nothing_is_kept(
    uow: UnitOfWork,
) -> None:
    member = await ensure_user(uow, Person(MEMBER_1, "Member", "en"), "en")
    case = await file_case(uow, await new_resident(uow), as_category="facilities")
    dialogue.arm(uow, member, Prompt.REJECT_REASON, case_id=case.id, version=case.version)
    await staff.deactivate(uow, MEMBER_1)
    mark = await last_outbox_id(uow)
    await say(uow, MEMBER_1, "duplicate of another case")
    told = await texts_to(uow, MEMBER_1, after=mark)
    assert len(told) == 1 and "no longer on the staff list" in told[0]
    assert member.state is None and member.state_data == {}
    assert case.status != "rejected"


async def test_a_command_for_another_bot_is_not_answered(uow: UnitOfWork) -> None:
    uow.domain.bot_username = "gridvoice_bot"
    user = await new_resident(uow)
    mark = await last_outbox_id(uow)
    await say(uow, user.id, "/help@other_bot")
    assert await texts_to(uow, user.id, after=mark) == []
    await say(uow, user.id, "/help@GridVoice_bot")
    assert await texts_to(uow, user.id, after=mark)


async def test_a_star_rating_over_a_draft_brings_the_draft_back_after_the_comment(
    uow: UnitOfWork,
) -> None:
    user = await new_resident(uow)
    case = await file_case(uow, user, as_category="facilities")
    case.status = "resolved"
    case.resolved_at = uow.now
    await say(uow, user.id, "The door of building 1 does not close")
    await press(uow, user.id, f"r:rate:{case.id}:4")
    assert user.state == Prompt.RATE_COMMENT
    mark = await last_outbox_id(uow)
    await say(uow, user.id, "Thanks, quick work")
    assert case.rating_comment == "Thanks, quick work"
    assert user.state == Prompt.DRAFT
    assert drafts.draft(user)["text"] == "The door of building 1 does not close"
    told = await texts_to(uow, user.id, after=mark)
    assert "still here" in told[-1]


async def test_a_ballot_comment_prompt_lapses_and_a_later_report_is_a_report(
    uow: UnitOfWork, clock: ManualClock
) -> None:
    user = await new_resident(uow)
    dialogue.arm(uow, user, Prompt.CONSULT_COMMENT, consultation_id=1, kind="comment")
    clock.advance(timedelta(days=2))
    uow.now = clock.now()
    await say(uow, user.id, "Sewage is overflowing from the drain outside building 2")
    assert user.state == Prompt.DRAFT
    assert "Sewage" in drafts.draft(user)["text"]
