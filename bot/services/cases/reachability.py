"""Residents who blocked the bot: staff are warned, and the resident is caught up on return.

The sender finds out that a person blocked the bot when a message to them is refused
(`mark_unreachable`). Any update from them afterwards means they can be reached again
(`reachable_again`): the messages that were refused meanwhile are sent again, in order,
before the answer to what they just wrote.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.clock import wall_now
from bot.services.cases.views import OPEN, refresh_card
from bot.services.participation import announcements
from bot.services.shared import dialogue
from bot.services.shared.domain import UnitOfWork
from bot.services.shared.languages import chat_language
from bot.store.models import Case, CaseEvent, OutboxMessage, User

# Missed messages older than this are not sent again (the case has moved on long since).
RESEND_WINDOW = timedelta(days=30)
RESEND_LIMIT = 50


async def mark_unreachable(
    uow: UnitOfWork, user_id: int, case_ids: set[int], unanswered: set[int]
) -> None:
    """Messages to `user_id` were refused. Their cards warn the staff (once, when the person
    turns unreachable), and a question they never received is not waiting for an answer:
    `unanswered` are the cases whose question was among the refused messages."""
    user = await uow.session.get(User, user_id)
    if user is None:
        return
    newly = not user.unreachable
    user.unreachable = True
    data = user.state_data or {}
    if user.state == dialogue.Prompt.ANSWER and data.get("case_id") in unanswered:
        await dialogue.end(uow, user, tell=False)
    if unanswered:
        waiting = [
            d for d in data.get(dialogue.DEFERRED) or [] if d.get("case_id") not in unanswered
        ]
        user.state_data = {**(user.state_data or {}), dialogue.DEFERRED: waiting}
    await _not_delivered(uow, unanswered)
    if not newly or not uow.domain.has_routing:
        return
    for case in await _open_cases(uow, user_id, case_ids):
        if case.owner_chat_id is None:
            continue
        await refresh_card(uow, case, case.owner_chat_id)
        uow.outbox.send(
            case.owner_chat_id,
            await chat_language(uow, case.owner_chat_id),
            "resident_unreachable",
            case_id=case.id,
            case=case,
        )


def sent_ref(case_id: int, asker: int) -> str:
    """The name of the "sent to the resident" note an asker reads after a question."""
    return f"sent:{case_id}:{asker}"


async def _not_delivered(uow: UnitOfWork, unanswered: set[int]) -> None:
    """The asker read "sent" before the refusal was known: that note now says it waits."""
    for case_id in sorted(unanswered):
        case = await uow.session.get(Case, case_id)
        asker = (
            await uow.session.execute(
                select(CaseEvent.actor_id)
                .where(CaseEvent.case_id == case_id, CaseEvent.kind == "asked")
                .order_by(CaseEvent.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if case is None or not asker:
            continue
        uow.outbox.edit(
            sent_ref(case_id, asker),
            asker,
            await chat_language(uow, asker),
            "staff_resident_unreachable",
            case=case,
        )


async def questions_resent(uow: UnitOfWork, user: User, case_ids: list[int]) -> None:
    """After the update that brought the resident back is handled: the latest question sent
    again says "your next message goes to them", so its answer prompt arms now (or waits for
    a report being written, like any staff question)."""
    for case_id in reversed(case_ids):
        case = await uow.session.get(Case, case_id)
        if case is not None and case.resident_id == user.id and case.status == "needs_info":
            dialogue.ask_resident(uow, user, case.id)
            return


async def reachable_again(uow: UnitOfWork, user: User) -> list[int]:
    """The person wrote (or pressed, or unblocked the bot): they can be reached again. The
    messages refused meanwhile are queued again ahead of anything new. Returns the cases
    whose questions were sent again, oldest first (`questions_resent` arms the latest once
    this update is handled: the message that brought them back is their own)."""
    user.unreachable = False
    missed = list(
        (
            await uow.session.execute(
                select(OutboxMessage)
                .where(
                    OutboxMessage.chat_id == user.id,
                    OutboxMessage.status == "blocked",
                    OutboxMessage.campaign.is_(None),
                    OutboxMessage.created_at >= uow.now - RESEND_WINDOW,
                )
                .order_by(OutboxMessage.id.desc())
                .limit(RESEND_LIMIT)
            )
        )
        .scalars()
        .all()
    )
    missed += await announcements.refused_while_blocked(uow, user.id, uow.now - RESEND_WINDOW)
    if not uow.domain.sqlite:
        # Messages queued for them meanwhile and not tried yet wait for this transaction too
        # (a sender skips locked rows): they must not overtake the ones sent again.
        await uow.session.execute(
            select(OutboxMessage.id)
            .where(OutboxMessage.chat_id == user.id, OutboxMessage.status == "pending")
            .with_for_update()
        )
    now = wall_now()
    for row in missed:
        row.status, row.attempts, row.error = "pending", 0, None
        row.locked_until, row.next_attempt_at = None, now
    if missed:
        uow.outbox.send(user.id, user.language, "missed_updates", count=len(missed))
    questions = [
        row.case_id
        for row in sorted(missed, key=lambda r: r.id)
        if row.case_id and (row.ref or "").startswith("q:")
    ]
    if not uow.domain.has_routing:
        return questions
    for case in await _open_cases(uow, user.id, None):
        if case.owner_chat_id is not None:
            await refresh_card(uow, case, case.owner_chat_id)  # the warning goes
    return questions


async def _open_cases(uow: UnitOfWork, user_id: int, case_ids: set[int] | None) -> list[Case]:
    stmt = select(Case).where(Case.resident_id == user_id, Case.status.in_(OPEN))
    if case_ids is not None:
        if not case_ids:
            return []
        stmt = stmt.where(Case.id.in_(sorted(case_ids)))
    return list((await uow.session.execute(stmt.order_by(Case.id))).scalars().all())
