"""Settled labels: the categories a deployment's cases ended in once a person decided.

A case counts when a person settled its category: it was resolved (or closed) in it, or its
category was corrected or confirmed (by the resident, the grid leader, at triage).  Cases
still waiting, rejected or cancelled without a correction say nothing about their category
and are left out.

`settle_label` is the one door through which a person's choice of category is written —
the triage card's and the desk's buttons, the resident's one-tap buttons and their full list
alike: a `Correction` row (what the lexicon learns from) and a `category_changed` (or, when
the choice is the category the case already had, `category_confirmed`) event, in the caller's
transaction.  Anything that must follow a settled label belongs in it.
"""

from __future__ import annotations

from sqlalchemy import or_, select

from bot.config import Settings
from bot.services.cases import lifecycle, neighbours
from bot.services.people.access import CaseActionError
from bot.services.shared.domain import UnitOfWork
from bot.store.db import create_engine, session_factory
from bot.store.models import Case, CaseEvent, Correction

SETTLED = ("resolved", "closed")
# The audit events of a person settling the category.
LABEL_EVENTS = ("category_changed", "category_confirmed")


async def settle_label(
    uow: UnitOfWork, case: Case, category: str, actor: lifecycle.Actor, source: str
) -> bool:
    """A person settled `case`'s category as `category` (`source`: the button or form they
    used). Keeps the correction, changes the case (a new version: buttons drawn before are
    stale) and writes the audit event. Returns whether the category changed. A category the
    grid map does not know is refused."""
    if category not in uow.routing.gridmap.categories:
        raise CaseActionError("not_allowed")
    previous = case.category
    uow.session.add(
        Correction(
            case_id=case.id,
            text=case.text,
            predicted=previous,
            corrected=category,
            by_role=actor.role,
            at=uow.now,
        )
    )
    case.category = category
    case.version += 1
    # the classifier learns at once: this case's entry among its neighbours, in this
    # transaction (a later choice replaces it, so a wrong correction can be undone)
    await neighbours.settle(uow, case)
    kind = "category_changed" if previous != category else "category_confirmed"
    await lifecycle.record(
        uow, case, actor, kind, previous=previous, category=category, source=source
    )
    return previous != category


async def labelled_cases(settings: Settings) -> list[tuple[str, str]]:
    """``(text, category)`` of every case whose category a person settled, oldest first."""
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            corrected = select(CaseEvent.case_id).where(CaseEvent.kind.in_(LABEL_EVENTS))
            rows = await session.execute(
                select(Case.text, Case.category)
                .where(
                    Case.category.is_not(None),
                    or_(Case.status.in_(SETTLED), Case.id.in_(corrected)),
                )
                .order_by(Case.id)
            )
            return [(text, cat) for text, cat in rows.all() if text and text.strip()]
    finally:
        await engine.dispose()
