"""The categories a deployment's cases ended in once staff handled them: training data.

A case counts when a person settled its category: it was resolved (or closed) in it, or its
category was corrected (by the resident, the grid leader, at triage).  Cases still waiting,
rejected or cancelled without a correction say nothing about their category and are left out.
"""

from __future__ import annotations

from sqlalchemy import or_, select

from bot.config import Settings
from bot.store.db import create_engine, session_factory
from bot.store.models import Case, CaseEvent

SETTLED = ("resolved", "closed")


async def labelled_cases(settings: Settings) -> list[tuple[str, str]]:
    """``(text, category)`` of every case whose category a person settled, oldest first."""
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            corrected = select(CaseEvent.case_id).where(CaseEvent.kind == "category_changed")
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
