"""Scheduled work found from the database: reminders, escalations, auto-close, follow-ups.

Deadlines live in the case rows, so a restart or several replicas neither lose nor double
an escalation: each case is re-read under a row lock and its condition checked again
inside the transaction that acts on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.clock import ManualClock, as_utc, wall_now
from bot.services.cases import duty, intake, verification
from bot.services.cases import lifecycle as case_service
from bot.services.cases.status import AWAITING_ACCEPT, OPEN
from bot.services.cases.views import card_data
from bot.services.participation import consultations, proposals
from bot.services.shared.domain import Domain, UnitOfWork
from bot.services.shared.languages import chat_language
from bot.services.shared.outbox import Button
from bot.store.models import (
    Case,
    CaseDispute,
    CaseIntake,
    CaseTask,
    Consultation,
    InboxUpdate,
    OutboxMessage,
    Proposal,
    Verification,
)
from routing.deadlines import reminder_due, reminder_horizon

log = logging.getLogger(__name__)

Action = Callable[[UnitOfWork, Case], Awaitable[bool]]

#: The reminders among the due conditions, and the deadline each reminds of.
REMINDERS = {"remind_accept": "accept", "remind_resolve": "resolve"}


def _due_conditions(now: datetime, domain: Domain) -> dict[str, object]:
    s = domain.settings
    # On working time a reminder may be due days ahead of a deadline (across a weekend or a
    # holiday run): a wider bound for normal cases; `reminder_due` decides each case.
    horizon = reminder_horizon(domain.routing.gridmap, now, s.reminder_before)

    def near(deadline: InstrumentedAttribute[datetime | None]) -> object:
        return or_(
            deadline <= now + s.reminder_before,
            and_(Case.priority != "urgent", deadline <= horizon),
        )

    running = Case.held_since.is_(
        None
    )  # a held case's clock stands still: no reminder, no escalation
    return {
        # A hold reaches its end (or a question its longest wait): the clock runs again.
        "hold_over": and_(Case.held_until.is_not(None), Case.held_until <= now),
        "escalate_accept": and_(
            running,
            Case.status.in_(AWAITING_ACCEPT),
            Case.accept_by <= now,
            or_(Case.reminded.is_(None), ~Case.reminded.like("top:%")),
        ),
        "escalate_resolve": and_(
            running,
            Case.status == "accepted",
            Case.resolve_by <= now,
            or_(Case.reminded.is_(None), ~Case.reminded.like("top:%")),
        ),
        "remind_accept": and_(
            running,
            Case.status.in_(AWAITING_ACCEPT),
            Case.accept_by > now,
            near(Case.accept_by),
            Case.reminded.is_(None),
        ),
        "remind_resolve": and_(
            running,
            Case.status == "accepted",
            Case.resolve_by > now,
            near(Case.resolve_by),
            or_(Case.reminded.is_(None), Case.reminded == "accept"),
        ),
        # Unrated: closed after a silence. Rated: kept resolved until the reopen window ends.
        "auto_close": and_(
            Case.status == "resolved",
            or_(
                and_(Case.rating.is_(None), Case.resolved_at <= now - s.auto_close_after),
                Case.resolved_at <= now - max(s.auto_close_after, s.reopen_window),
            ),
        ),
        # Supervision (督办): the supervision deadline passed while the case is open.
        "supervision_missed": and_(
            Case.supervise_by <= now,
            Case.supervise_missed_at.is_(None),
            Case.status.in_(sorted(OPEN)),
        ),
        "follow_up": and_(
            Case.status == "closed",
            Case.id.not_in(select(Verification.case_id)),  # a drawn case gets its check instead
            Case.rating.is_not(None) | Case.resolved_at.is_not(None),
            Case.closed_at <= now - s.follow_up_after,
            Case.reminded.is_(None),
        )
        if s.follow_up_after
        else None,
    }


async def run_due(domain: Domain) -> int:
    """One pass over everything due now. Returns how many cases were acted on.

    What is due is looked for in ONE read-only transaction (a pass usually finds nothing);
    each thing found is then acted on in its own transaction, which re-reads it under lock."""
    if not domain.has_routing:
        await domain.reload_routing()
        if not domain.has_routing:
            return 0
    now = domain.clock.now()
    async with domain.reading() as session:
        cases = await _find_cases(session, domain, now)
        verifications = await _find(session, Verification.id, _verification_due(now))
        tasks = await _find(session, CaseTask.id, _task_due(now))
        disputes = list((await session.execute(duty.due_query(now).limit(500))).scalars().all())
        intakes = await _find(session, CaseIntake.case_id, intake.due(now))
    done = 0
    for name, ids in cases:
        for case_id in ids:
            if await _act(domain, name, case_id):
                done += 1
    return (
        done
        + await _run_verifications(domain, verifications)
        + await _run_tasks(domain, tasks)
        + await _run_disputes(domain, disputes)
        + await _run_intakes(domain, intakes)
    )


async def _find(
    session: AsyncSession, column: Any, conditions: dict[str, Any]
) -> list[tuple[str, list[int]]]:
    """The ids (`column`) each named condition (a clause, or a tuple of them) holds for, up to
    500 each, in order; only the names that found any."""
    found: list[tuple[str, list[int]]] = []
    for name, condition in conditions.items():
        where = condition if isinstance(condition, tuple) else (condition,)
        query = select(column).where(*where).order_by(column).limit(500)
        ids = list((await session.execute(query)).scalars().all())
        if ids:
            found.append((name, ids))
    return found


async def _find_cases(
    session: AsyncSession, domain: Domain, now: datetime
) -> list[tuple[str, list[int]]]:
    """The cases each scheduled action is due for now, by the action's name."""
    found: list[tuple[str, list[int]]] = []
    for name, condition in _due_conditions(now, domain).items():
        if condition is None:
            continue
        if name in REMINDERS:
            # the query's bound is wide (working time): keep only the cases whose reminder
            # is due now, so a pass with nothing to remind opens no transaction
            which = REMINDERS[name]
            deadline = Case.accept_by if which == "accept" else Case.resolve_by
            rows = (
                await session.execute(
                    select(Case.id, Case.category, Case.priority, deadline)
                    .where(condition)
                    .order_by(Case.id)
                    .limit(500)
                )
            ).all()
            ids = [
                case_id
                for case_id, category, priority, at in rows
                if at is not None
                and reminder_due(
                    domain.routing.gridmap,
                    category,
                    priority,
                    which,
                    as_utc(at),  # type: ignore[arg-type]
                    now,
                    domain.settings.reminder_before,
                )
            ]
            if ids:
                found.append((name, ids))
        else:
            found += await _find(session, Case.id, {name: condition})
    return found


def _verification_due(now: datetime) -> dict[str, Any]:
    """Checks of closures (cases/verification.py): to ask, and unanswered past their time."""
    return {
        "verify_ask": and_(
            Verification.outcome.is_(None),
            Verification.asked_at.is_(None),
            Verification.ask_at <= now,
        ),
        "verify_expire": and_(
            Verification.outcome.is_(None),
            Verification.asked_at.is_not(None),
            Verification.expires_at <= now,
        ),
    }


async def _run_verifications(domain: Domain, found: list[tuple[str, list[int]]]) -> int:
    done = 0
    for name, ids in found:
        for v_id in ids:
            async with domain.unit() as uow:
                stmt = select(Verification).where(
                    Verification.id == v_id, _verification_due(uow.now)[name]
                )
                if not domain.sqlite:
                    stmt = stmt.with_for_update(skip_locked=True)
                v = (await uow.session.execute(stmt)).scalar_one_or_none()
                if v is None:
                    continue  # someone else did it, or it is no longer due
                act = verification.ask if name == "verify_ask" else verification.expire
                done += 1 if await act(uow, v) else 0
    return done


# Joint handling and summons (吹哨报到): a co-handler's missed deadlines, found from their rows
# (`case_tasks`), re-read under lock and acted on once (`lifecycle.miss_task`).
def _task_due(now: datetime) -> dict[str, Any]:
    # An open task of an open case (a declined or withdrawn case's tasks wait for nobody).
    is_open = and_(
        CaseTask.status == "open",
        CaseTask.case_id.in_(select(Case.id).where(Case.status.in_(sorted(OPEN)))),
    )
    return {
        "sign": and_(
            is_open,
            CaseTask.sign_by <= now,
            CaseTask.signed_at.is_(None),
            CaseTask.sign_missed_at.is_(None),
        ),
        "contact": and_(
            is_open,
            CaseTask.contact_by <= now,
            CaseTask.contacted_at.is_(None),
            CaseTask.contact_missed_at.is_(None),
        ),
        "overdue": and_(is_open, CaseTask.due_at <= now, CaseTask.overdue_at.is_(None)),
    }


async def _run_tasks(domain: Domain, found: list[tuple[str, list[int]]]) -> int:
    done = 0
    for which, ids in found:
        for task_id in ids:
            async with domain.unit() as uow:
                stmt = select(CaseTask).where(CaseTask.id == task_id, _task_due(uow.now)[which])
                if not domain.sqlite:
                    stmt = stmt.with_for_update(skip_locked=True)
                task = (await uow.session.execute(stmt)).scalar_one_or_none()
                if task is None:
                    continue  # someone else did it, or it is no longer due
                done += 1 if await case_service.miss_task(uow, task, which) else 0
    return done


async def _run_disputes(domain: Domain, ids: list[int]) -> int:
    """Returns not ruled by their deadline (cases/duty.py): escalated once, re-read under lock."""
    done = 0
    for d_id in ids:
        async with domain.unit() as uow:
            stmt = select(CaseDispute).where(CaseDispute.id == d_id, *duty.due(uow.now))
            if not domain.sqlite:
                stmt = stmt.with_for_update(skip_locked=True)
            dispute = (await uow.session.execute(stmt)).scalar_one_or_none()
            if dispute is None:
                continue  # ruled meanwhile, or another replica did it
            done += 1 if await duty.overdue(uow, dispute) else 0
    return done


async def _run_intakes(domain: Domain, found: list[tuple[str, list[int]]]) -> int:
    """Hand-offs received from a link not signed for or contacted in time (cases/intake.py):
    each counted once and escalated, re-read under lock."""
    done = 0
    for which, ids in found:
        for case_id in ids:
            async with domain.unit() as uow:
                stmt = select(CaseIntake).where(
                    CaseIntake.case_id == case_id,
                    *intake.due(uow.now)[which],  # type: ignore[arg-type]
                )
                if not domain.sqlite:
                    stmt = stmt.with_for_update(skip_locked=True)
                row = (await uow.session.execute(stmt)).scalar_one_or_none()
                if row is None:
                    continue
                done += 1 if await intake.miss(uow, row, which) else 0
    return done


async def _act(domain: Domain, name: str, case_id: int) -> bool:
    async with domain.unit() as uow:
        stmt = select(Case).where(Case.id == case_id, _due_conditions(uow.now, domain)[name])  # type: ignore[arg-type]
        if not domain.sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        case = (await uow.session.execute(stmt)).scalar_one_or_none()
        if case is None:
            return False  # someone else did it, or it is no longer due
        return await ACTIONS[name](uow, case)


async def _escalate_accept(uow: UnitOfWork, case: Case) -> bool:
    return await case_service.escalate_case(uow, case, "accept")


async def _escalate_resolve(uow: UnitOfWork, case: Case) -> bool:
    return await case_service.escalate_case(uow, case, "resolve")


async def _remind(uow: UnitOfWork, case: Case, which: str) -> bool:
    deadline = case.accept_by if which == "accept" else case.resolve_by
    if deadline is None or not reminder_due(
        uow.routing.gridmap,
        case.category,
        case.priority,
        which,
        deadline,
        uow.now,
        uow.settings.reminder_before,
    ):
        return False  # not yet half-way, or outside the working time the case counts
    case.reminded = which
    await case_service.record(uow, case, case_service.SYSTEM, "reminder", which=which)
    if case.owner_chat_id is not None:
        uow.outbox.send(
            case.owner_chat_id,
            await chat_language(uow, case.owner_chat_id),
            "reminder",
            case_id=case.id,
            which=which,
            **card_data(uow, case),
        )
    return True


async def _remind_accept(uow: UnitOfWork, case: Case) -> bool:
    return await _remind(uow, case, "accept")


async def _remind_resolve(uow: UnitOfWork, case: Case) -> bool:
    return await _remind(uow, case, "resolve")


async def _auto_close(uow: UnitOfWork, case: Case) -> bool:
    await case_service.auto_close(uow, case)
    await verification.sample(uow, case)  # drawn for a check or not, decided at closing
    return True


async def _supervision_missed(uow: UnitOfWork, case: Case) -> bool:
    return await case_service.miss_supervision(uow, case)


async def _follow_up(uow: UnitOfWork, case: Case) -> bool:
    """Some time after closing: 'is it still fixed?'"""
    case.reminded = "followup"
    await case_service.record(uow, case, case_service.SYSTEM, "follow_up_sent")
    if case.resident_id:
        resident = await uow.session.get(case_service.User, case.resident_id)
        if resident is not None and resident.erased_at is None:
            uow.outbox.send(
                resident.id,
                resident.language,
                "follow_up_question",
                case_id=case.id,
                case=case,
                keyboard=[
                    [
                        Button.of("btn_still_fixed", f"r:still:{case.id}:yes"),
                        Button.of("btn_broken_again", f"r:still:{case.id}:no"),
                    ]
                ],
            )
    return True


async def _hold_over(uow: UnitOfWork, case: Case) -> bool:
    return await case_service.hold_over(uow, case)


ACTIONS: dict[str, Action] = {
    "hold_over": _hold_over,
    "escalate_accept": _escalate_accept,
    "escalate_resolve": _escalate_resolve,
    "remind_accept": _remind_accept,
    "remind_resolve": _remind_resolve,
    "auto_close": _auto_close,
    "supervision_missed": _supervision_missed,
    "follow_up": _follow_up,
}


async def prune(domain: Domain) -> int:
    """Forget processed updates and delivered messages once they can no longer matter.

    Telegram redelivers an update for at most a day, so a week of inbox rows is plenty to
    recognise duplicates; delivered outbox rows are kept a month for delivery reports; an
    Open311 submitter's contact details, and the phone of a resident staff filed a case for,
    a month after their case closed.
    """
    now = wall_now()
    async with domain.unit() as uow:
        done = await uow.session.execute(
            delete(InboxUpdate).where(
                InboxUpdate.status == "done", InboxUpdate.received_at < now - INBOX_KEEP
            )
        )
        sent = await uow.session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.status == "sent", OutboxMessage.created_at < now - OUTBOX_KEEP
            )
        )
        from bot.services.public.open311 import forget_submitters

        contacts = await forget_submitters(uow)
        from bot.services.cases.staff_intake import forget_contacts
        from bot.services.public.open311 import CONTACT_KEEP

        contacts += await forget_contacts(uow, CONTACT_KEEP)
    return (done.rowcount or 0) + (sent.rowcount or 0) + contacts


INBOX_KEEP = timedelta(days=7)
OUTBOX_KEEP = timedelta(days=30)
PRUNE_EVERY = 600.0


async def next_due(domain: Domain) -> datetime | None:
    """The earliest time something scheduled falls due, read cheaply (one statement of
    aggregates over the deadline columns); None when nothing waits. Reminders have no column
    of their own (they depend on working time): the scheduler's longest sleep covers them."""
    s = domain.settings
    running = Case.held_since.is_(None)
    unreminded_top = or_(Case.reminded.is_(None), ~Case.reminded.like("top:%"))
    cs = consultations.ConsultStatus
    # (when the wait started or ends, how long after that it falls due, which rows)
    waits: list[tuple[Any, timedelta, tuple[Any, ...]]] = [
        (Case.held_until, timedelta(0), (Case.held_until.is_not(None),)),
        (Case.accept_by, timedelta(0), (running, Case.status.in_(AWAITING_ACCEPT), unreminded_top)),
        (Case.resolve_by, timedelta(0), (running, Case.status == "accepted", unreminded_top)),
        (
            Case.supervise_by,
            timedelta(0),
            (Case.supervise_missed_at.is_(None), Case.status.in_(sorted(OPEN))),
        ),
        (Case.resolved_at, s.auto_close_after, (Case.status == "resolved",)),
        (
            Verification.ask_at,
            timedelta(0),
            (Verification.outcome.is_(None), Verification.asked_at.is_(None)),
        ),
        (
            Verification.expires_at,
            timedelta(0),
            (Verification.outcome.is_(None), Verification.asked_at.is_not(None)),
        ),
        (CaseTask.sign_by, timedelta(0), (CaseTask.status == "open", CaseTask.signed_at.is_(None))),
        (
            CaseTask.contact_by,
            timedelta(0),
            (CaseTask.status == "open", CaseTask.contacted_at.is_(None)),
        ),
        (CaseTask.due_at, timedelta(0), (CaseTask.status == "open", CaseTask.overdue_at.is_(None))),
        (
            CaseDispute.rule_by,
            timedelta(0),
            (CaseDispute.outcome.is_(None), CaseDispute.escalated_at.is_(None)),
        ),
        (Consultation.opens_at, timedelta(0), (Consultation.status == cs.SCHEDULED,)),
        (Consultation.closes_at, timedelta(0), (Consultation.status == cs.OPEN,)),
        # proposals: the support window's end, then the committee's answer due
        (Proposal.window_ends_at, timedelta(0), (Proposal.status == proposals.Stage.OPEN,)),
        (
            Proposal.answer_due,
            timedelta(0),
            (Proposal.status == proposals.Stage.REACHED, Proposal.late_at.is_(None)),
        ),
        # cases received from a link: sign for them, then make first contact, in time
        (
            CaseIntake.sign_by,
            timedelta(0),
            (CaseIntake.signed_at.is_(None), CaseIntake.sign_missed_at.is_(None)),
        ),
        (
            CaseIntake.contact_by,
            timedelta(0),
            (CaseIntake.contacted_at.is_(None), CaseIntake.contact_missed_at.is_(None)),
        ),
    ]
    if s.follow_up_after:
        waits.append(
            (Case.closed_at, s.follow_up_after, (Case.status == "closed", Case.reminded.is_(None)))
        )
    stmt = select(
        *(select(func.min(column)).where(*where).scalar_subquery() for column, _, where in waits)
    )
    async with domain.reading() as session:
        row = (await session.execute(stmt)).one()
    ends = [
        as_utc(value) + after  # type: ignore[operator]
        for value, (_, after, _) in zip(row, waits, strict=True)
        if value is not None
    ]
    return min(ends) if ends else None


class Scheduler:
    """Runs `run_due`, then sleeps until the next deadline (read from the database), at most
    `scheduler_idle` seconds, and at once when woken (`schedule_changed`: something scheduled
    earlier). Under a clock that moves only when told (tests, demos) it looks every
    `scheduler_interval` seconds instead."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self._stop = asyncio.Event()
        self._pruned_at = 0.0
        #: passes ended, and whether one is running: who changed what a pass reads (a test
        #: moving the clock) knows when a pass that saw the change has ended
        self.passes = 0
        self.running = False

    def stop(self) -> None:
        self._stop.set()
        self.domain.schedule_changed.set()

    async def run(self) -> None:
        while not self._stop.is_set():
            self.domain.schedule_changed.clear()
            self.running = True
            sleep = self.domain.settings.scheduler_interval
            try:
                await self.domain.reload_routing()
                await run_due(self.domain)
                if time.monotonic() - self._pruned_at > PRUNE_EVERY:
                    self._pruned_at = time.monotonic()
                    await prune(self.domain)
                await consultations.run_due(self.domain)
                await proposals.run_due(self.domain)
                sleep = await self.sleep_for()
            except Exception:
                log.exception("scheduler pass failed")
            self.running = False
            self.passes += 1
            try:
                await asyncio.wait_for(self.domain.schedule_changed.wait(), sleep)
            except TimeoutError:
                pass

    async def sleep_for(self) -> float:
        """Seconds until the next pass."""
        s = self.domain.settings
        if isinstance(self.domain.clock, ManualClock):
            return s.scheduler_interval
        longest = min(
            s.scheduler_idle, max(1.0, PRUNE_EVERY - (time.monotonic() - self._pruned_at))
        )
        due = await next_due(self.domain)
        if due is None:
            return longest
        # something due now that was not acted on (no one to escalate to yet): look again later
        return min(
            longest, max(s.scheduler_interval, (due - self.domain.clock.now()).total_seconds())
        )
