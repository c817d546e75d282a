"""Category corrections, for `gridvoice lexicon suggest`."""

from __future__ import annotations

from sqlalchemy import select

from bot.config import Settings
from bot.store.db import create_engine, session_factory
from bot.store.models import Correction


async def list_corrections(settings: Settings | None = None) -> list[tuple[str, str | None, str]]:
    """Every correction kept so far, as (text, predicted, corrected)."""
    settings = settings or Settings.from_env()
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            rows = (
                (await session.execute(select(Correction).order_by(Correction.id))).scalars().all()
            )
            return [(r.text, r.predicted, r.corrected) for r in rows]
    finally:
        await engine.dispose()
