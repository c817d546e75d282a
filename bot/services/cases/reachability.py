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
from bot.services.cases.views import OPEN, chat_language, refresh_card
from bot.services.people.residents import set_state
from bot.services.shared.domain import UnitOfWork
from bot.store.models import Case, OutboxMessage, User

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
    if user.state == "answer" and data.get("case_id") in unanswered:
        set_state(user, None)
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


async def reachable_again(uow: UnitOfWork, user: User) -> int:
    """The person wrote (or pressed, or unblocked the bot): they can be reached again. The
    messages refused meanwhile are queued again ahead of anything new; returns how many."""
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
    now = wall_now()
    for row in missed:
        row.status, row.attempts, row.error = "pending", 0, None
        row.locked_until, row.next_attempt_at = None, now
    if missed:
        uow.outbox.send(user.id, user.language, "missed_updates", count=len(missed))
    if not uow.domain.has_routing:
        return len(missed)
    for case in await _open_cases(uow, user.id, None):
        if case.owner_chat_id is not None:
            await refresh_card(uow, case, case.owner_chat_id)  # the warning goes
    return len(missed)


async def _open_cases(uow: UnitOfWork, user_id: int, case_ids: set[int] | None) -> list[Case]:
    stmt = select(Case).where(Case.resident_id == user_id, Case.status.in_(OPEN))
    if case_ids is not None:
        if not case_ids:
            return []
        stmt = stmt.where(Case.id.in_(sorted(case_ids)))
    return list((await uow.session.execute(stmt.order_by(Case.id))).scalars().all())
