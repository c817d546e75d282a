"""Per-person rate limiting kept in the database, so replicas agree on it."""

from __future__ import annotations

from datetime import timedelta

from bot.services.domain import UnitOfWork
from bot.store.models import RateWindow

WINDOW = timedelta(minutes=1)


async def allow(uow: UnitOfWork, user_id: int) -> bool:
    """Count one message; False once the person passes the per-minute limit."""
    row = await uow.session.get(RateWindow, user_id)
    if row is None:
        uow.session.add(RateWindow(user_id=user_id, window_start=uow.now, count=1, warned=False))
        return True
    if uow.now - row.window_start >= WINDOW or uow.now < row.window_start:
        row.window_start, row.count, row.warned = uow.now, 1, False
        return True
    row.count += 1
    return row.count <= uow.settings.user_rate_per_minute


async def should_warn(uow: UnitOfWork, user_id: int) -> bool:
    """Warn once per window, not once per extra message."""
    row = await uow.session.get(RateWindow, user_id)
    if row is None or row.warned:
        return False
    row.warned = True
    return True
