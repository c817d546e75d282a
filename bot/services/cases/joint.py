"""Joint handling and summons (吹哨报到): who may help with a case, their tasks, their cards.

A case keeps one lead owner; other parties or members of the map may be added as co-handlers,
each with a task (a short text), a deadline and a status (open → done | waived), one
`CaseTask` row each. A summons (吹哨) is a co-handler with two more deadlines: the summoned
party signs in (报到) within `settings.summons_sign` and makes first contact within
`settings.summons_contact`. The lead resolves only once every task is done or waived.

This module is the read side and the rules of who is whom: the targets offered (the same
map the transfer offers: the grid's members and the parties of its matrix row), the check of
a target against them, whose staff answer a task, and the co-handler's own card. The changes
(add, sign, contact, done, waive, a missed deadline) are lifecycle functions (the last block
of `lifecycle.py`), callable by any edge — the chat's buttons, the desk, or a service acting
for an external party — with the same checks.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from bot.services.cases.views import case_place
from bot.services.people import policy
from bot.services.people.access import CaseActionError, may_act
from bot.services.people.policy import Capability
from bot.services.shared.domain import UnitOfWork
from bot.services.shared.languages import chat_language
from bot.services.shared.outbox import Button, Keyboard
from bot.store.models import Case, CaseTask
from routing.assignment import TransferTarget, transfer_targets

JOINT, SUMMONS = "joint", "summons"
OPEN, DONE, WAIVED = "open", "done", "waived"
TASK_MAX = 300  # a task's text, in characters
# Roles that may summon (吹哨): the grid's own people and those above them, never a party.
SUMMONERS = policy.roles_with(Capability.SUMMON)


def target_of(task: CaseTask) -> str:
    """The task's co-handler as a target string: `p:<party>` or `m:<member>`."""
    return f"p:{task.party_id}" if task.party_id else f"m:{task.member_id}"


async def tasks_of(uow: UnitOfWork, case: Case) -> list[CaseTask]:
    if uow.none_yet(case.id, "case_tasks"):
        return []
    stmt = select(CaseTask).where(CaseTask.case_id == case.id).order_by(CaseTask.id)
    return list((await uow.session.execute(stmt)).scalars().all())


async def open_count(uow: UnitOfWork, case: Case) -> int:
    """How many of the case's tasks are still open (the lead cannot resolve before 0)."""
    if uow.none_yet(case.id, "case_tasks"):
        return 0
    stmt = select(func.count(CaseTask.id)).where(
        CaseTask.case_id == case.id, CaseTask.status == OPEN
    )
    return int((await uow.session.execute(stmt)).scalar_one())


async def helpers(uow: UnitOfWork, case: Case, user_id: int | None) -> list[TransferTarget]:
    """Who may be added to the case (as co-handler or summoned): the grid's members and the
    parties of its matrix row — never the presser, the lead, the lead's party, nor anyone
    with an open task on it already; a party needs a chat for its card."""
    busy = {target_of(t) for t in await tasks_of(uow, case) if t.status == OPEN}
    exclude = {i for i in (user_id, case.owner_id) if i is not None}
    return [
        t
        for t in transfer_targets(
            uow.routing.gridmap, case.grid_id, case.category or "other", exclude
        )
        if f"{t.kind[0]}:{t.id}" not in busy
        and not (t.kind == "party" and (t.id == case.party_id or t.chat_id is None))
    ]


async def check_helper(uow: UnitOfWork, user_id: int, case: Case, target: str) -> TransferTarget:
    """Refuse a target the card or the desk could not have offered this person (forged or
    stale callback data, a form naming another grid's member or an unknown party)."""
    for t in await helpers(uow, case, user_id):
        if f"{t.kind[0]}:{t.id}" == target:
            return t
    raise CaseActionError("not_allowed")


def is_own(uow: UnitOfWork, user_id: int, task: CaseTask) -> bool:
    """Whether this person answers the task: the member named, or the party's own staff."""
    staff = uow.routing.gridmap.staff.get(user_id)
    if staff is None or not staff.active:
        return False
    if task.member_id is not None:
        return staff.telegram_id == task.member_id
    return task.party_id is not None and staff.party_id == task.party_id


def name_of(uow: UnitOfWork, task: CaseTask, lang: str) -> str:
    gridmap = uow.routing.gridmap
    if task.party_id:
        party = gridmap.parties.get(task.party_id)
        return party.name.get(lang) if party else task.party_id
    staff = gridmap.staff.get(task.member_id or 0)
    return staff.name if staff else str(task.member_id)


def task_cb(task: CaseTask, op: str) -> str:
    """`j:<task>:<version>:<op>`: a press on a co-handler's card or the lead's waive button."""
    return f"j:{task.id}:{task.version}:{op}"


def task_keyboard(task: CaseTask) -> Keyboard:
    """The co-handler's buttons: sign in and first contact for a summons (in that order), and
    Done; none once the task is closed."""
    if task.status != OPEN:
        return []
    row: list[Button] = []
    if task.kind == SUMMONS and task.signed_at is None:
        row.append(Button.of("btn_task_sign", task_cb(task, "s")))
    elif task.kind == SUMMONS and task.contacted_at is None:
        row.append(Button.of("btn_task_contact", task_cb(task, "c")))
    row.append(Button.of("btn_task_done", task_cb(task, "d")))
    return [row]


def card_ref(task: CaseTask) -> str:
    return f"task:{task.id}:{task.chat_id}"


async def _card_data(uow: UnitOfWork, case: Case, task: CaseTask, lang: str) -> dict[str, Any]:
    """What a co-handler's card shows: the case's id, category and place (from the map), the
    task and its deadlines — never the resident or their words."""
    return {
        "case": case,
        "t": task,
        "place": case_place(uow, case, lang),
        "lead": _lead_name(uow, case, lang),
    }


def _lead_name(uow: UnitOfWork, case: Case, lang: str) -> str:
    gridmap = uow.routing.gridmap
    party = gridmap.parties.get(case.party_id or "")
    if party is not None:
        return party.name.get(lang)
    owner = gridmap.staff.get(case.owner_id or 0)
    return owner.name if owner else ""


async def send_card(uow: UnitOfWork, case: Case, task: CaseTask) -> None:
    lang = await chat_language(uow, task.chat_id)
    uow.outbox.send(
        task.chat_id,
        lang,
        "task_card",
        keyboard=task_keyboard(task),
        ref=card_ref(task),
        case_id=case.id,
        **await _card_data(uow, case, task, lang),
    )


async def refresh_card(uow: UnitOfWork, case: Case, task: CaseTask) -> None:
    lang = await chat_language(uow, task.chat_id)
    uow.outbox.edit(
        card_ref(task),
        task.chat_id,
        lang,
        "task_card",
        keyboard=task_keyboard(task),
        case_id=case.id,
        **await _card_data(uow, case, task, lang),
    )


def lead_keyboard(task: CaseTask) -> Keyboard:
    """The lead's button under the note that a task was given: waive it (with a reason)."""
    return [[Button.of("btn_task_waive", task_cb(task, "w"))]] if task.status == OPEN else []


async def tasks_for(uow: UnitOfWork, user_id: int) -> list[tuple[CaseTask, Case]]:
    """The open tasks this person answers (as the member named, or their party's staff), with
    their cases, soonest deadline first — the desk's list of one's own tasks."""
    staff = uow.routing.gridmap.staff.get(user_id)
    if staff is None or not staff.active:
        return []
    mine = (
        CaseTask.party_id == staff.party_id
        if staff.party_id
        else CaseTask.member_id == staff.telegram_id
    )
    stmt = (
        select(CaseTask, Case)
        .join(Case, Case.id == CaseTask.case_id)
        .where(CaseTask.status == OPEN, mine)
        .order_by(CaseTask.due_at, CaseTask.id)
        .limit(200)
    )
    return [(t, c) for t, c in (await uow.session.execute(stmt)).all()]


def may_waive(uow: UnitOfWork, user_id: int, case: Case, task: CaseTask) -> bool:
    """The lead's side (whoever may act on the case), never the co-handler themself."""
    return task.status == OPEN and may_act(uow, user_id, case) and not is_own(uow, user_id, task)
