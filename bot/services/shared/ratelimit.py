"""Per-person rate limiting kept in the database, so replicas agree on it.

Only what costs is limited: messages that start or extend a report draft (each may become a
case, a card and staff time). Commands and button presses are answered whatever the pace.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.services.shared.domain import UnitOfWork
from bot.store.db import hot_rows
from bot.store.models import RateWindow
from bot.store.upserts import RATE_WINDOW_COUNT

WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class DropNotice:
    """What to tell a person whose messages were not taken: how many, and under which name
    the notice is remembered (one notice per window, edited as more are dropped)."""

    dropped: int
    ref: str
    first: bool


async def allow(uow: UnitOfWork, user_id: int) -> bool:
    """Count one message; False once the person passes the per-minute limit.

    One statement: the person's window is opened, restarted (a minute has passed, or the clock
    went back) or counted up in the database, which answers with the new count."""
    ((count,),) = await hot_rows(
        uow.session,
        RATE_WINDOW_COUNT,
        {"user_id": user_id, "now": uow.now, "since": uow.now - WINDOW, "no": False},
    )
    return int(count) <= uow.settings.user_rate_per_minute


async def drop_notice(uow: UnitOfWork, user_id: int) -> DropNotice | None:
    """After `allow` said no: how many messages of this window were not taken."""
    # read anew: `allow` counted in the database, past any copy this session holds
    row = await uow.session.get(RateWindow, user_id, populate_existing=True)
    if row is None:
        return None
    first = not row.warned
    row.warned = True
    return DropNotice(
        dropped=max(1, row.count - uow.settings.user_rate_per_minute),
        ref=f"rate:{user_id}:{int(row.window_start.timestamp())}",
        first=first,
    )
