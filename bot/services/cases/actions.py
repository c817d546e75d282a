"""The staff's actions on a case, one row each: the chat card and the desk form both read it.

A row says what the action is called (the desk's vocabulary and its texts), its callback code
on the chat card (stored cards carry these codes: they never change), what it asks for before
it runs, whether it is confirmed, who may use it, in which statuses it is offered, any further
rule of availability, and the lifecycle function it runs. The lifecycle function takes the
answers in the order of `asks`: `run(uow, user_id, case, *answers)`.

Adding an action: one row here, one lifecycle function, its texts (`btn_<name>` and the chat
prompt in templates/*/labels.yaml and *.j2, `desk_btn_<name>` and `desk_done_<name>` in
templates/*/web.yaml).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.services.cases import duty, intake, joint, lifecycle, staff_intake
from bot.services.cases.queues import transfer_options
from bot.services.cases.status import AWAITING_ACCEPT, WORKING, Status
from bot.services.cases.views import accepts_in
from bot.services.people import access, policy
from bot.services.people.policy import Capability
from bot.services.shared.domain import UnitOfWork
from bot.store.models import Case, User


class Asks(StrEnum):
    """What an action needs from the person before it runs (in this order)."""

    TEXT = "text"  # a line of text: the chat arms a prompt, the desk shows a text box
    PHOTO = "photo"  # an optional photo after the text
    TARGET = "target"  # who takes it over: a member of the grid or a responsible party
    MEMBER = "member"  # a member or leader of the case's grid (a supervisor's reassignment)
    CATEGORY = "category"  # a category of the grid map
    MENTION = "mention"  # optional: a colleague to tell (the desk picks one; the chat reads @names)
    REASON = "reason"  # a hold's reason category (`lifecycle.HOLD_REASONS`)
    DAYS = "days"  # a number of days (`lifecycle.day_choices`): a hold's length, an extension, a
    # supervision deadline (`days_choices`)
    HELPER = "helper"  # a co-handler or a summoned party: a member or party of the map (`helpers`)
    CLAUSE = "clause"  # a clause of the duty list that makes the case someone else's (a return)


@dataclass(frozen=True)
class Where:
    """Where an action would be offered: a card in a chat, or the desk of a signed-in person."""

    uow: UnitOfWork
    case: Case
    user_id: int | None = None  # the desk's person, or the one who pressed
    chat_id: int | None = None  # the chat the card is in
    # What the rules read, read once while the actions are weighed (`offered`): several rules
    # ask the same question (a pending request, a pending return, the open tasks).
    reads: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def card(self) -> bool:
        return self.user_id is None

    async def once(self, key: str, load: Callable[[], Awaitable[Any]]) -> Any:
        """`load()`'s answer, read once for this place."""
        if key not in self.reads:
            self.reads[key] = await load()
        return self.reads[key]


# A rule of availability beyond status and capability: None when the action may be offered,
# else the label that says why not.
Rule = Callable[[Where], Awaitable[str | None]]


@dataclass(frozen=True)
class StaffAction:
    name: str  # the desk's vocabulary: its URL, its texts
    code: str | None  # the chat card's callback code (None: the desk only)
    asks: tuple[Asks, ...]  # the answers `run` takes, in order
    capability: Capability
    statuses: frozenset[str]
    run: Callable[..., Awaitable[Any]]
    button: str | None = None  # the card button's label (None: its choices are the buttons)
    prompt: str | None = None  # the dialogue state that waits for the text it asks
    prompt_text: str | None = None  # what the chat prompt says
    done: str | None = None  # the chat's short answer once it ran
    confirms: bool = False  # the chat asks "really?" before it runs
    rule: Rule | None = None
    text_field: str = "reason"  # the desk form's text box
    text_label: str = "desk_reason"
    steps: tuple[str, ...] = ()  # codes of its later steps on the card (choices, back)
    prompt_codes: tuple[str, ...] = ()  # codes of buttons on its chat prompts
    days_of: str = ""  # what its DAYS bound: "hold" or "extend" (`lifecycle.day_choices`);
    # "" for a supervision deadline (`days_choices`), chosen on the card before its reason
    once: bool = False  # pressed on a message of its own (the leader's request): used once
    # Staff who only see the case (within their reach, `access.may_view`) may run it too, not
    # only those who work it: the committee offers a case to the organisations it invited.
    in_reach: bool = False

    @property
    def desk_button(self) -> str:
        return f"desk_btn_{self.name}"

    @property
    def desk_done(self) -> str:
        return f"desk_done_{self.name}"


async def resident_askable(uow: UnitOfWork, case: Case) -> bool:
    """Whether the case has a resident to ask: not an Open311 request, not someone who used
    /forget (their row is erased or gone)."""
    if case.resident_id is None:
        return False
    resident = await uow.session.get(User, case.resident_id)
    return resident is not None and resident.erased_at is None


async def _has_resident(where: Where) -> str | None:
    return None if await resident_askable(where.uow, where.case) else "ask_no_resident"


async def _party_accepts(where: Where) -> str | None:
    """A party's case is accepted by the party's own staff (or in its group) only."""
    if where.user_id is not None:
        ok = access.may_accept(where.uow, where.user_id, where.case)
    else:
        ok = accepts_in(where.uow, where.case, where.chat_id or 0)
    return None if ok else "accept_party_only"


async def _has_targets(where: Where) -> str | None:
    return None if targets(where) else "no_transfer_target"


async def _has_members(where: Where) -> str | None:
    return None if members(where) else "not_allowed"


def targets(where: Where) -> list[Any]:
    """Transfer targets offered here (never the person themself, nor the case's owner)."""
    exclude = {where.user_id} if where.user_id is not None else {where.case.owner_id or 0}
    return transfer_options(where.uow, where.case, exclude=exclude)


def members(where: Where) -> list[Any]:
    """Who a supervisor may hand the case to: members and leaders of its grid, not its owner."""
    if where.user_id is None:
        return []
    return [
        s
        for s in access.assignable_staff(where.uow, where.user_id)
        if s.telegram_id != where.case.owner_id and where.case.grid_id in s.grid_ids
    ]


# --- fair clocks: hold, release, extend, and the leader's decision --------------------------


async def _may_defer(where: Where) -> str | None:
    """A hold or an extension is asked while the clock runs and no request waits."""
    if lifecycle.held(where.case):
        return "case_held"
    if await _pending_deferral(where) is not None:
        return "deferral_pending"
    return None


async def _pending_deferral(where: Where) -> Any:
    return await where.once("deferral", lambda: lifecycle.pending_deferral(where.uow, where.case))


async def _pending_return(where: Where) -> Any:
    return await where.once("dispute", lambda: duty.pending(where.uow, where.case))


async def _is_held(where: Where) -> str | None:
    return None if lifecycle.on_hold(where.case) else "case_not_held"


async def _decidable(where: Where) -> str | None:
    """A request waits, and the one deciding is not the one who asked."""
    request = await _pending_deferral(where)
    if request is None:
        return "deferral_none"
    who = where.user_id if where.user_id is not None else where.chat_id
    if who is not None and request.asked_by == who:
        return "deferral_own"
    if where.user_id is not None and not lifecycle.may_decide(where.uow, where.user_id, where.case):
        return "not_allowed"
    return None


def days_choices(where: Where) -> tuple[int, ...]:
    """The deadlines (days) a supervisor picks from (`settings.supervise_days`)."""
    return tuple(where.uow.settings.supervise_days)


async def _may_supervise(where: Where) -> str | None:
    """Supervision is a supervisor's on someone else's case, once: never on the owner's own
    card or desk, nor on a case already under supervision."""
    case = where.case
    if case.supervised_at is not None:
        return "already_supervised"
    person = where.user_id if where.user_id is not None else where.chat_id
    if person is None or person == case.owner_id or person == case.owner_chat_id:
        return "supervise_own_case"
    if not policy.may(where.uow, person, Capability.SUPERVISE):
        return "not_allowed"
    return None


async def _offerable(where: Where) -> str | None:
    """Offered once, where the case's community has organisations that joined."""
    from bot.services.participation import volunteers

    grid = where.uow.routing.gridmap.grids.get(where.case.grid_id)
    if not await volunteers.any_joined(where.uow, grid.community_id if grid else ""):
        return "offer_org_none"
    if await volunteers.offered_before(where.uow, where.case.id):
        return "offer_org_done"
    return None


async def _call_back_due(where: Where) -> str | None:
    """Offered while a reminder to call the resident back waits (phone hear-back only)."""
    due = await where.once("call_back", lambda: staff_intake.call_back_due(where.uow, where.case))
    return None if due else "called_back_none"


def choices(where: Where, action: StaffAction, ask: Asks) -> list[str]:
    """The values offered for a REASON or DAYS answer (buttons on the card, a select box)."""
    if ask is Asks.REASON:
        return list(lifecycle.HOLD_REASONS)
    if ask is Asks.DAYS and action.days_of:
        return [str(d) for d in lifecycle.day_choices(where.uow, action.days_of)]
    if ask is Asks.DAYS:  # a supervision deadline
        return [str(d) for d in days_choices(where)]
    if ask is Asks.CLAUSE:  # a return: the clauses naming another owner
        return [c.id for c in duty.offered_clauses(where.uow, where.case)]
    return []


FAIR_CLOCK_ACTIONS: tuple[StaffAction, ...] = (
    StaffAction(
        name="hold",
        code="hld",
        asks=(Asks.REASON, Asks.DAYS, Asks.TEXT),
        capability=Capability.ACT,
        statuses=AWAITING_ACCEPT | WORKING,
        run=lifecycle.ask_hold,
        button="btn_hold",
        prompt="hold_note",
        prompt_text="staff_prompt_hold",
        rule=_may_defer,
        text_field="note",
        text_label="desk_hold_note",
        steps=("hlr", "hlu", "hlb"),
        days_of="hold",
    ),
    StaffAction(
        name="release",
        code="rls",
        asks=(),
        capability=Capability.ACT,
        statuses=AWAITING_ACCEPT | WORKING,
        run=lifecycle.release_hold,
        button="btn_release",
        done="released_ok",
        rule=_is_held,
    ),
    StaffAction(
        name="extend",
        code="ext",
        asks=(Asks.DAYS, Asks.TEXT),
        capability=Capability.ACT,
        statuses=AWAITING_ACCEPT | WORKING,
        run=lifecycle.ask_extension,
        button="btn_extend",
        prompt="extend_reason",
        prompt_text="staff_prompt_extend",
        rule=_may_defer,
        text_label="desk_extend_reason",
        steps=("exd", "exb"),
        days_of="extend",
    ),
    StaffAction(
        name="approve",
        code="apv",
        asks=(),
        capability=Capability.APPROVE,
        statuses=AWAITING_ACCEPT | WORKING,
        run=lifecycle.approve_deferral,
        button="btn_approve",
        done="deferral_approved_ok",
        rule=_decidable,
        once=True,
    ),
    StaffAction(
        name="decline",
        code="dcl",
        asks=(),
        capability=Capability.APPROVE,
        statuses=AWAITING_ACCEPT | WORKING,
        run=lifecycle.decline_deferral,
        button="btn_decline",
        done="deferral_declined_ok",
        rule=_decidable,
        once=True,
    ),
)
# --- end of fair clocks ------------------------------------------------------------------------

# --- joint handling and summons (吹哨报到) ------------------------------------------------------


async def helpers(where: Where) -> list[Any]:
    """Who may be added as a co-handler or summoned here (`joint.helpers`)."""
    person = where.user_id if where.user_id is not None else where.chat_id
    return await where.once("helpers", lambda: joint.helpers(where.uow, where.case, person))


async def _has_helpers(where: Where) -> str | None:
    return None if await helpers(where) else "no_helper"


async def _tasks_settled(where: Where) -> str | None:
    """The lead resolves once every co-handler's task is done or waived."""
    open_tasks = await where.once("open_tasks", lambda: joint.open_count(where.uow, where.case))
    return "tasks_open" if open_tasks else None


JOINT_ACTIONS: tuple[StaffAction, ...] = (
    StaffAction(
        name="cohandler",
        code="coh",
        asks=(Asks.HELPER, Asks.TEXT),
        capability=Capability.ACT,
        statuses=AWAITING_ACCEPT | WORKING,
        run=lifecycle.add_cohandler,
        button="btn_cohandler",
        prompt="cohandler_task",
        prompt_text="staff_prompt_cohandler",
        rule=_has_helpers,
        text_field="task",
        text_label="desk_task_text",
        steps=("cht", "chb"),
    ),
    StaffAction(
        name="summon",
        code="smn",
        asks=(Asks.HELPER, Asks.TEXT),
        capability=Capability.SUMMON,
        statuses=AWAITING_ACCEPT | WORKING,
        run=lifecycle.summon,
        button="btn_summon",
        prompt="summon_task",
        prompt_text="staff_prompt_summon",
        rule=_has_helpers,
        text_field="task",
        text_label="desk_task_text",
        steps=("smt", "smb"),
    ),
)
# --- end of joint handling ---------------------------------------------------------------------


# --- hand-offs received from a link (cases/intake.py): first contact made -------------------


async def _contact_due(where: Where) -> str | None:
    """Offered on a received hand-off whose first contact is not yet recorded."""
    return None if await intake.contact_open(where.uow, where.case) else "not_a_handoff"


HANDOFF_ACTIONS: tuple[StaffAction, ...] = (
    StaffAction(
        name="handoff_contacted",
        code="hoc",
        asks=(),
        capability=Capability.ACT,
        statuses=AWAITING_ACCEPT | WORKING,
        run=lifecycle.handoff_contacted,
        button="btn_handoff_contacted",
        done="handoff_contacted_ok",
        rule=_contact_due,
    ),
)
# --- end of hand-offs ----------------------------------------------------------------------------


# --- whose duty: a return citing the duty list, and the adjudicator's one ruling ------------


async def _may_return(where: Where) -> str | None:
    """Only the case's owner returns it, citing a clause that names another owner, once."""
    if where.user_id is None:  # the card in the owner's chat (a party's group too)
        ok = where.chat_id is not None and where.chat_id == where.case.owner_chat_id
    else:  # the one who pressed, or the desk's person
        ok = duty.may_return(where.uow, where.user_id, where.case)
    if not ok:
        return "return_owner_only"
    if await _pending_return(where) is not None:
        return "return_pending"
    if not duty.offered_clauses(where.uow, where.case):
        return "return_no_clause"
    return None


async def _may_rule(where: Where) -> str | None:
    """A return waits, and this person is its adjudicator (the desk; the chat's `du:`)."""
    dispute = await _pending_return(where)
    if dispute is None:
        return "dispute_none"
    if where.user_id is None or not duty.may_rule(where.uow, where.user_id, dispute, where.case):
        return "not_allowed"
    return None


def _ruling(name: str, run: Callable[..., Awaitable[Any]]) -> StaffAction:
    """A ruling at the desk; in the chat the adjudicator's message carries `du:` buttons."""
    return StaffAction(
        name=name,
        code=None,
        asks=(Asks.TEXT,),
        capability=Capability.OVERSEE,
        statuses=AWAITING_ACCEPT | WORKING,
        run=run,
        rule=_may_rule,
        text_label="desk_ruling_reason",
        once=True,
    )


DUTY_ACTIONS: tuple[StaffAction, ...] = (
    StaffAction(
        name="return",
        code="rtn",
        asks=(Asks.CLAUSE, Asks.TEXT),
        capability=Capability.ACT,
        statuses=AWAITING_ACCEPT | WORKING,
        run=lifecycle.return_case,
        button="btn_return",
        prompt="return_reason",
        prompt_text="staff_prompt_return",
        rule=_may_return,
        text_label="desk_return_reason",
        steps=("rtc", "rtb"),
    ),
    _ruling("rule_reassign", lifecycle.rule_reassign),
    _ruling("rule_amend", lifecycle.rule_amend),
    _ruling("rule_uphold", lifecycle.rule_uphold),
)
# --- end of whose duty ------------------------------------------------------------------------

HANDLED = AWAITING_ACCEPT | WORKING


async def _may_report_up(where: Where) -> str | None:
    """Only where the map names a superior, and not while the case is with a link already."""
    if where.uow.routing.gridmap.links.superior is None:
        return "report_up_no_superior"
    return "report_up_already" if where.case.reminded == "top:link" else None


ACTIONS: tuple[StaffAction, ...] = (
    StaffAction(
        name="accept",
        code="acc",
        asks=(),
        capability=Capability.ACT,
        statuses=AWAITING_ACCEPT,
        run=lifecycle.accept,
        button="btn_accept",
        done="accepted_ok",
        rule=_party_accepts,
    ),
    StaffAction(
        name="ask",
        code="ask",
        asks=(Asks.TEXT,),
        capability=Capability.ACT,
        statuses=HANDLED,
        run=lifecycle.ask,
        button="btn_ask",
        prompt="ask",
        prompt_text="staff_prompt_ask",
        rule=_has_resident,
        text_field="question",
        text_label="desk_ask_question",
    ),
    StaffAction(
        name="transfer",
        code="trf",
        asks=(Asks.TARGET, Asks.TEXT),
        capability=Capability.ACT,
        statuses=HANDLED,
        run=lifecycle.transfer,
        button="btn_transfer",
        prompt="transfer_reason",
        prompt_text="staff_prompt_transfer",
        rule=_has_targets,
        steps=("tgt", "back"),
    ),
    StaffAction(
        name="resolve",
        code="res",
        asks=(Asks.TEXT, Asks.PHOTO),
        capability=Capability.ACT,
        statuses=HANDLED,
        run=lifecycle.resolve,
        button="btn_resolve",
        rule=_tasks_settled,
        prompt="resolve_note",
        prompt_text="staff_prompt_resolve",
        text_field="note",
        text_label="desk_resolve_note",
        prompt_codes=("skip",),
    ),
    StaffAction(
        name="reject",
        code="rej",
        asks=(Asks.TEXT,),
        capability=Capability.ACT,
        statuses=HANDLED,
        run=lifecycle.reject,
        button="btn_reject",
        prompt="reject_reason",
        prompt_text="staff_prompt_reject",
        confirms=True,
        text_label="desk_reject_reason",
        prompt_codes=("rjy", "rjn"),
    ),
    StaffAction(
        name="public_note",
        code="pub",
        asks=(Asks.TEXT,),
        capability=Capability.ACT,
        statuses=lifecycle.PUBLISHED,
        run=lifecycle.publish_note,
        button="btn_public_note",
        prompt="public_note",
        prompt_text="staff_prompt_public_note",
        text_field="public_note",
        text_label="desk_public_note_text",
    ),
    StaffAction(
        name="category",
        code="cat",
        asks=(Asks.CATEGORY,),
        capability=Capability.TRIAGE,
        statuses=frozenset({Status.TRIAGE}),
        run=lifecycle.triage_set_category,
        done="category_changed",
        steps=("catm",),  # More…: the card offers the top three first, then the whole list
    ),
    # Supervision (督办): a deadline of its own, then a short reason the owner reads.
    StaffAction(
        name="supervise",
        code="sup",
        asks=(Asks.DAYS, Asks.TEXT),
        capability=Capability.SUPERVISE,
        statuses=HANDLED,
        run=lifecycle.supervise,
        button="btn_supervise",
        prompt="supervise_reason",
        prompt_text="staff_prompt_supervise",
        rule=_may_supervise,
        text_label="desk_supervise_reason",
        steps=("sdd", "sdb"),
    ),
    StaffAction(
        name="reassign",
        code=None,
        asks=(Asks.MEMBER, Asks.TEXT),
        capability=Capability.REASSIGN,
        statuses=HANDLED,
        run=lifecycle.reassign_to,
        rule=_has_members,
    ),
    # Internal notes: staff only, on any case (its own table; never the resident's).
    StaffAction(
        name="note",
        code="nte",
        asks=(Asks.TEXT, Asks.MENTION),
        capability=Capability.ACT,
        statuses=frozenset(Status),
        run=lifecycle.write_note,
        button="btn_note",
        prompt="note",
        prompt_text="staff_prompt_note",
        text_field="note_text",
        text_label="desk_note_text",
    ),
    # Organisations: the case offered to those that joined its community (once), without the
    # resident: its category, the approved public description, its grid.
    StaffAction(
        name="offer_org",
        code="org",
        asks=(),
        capability=Capability.OFFER,
        statuses=AWAITING_ACCEPT | WORKING,
        run=lifecycle.offer_to_organisations,
        button="btn_offer_org",
        done="offer_org_ok",
        rule=_offerable,
        in_reach=True,
    ),
    # An assisted case whose resident hears back by phone: the owner called them back after
    # the steps they were reminded of (`staff_intake.remind_call_back`).
    StaffAction(
        name="called_back",
        code="cbk",
        asks=(),
        capability=Capability.ACT,
        statuses=frozenset(Status),
        run=lifecycle.called_back,
        button="btn_called_back",
        done="called_back_ok",
        rule=_call_back_due,
    ),
    # Report up (上报): a leader hands the case to the deployment's superior (cases/handoffs.py).
    StaffAction(
        name="report_up",
        code="rup",
        asks=(),
        capability=Capability.SUPERVISE,
        statuses=HANDLED,
        run=lifecycle.report_up,
        button="btn_report_up",
        done="report_up_ok",
        rule=_may_report_up,
    ),
    *FAIR_CLOCK_ACTIONS,
    *JOINT_ACTIONS,
    *DUTY_ACTIONS,
    *HANDOFF_ACTIONS,
)

BY_NAME: dict[str, StaffAction] = {a.name: a for a in ACTIONS}
# Codes a person who only sees the case may press (`in_reach`): authorised by `may_view`.
REACH_CODES: frozenset[str] = frozenset(a.code for a in ACTIONS if a.in_reach and a.code)
BY_CODE: dict[str, StaffAction] = {a.code: a for a in ACTIONS if a.code}
# Codes of a row's later steps on the card (a transfer's target, its Back).
BY_STEP: dict[str, StaffAction] = {s: a for a in ACTIONS for s in a.steps}
# Every code pressed on a card itself (the pressed copy becomes the chat's live copy).
CARD_CODES: frozenset[str] = frozenset(BY_CODE) | frozenset(BY_STEP)


async def refusal(where: Where, action: StaffAction) -> tuple[str, dict[str, Any]] | None:
    """Why `action` cannot be offered or run here, as (label, data); None when it can."""
    case = where.case
    if case.status not in action.statuses:
        return "case_wrong_state", {"status": case.status}
    if where.user_id is not None:
        role = policy.role_of(where.uow, where.user_id)
        if not policy.role_may(role, action.capability):
            return "not_allowed", {}
    elif where.chat_id is not None and where.chat_id > 0:
        role = policy.role_of(where.uow, where.chat_id)
        if role is not None and not policy.role_may(role, action.capability):
            return "not_allowed", {}
    if action.rule is not None:
        key = await action.rule(where)
        if key is not None:
            return key, {}
    return None


async def offered(where: Where) -> list[StaffAction]:
    """The actions offered here, in the table's order."""
    return [a for a in ACTIONS if await refusal(where, a) is None]


def may_run(uow: UnitOfWork, user_id: int, case: Case, action: StaffAction) -> bool:
    """Whether this person may run the action on this case at all: those who work the case
    (`access.may_act`), and for an `in_reach` row staff who see it (`access.may_view`)."""
    if access.may_act(uow, user_id, case):
        return True
    return (
        action.in_reach
        and policy.role_of(uow, user_id) is not None
        and access.may_view(uow, user_id, case)
    )


async def offered_to(uow: UnitOfWork, user_id: int, case: Case) -> list[StaffAction]:
    """The actions offered to a signed-in person on a case (the desk's case page)."""
    where = Where(uow, case, user_id=user_id)
    return [a for a in await offered(where) if may_run(uow, user_id, case, a)]


async def check(where: Where, action: StaffAction) -> None:
    """Refuse a press or a form for an action that would not be offered (callback data and
    forms are untrusted; a card may be older than the case)."""
    refused = await refusal(where, action)
    if refused is not None:
        raise access.CaseActionError(refused[0], **refused[1])


async def perform(
    uow: UnitOfWork, user_id: int, case: Case, action: StaffAction, *answers: Any
) -> Any:
    """Run the action for this person, after the same check its offer made."""
    if not may_run(uow, user_id, case, action):
        raise access.CaseActionError("not_allowed")
    await check(Where(uow, case, user_id=user_id), action)
    if len(answers) != len(action.asks):
        raise access.CaseActionError("not_allowed")
    return await action.run(uow, user_id, case, *answers)
