"""The dialogue table: what a person's next plain message means, declared once.

A person's conversation state lives in their row (`users.state`, `users.state_data`), so a
restart or another replica continues the dialogue. Every value the column can hold is a
`Prompt` below, with one `Rule`: which component owns it, which chat function reads the
next message (a ``"module:function"`` string the chat dispatcher resolves at start-up, so
this module imports no handler), what `/cancel` answers, whether any other command leaves
it, how long it lives, who is prompted, and what happens to an unsent report draft when
this prompt arms over it. Nothing here imports telegram or aiohttp.

An unsent draft is never silently destroyed. A prompt the resident arms themselves (a
rating comment, "Not solved", a ballot comment) keeps the draft aside (``_kept``) and
brings it back, with its buttons, when the prompt ends. A question from staff arriving
while the resident writes a report does not take their next line: it waits (``_deferred``)
and arms once the draft is sent or discarded; meanwhile a reply to the question reaches
the case, as every reply does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from bot.services.shared.domain import UnitOfWork
from bot.services.shared.outbox import Button, Keyboard
from bot.store.models import Case, User

# Keys of `state_data` the dialogue keeps for itself (no prompt's own data uses them).
AT = "_at"  # when the prompt armed (ISO time): its time to live counts from here
KEPT = "_kept"  # the draft set aside under this prompt: {"state": "draft", "data": {...}}
DEFERRED = "_deferred"  # staff questions waiting for the draft to end: [{"case_id": n}]
RESERVED = (AT, KEPT, DEFERRED)


class Prompt(StrEnum):
    """Every value `users.state` holds. The strings are stored: never rename one."""

    CONSENT = "consent"
    DECLINED = "declined"
    ADDRESS = "address"
    DRAFT = "draft"
    ANSWER = "answer"
    RATE_COMMENT = "rate_comment"
    REOPEN_REASON = "reopen_reason"
    CONSULT_COMMENT = "consult_comment"
    ASK = "ask"
    RESOLVE_NOTE = "resolve_note"
    RESOLVE_PHOTO = "resolve_photo"
    REJECT_REASON = "reject_reason"
    REJECT_CONFIRM = "reject_confirm"
    TRANSFER_REASON = "transfer_reason"
    PUBLIC_NOTE = "public_note"
    NOTE = "note"
    HOLD_NOTE = "hold_note"  # why a hold is asked (for the leader; never public)
    EXTEND_REASON = "extend_reason"  # why an extension is asked (for the leader)
    SUPERVISE_REASON = "supervise_reason"
    VERIFY_PHOTO = "verify_photo"
    CONSULT = "consult"
    CONSULT_OPTIONS = "consult_options"
    ANNOUNCE = "announce"
    COHANDLER_TASK = "cohandler_task"  # a co-handler's task (they read it; never the resident)
    SUMMON_TASK = "summon_task"  # what a summoned party is called for
    TASK_WAIVE = "task_waive"  # why the lead waives a co-handler's task
    # whose duty: why a case is returned (a clause chosen on the card), and the ruling's reason
    RETURN_REASON = "return_reason"
    RULING_REASON = "ruling_reason"
    # volunteers and organisations: opting in, posting a task, an organisation's profile
    VOLUNTEER = "volunteer"
    TASK_POST = "task_post"
    ORG_PROFILE = "org_profile"
    # cases staff file: found on patrol, and for a resident without Telegram
    PATROL = "patrol"
    ASSIST = "assist"
    # residents' proposals: writing one (title, text, then photo, place and cited cases),
    # a point for or against, and the committee's public reason (a decline, a hiding, a merge)
    PROPOSE = "propose"
    PROPOSAL_POINT = "proposal_point"
    PROPOSAL_REASON = "proposal_reason"
    # an organisation that took a case up: its short note once it did its part
    ORG_DONE_NOTE = "org_done_note"


class OverDraft(StrEnum):
    """What an unsent report draft becomes when this prompt arms over it."""

    SET_ASIDE = "set_aside"  # kept aside; back, with its buttons, when the prompt ends
    WAIT = "wait"  # the draft stays in force; this prompt arms once the draft is sent or discarded
    IS_DRAFT = "is_draft"  # the draft itself
    NONE = "none"  # no draft can exist here (before consent)


Audience = Literal["resident", "staff"]


@dataclass(frozen=True)
class Rule:
    """How one prompt behaves. `cancel` is the template `/cancel` answers with (None: /cancel
    does not apply and goes on to offer withdrawing a case); `lapse` the template told when
    the prompt lapses (None: it lapses quietly and the message is read as a new one)."""

    component: str
    handler: str
    audience: Audience
    cancel: str | None
    command_leaves: bool
    ttl: timedelta | None
    over_draft: OverDraft
    lapse: str | None = None
    # Whether a question from staff may take this prompt's place (an optional prompt).
    yields_to_question: bool = False
    # `state_data` keys `/cancel` keeps (consent stays recorded, typed text stays held).
    cancel_keeps: tuple[str, ...] = ()


# Optional prompts lapse soon: a later message is a new one, never swallowed.
OPTIONAL_TTL = timedelta(minutes=30)
# A staff prompt left armed overnight must not catch the next morning's text.
STAFF_TTL = timedelta(hours=6)
# The committee's guided dialogues (several steps with buttons).
COMMITTEE_TTL = timedelta(days=1)
# An unsent report draft: after this the resident is told it lapsed, and shown its words.
DRAFT_TTL = timedelta(days=7)
# "What is still wrong?" after "Not solved".
REOPEN_TTL = timedelta(hours=2)

_ONBOARDING = "handlers.people.onboarding:onboarding_input"
_STAFF = "handlers.cases.card:staff_input"

TABLE: dict[Prompt, Rule] = {
    Prompt.CONSENT: Rule("people", _ONBOARDING, "resident", None, False, None, OverDraft.NONE),
    Prompt.DECLINED: Rule("people", _ONBOARDING, "resident", None, False, None, OverDraft.NONE),
    Prompt.ADDRESS: Rule(
        "people",
        _ONBOARDING,
        "resident",
        "address_cancelled",
        False,
        None,
        OverDraft.NONE,
        cancel_keeps=("pending",),
    ),
    Prompt.DRAFT: Rule(
        "reports",
        "handlers.reports.drafts:draft_message",
        "resident",
        "draft_discarded",
        False,
        DRAFT_TTL,
        OverDraft.IS_DRAFT,
        lapse="draft_expired",
    ),
    Prompt.ANSWER: Rule(
        "cases",
        "handlers.cases.resident:answer_message",
        "resident",
        "dialogue_cancelled",
        False,
        None,
        OverDraft.WAIT,
        yields_to_question=True,
    ),
    Prompt.RATE_COMMENT: Rule(
        "cases",
        "handlers.cases.resident:rating_comment_message",
        "resident",
        "dialogue_cancelled",
        True,
        OPTIONAL_TTL,
        OverDraft.SET_ASIDE,
        yields_to_question=True,
    ),
    Prompt.REOPEN_REASON: Rule(
        "cases",
        "handlers.cases.resident:reopen_message",
        "resident",
        "dialogue_cancelled",
        True,
        REOPEN_TTL,
        OverDraft.SET_ASIDE,
    ),
    Prompt.CONSULT_COMMENT: Rule(
        "participation",
        "handlers.participation.ballots:comment_message",
        "resident",
        "consult_cancelled",
        True,
        OPTIONAL_TTL,
        OverDraft.SET_ASIDE,
        yields_to_question=True,
    ),
    Prompt.PROPOSE: Rule(
        "participation",
        "handlers.participation.proposals:propose_message",
        "resident",
        "proposal_cancelled",
        True,
        timedelta(days=1),
        OverDraft.SET_ASIDE,
        lapse="proposal_lapsed",
    ),
    Prompt.PROPOSAL_POINT: Rule(
        "participation",
        "handlers.participation.proposals:point_message",
        "resident",
        "proposal_cancelled",
        True,
        OPTIONAL_TTL,
        OverDraft.SET_ASIDE,
        yields_to_question=True,
    ),
    **{
        p: Rule(
            "cases",
            _STAFF,
            "staff",
            "prompt_left",
            True,
            STAFF_TTL,
            OverDraft.SET_ASIDE,
            lapse="prompt_left",
        )
        for p in (
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
            Prompt.SUPERVISE_REASON,  # why a case is put under supervision (the owner reads it)
            Prompt.VERIFY_PHOTO,  # a member's photo checking another grid's closed case
            Prompt.COHANDLER_TASK,  # joint handling and summons (吹哨报到): the task's text,
            Prompt.SUMMON_TASK,
            Prompt.TASK_WAIVE,  # and why a task is waived
            Prompt.RETURN_REASON,  # why a case is not ours (the adjudicator reads it)
            Prompt.RULING_REASON,  # the adjudicator's reason for a ruling on a return
        )
    },
    **{
        p: Rule(
            "participation",
            handler,
            "staff",
            "prompt_left",
            True,
            COMMITTEE_TTL,
            OverDraft.SET_ASIDE,
            lapse="prompt_left",
        )
        for p, handler in (
            (Prompt.CONSULT, "handlers.participation.consultations:consult_message"),
            (Prompt.CONSULT_OPTIONS, "handlers.participation.consultations:options_message"),
            (Prompt.ANNOUNCE, "handlers.participation.announcements:announce_message"),
            (Prompt.PROPOSAL_REASON, "handlers.participation.proposals:reason_message"),
        )
    },
    # Volunteers, organisers and organisations (not only staff: an organisation's contact
    # posts tasks too): a few steps each; /cancel or any command leaves them.
    **{
        p: Rule(
            "participation",
            f"handlers.participation.volunteers:{reader}",
            "resident",
            "dialogue_cancelled",
            True,
            COMMITTEE_TTL,
            OverDraft.SET_ASIDE,
        )
        for p, reader in (
            (Prompt.VOLUNTEER, "volunteer_message"),
            (Prompt.TASK_POST, "task_message"),
            (Prompt.ORG_PROFILE, "org_profile_message"),
        )
    },
    **{
        p: Rule(
            "cases",
            f"handlers.cases.intake:{reader}",
            "staff",
            "prompt_left",
            True,
            STAFF_TTL,
            OverDraft.SET_ASIDE,
            lapse="prompt_left",
        )
        for p, reader in ((Prompt.PATROL, "patrol_message"), (Prompt.ASSIST, "assist_message"))
    },
    # An organisation's contact (not staff) after *Done* on a case it took up: one line.
    Prompt.ORG_DONE_NOTE: Rule(
        "cases",
        "handlers.cases.card:org_done_message",
        "resident",
        "dialogue_cancelled",
        True,
        COMMITTEE_TTL,
        OverDraft.SET_ASIDE,
    ),
}


def rule(prompt: str | Prompt) -> Rule:
    return TABLE[Prompt(prompt)]


def prompt_of(user: User) -> Prompt | None:
    """The person's prompt as stored (an unknown stored value counts as none)."""
    try:
        return Prompt(user.state) if user.state else None
    except ValueError:
        return None


def own_data(user: User) -> dict[str, Any]:
    """The prompt's own data, without the dialogue's bookkeeping."""
    return {k: v for k, v in (user.state_data or {}).items() if k not in RESERVED}


# --- writing the state -----------------------------------------------------------------------


def _has_draft_content(state: str | None, data: dict[str, Any]) -> bool:
    return state == Prompt.DRAFT and bool(
        (data.get("text") or "").strip() or data.get("photos") or data.get("location")
    )


def put(
    user: User, state: str | Prompt | None, data: dict[str, Any], now: datetime | None = None
) -> None:
    """Write a state, keeping what must survive: staff questions that wait, and an unsent
    draft, set aside under a prompt that arms over it and back when the state clears."""
    new_state = Prompt(state) if state is not None else None
    old_state = user.state
    old = dict(user.state_data or {})
    new = {k: v for k, v in data.items() if k not in (KEPT, DEFERRED)}
    if old.get(DEFERRED):
        new[DEFERRED] = old[DEFERRED]
    kept = old.get(KEPT)
    if new_state is not None and new_state != Prompt.DRAFT and _has_draft_content(old_state, old):
        kept = {
            "state": Prompt.DRAFT.value,
            "data": {k: v for k, v in old.items() if k != DEFERRED},
        }
    if new_state is None and kept:
        # The prompt is over: the draft set aside under it is back in force.
        restored = dict(kept["data"])
        if new.get(DEFERRED):
            restored[DEFERRED] = new[DEFERRED]
        user.state, user.state_data = Prompt.DRAFT.value, restored
        return
    if kept and new_state not in (None, Prompt.DRAFT):
        new[KEPT] = kept
    if new_state is not None and (new_state != old_state or AT not in old) and now is not None:
        new[AT] = now.isoformat()
    elif new_state is not None and AT in old and new_state == old_state:
        new.setdefault(AT, old[AT])
    user.state = new_state.value if new_state is not None else None
    user.state_data = new


def arm(uow: UnitOfWork, user: User, prompt: Prompt, **data: Any) -> None:
    """The person's next message answers `prompt` (armed by the person themselves)."""
    put(user, prompt, data, uow.now)


def reads_as_report(uow: UnitOfWork, text: str) -> bool:
    """Whether a message names a problem of its own (a category other than the catch-all),
    so it must not be swallowed by an optional prompt such as a rating or ballot comment."""
    category = uow.domain.classifier.classify(text, vote=False).category  # quick: no embedding
    return category is not None and category != "other"


def has_draft(user: User) -> bool:
    """Whether an unsent report draft is in force or set aside under the current prompt."""
    data = user.state_data or {}
    kept = data.get(KEPT) or {}
    return _has_draft_content(user.state, data) or _has_draft_content(
        kept.get("state"), kept.get("data") or {}
    )


def ask_resident(uow: UnitOfWork, user: User, case_id: int) -> bool:
    """Arm the answer to a staff question in the resident's chat (staff are the actor, on
    the chat card or the web desk alike). Returns False when it waits: the resident is
    writing a report or is in the middle of a prompt of their own; it arms once that ends."""
    current = prompt_of(user)
    if has_draft(user) or (
        current is not None and not TABLE[current].yields_to_question and not expired(uow, user)
    ):
        data = dict(user.state_data or {})
        waiting = [d for d in data.get(DEFERRED) or [] if d.get("case_id") != case_id]
        data[DEFERRED] = [*waiting, {"case_id": case_id}]
        user.state_data = data
        return False
    put(user, None, {})
    put(user, Prompt.ANSWER, {"case_id": case_id}, uow.now)
    return True


# --- reading it -------------------------------------------------------------------------------


def armed_at(user: User) -> datetime | None:
    data = user.state_data or {}
    raw = data.get(AT) or data.get("since") or data.get("started")
    if not raw:
        return None
    try:
        return datetime.fromisoformat(str(raw))
    except ValueError:
        return None


def expired(uow: UnitOfWork, user: User) -> bool:
    """Whether the person's prompt has outlived its time to live."""
    current = prompt_of(user)
    if current is None:
        return False
    ttl = TABLE[current].ttl
    if ttl is None:
        return False
    at = armed_at(user)
    if at is None:
        # Rows written before prompts carried a time: optional prompts count as lapsed,
        # anything else lives on (a draft must not vanish for want of a date).
        return current in (Prompt.RATE_COMMENT, Prompt.CONSULT_COMMENT)
    if at.tzinfo is None and uow.now.tzinfo is not None:
        at = at.replace(tzinfo=uow.now.tzinfo)
    return uow.now - at > ttl


async def read(uow: UnitOfWork, user: User) -> Prompt | None:
    """The prompt in force for the person's next message. A lapsed prompt ends here (and
    says so where its rule tells); a question that waited arms once nothing else is armed."""
    for _ in range(3):  # a lapsed prompt may uncover a draft, which may have lapsed too
        current = prompt_of(user)
        if user.state is not None and current is None:
            user.state, user.state_data = None, {}
        if current is not None and TABLE[current].ttl and armed_at(user) is None:
            if current not in (Prompt.RATE_COMMENT, Prompt.CONSULT_COMMENT):
                # Armed without a time (an older row): its time to live counts from now.
                user.state_data = {**(user.state_data or {}), AT: uow.now.isoformat()}
        if current is None or not expired(uow, user):
            break
        await lapse(uow, user)
    if prompt_of(user) is None and (user.state_data or {}).get(DEFERRED):
        await _arm_waiting(uow, user, tell=True)
    return prompt_of(user)


# --- ending it --------------------------------------------------------------------------------


async def end(
    uow: UnitOfWork, user: User, *, tell: bool = True, keep: dict[str, Any] | None = None
) -> Prompt | None:
    """The prompt is over (answered, cancelled, lapsed). A draft set aside comes back (the
    resident is shown it with its buttons when `tell`); with nothing beneath, a staff
    question that waited arms now. Returns the prompt in force afterwards."""
    had_kept = bool((user.state_data or {}).get(KEPT))
    put(user, None, dict(keep or {}))
    if had_kept and prompt_of(user) == Prompt.DRAFT:
        if tell:
            show_draft(uow, user, kept=True)
        return Prompt.DRAFT
    if prompt_of(user) is None and (user.state_data or {}).get(DEFERRED):
        await _arm_waiting(uow, user, tell=True)
    return prompt_of(user)


def drop_draft(user: User) -> None:
    """The draft in force is sent or discarded (what waited for it stays)."""
    data = user.state_data or {}
    user.state = None
    user.state_data = {DEFERRED: data[DEFERRED]} if data.get(DEFERRED) else {}


async def draft_done(uow: UnitOfWork, user: User) -> None:
    """After a draft is sent or discarded: a staff question that waited for it arms now."""
    drop_draft(user)
    if user.state_data.get(DEFERRED):
        await _arm_waiting(uow, user, tell=True)


async def lapse(uow: UnitOfWork, user: User) -> None:
    """The prompt outlived its time to live: end it, telling the person where the rule says."""
    current = prompt_of(user)
    if current is None:
        return
    rule_ = TABLE[current]
    data = own_data(user)
    if current == Prompt.DRAFT:
        uow.outbox.send(
            user.id,
            user.language,
            "draft_expired",
            text=data.get("text") or "",
            photos=len(data.get("photos") or []),
            started=armed_at(user),
        )
        await draft_done(uow, user)
        return
    if rule_.lapse is not None:
        case = await _case(uow, data.get("case_id"))
        uow.outbox.send(
            user.id, user.language, rule_.lapse, prompt=current.value, case=case, lapsed=True
        )
    await end(uow, user, tell=True)


async def _case(uow: UnitOfWork, case_id: object) -> Case | None:
    if not isinstance(case_id, int):
        return None
    return await uow.session.get(Case, case_id)


async def _arm_waiting(uow: UnitOfWork, user: User, *, tell: bool) -> None:
    """Arm the latest staff question that waited, if its case still waits for the resident."""
    data = dict(user.state_data or {})
    waiting = list(data.pop(DEFERRED, None) or [])
    user.state_data = data
    for item in reversed(waiting):
        case = await _case(uow, item.get("case_id"))
        if case is None or case.resident_id != user.id or case.status != "needs_info":
            continue
        put(user, Prompt.ANSWER, {"case_id": case.id}, uow.now)
        if tell:
            uow.outbox.send(user.id, user.language, "question_waiting", case=case)
        return


# --- the draft as the resident sees it ---------------------------------------------------------


def draft_keyboard() -> Keyboard:
    return [
        [Button.of("btn_send_report", "d:send")],
        [Button.of("btn_elsewhere", "d:where"), Button.of("btn_discard", "d:cancel")],
    ]


def show_draft(uow: UnitOfWork, user: User, *, kept: bool = False) -> None:
    """The draft in force with its buttons; `kept`: it was set aside and is back."""
    data = own_data(user) if user.state == Prompt.DRAFT else {}
    extra: dict[str, Any] = {"place": data["place_text"]} if data.get("place_text") else {}
    uow.outbox.send(
        user.id,
        user.language,
        "draft_saved",
        keyboard=draft_keyboard(),
        draft=data,
        restored=kept,
        kept=kept,
        **extra,
    )


# --- the table as documentation -----------------------------------------------------------------


def _ttl_text(ttl: timedelta | None) -> str:
    if ttl is None:
        return "—"
    minutes = int(ttl.total_seconds() // 60)
    if minutes % (60 * 24) == 0:
        return f"{minutes // (60 * 24)} d"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def markdown_table() -> str:
    """The dialogue table as `docs/dialogue.md` shows it (a test keeps the two equal)."""
    lines = [
        "| state | component | audience | handler | /cancel answers | a command leaves it "
        "| lives | an unsent draft | on lapse |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for prompt, r in TABLE.items():
        lines.append(
            f"| `{prompt.value}` | {r.component} | {r.audience} | `{r.handler}` "
            f"| {('`' + r.cancel + '`') if r.cancel else '—'} "
            f"| {'yes' if r.command_leaves else 'no'} | {_ttl_text(r.ttl)} "
            f"| {r.over_draft.value} | {('`' + r.lapse + '`') if r.lapse else 'quiet'} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # `python -m bot.services.shared.dialogue` prints the table
    print(markdown_table(), end="")
