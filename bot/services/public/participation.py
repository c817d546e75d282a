"""The participation figure: per grid and month, the share of its verified residents who took
part — reported a problem, made or supported a proposal, voted or commented in a consultation,
or volunteered (an attendance the organiser confirmed).

Each way of taking part is one query in `SOURCES` (who, by user id, took part in a month); the
figure is the union of them, counted once per resident. The whole is the grid's verified residents today; a share is shown only when
the whole reaches the dashboard's minimum count (`figures.Share`), so no one person's act moves a
published figure in a way that reveals it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, select, union

from bot.services.public.figures import Share
from bot.services.public.open_data import month_bounds
from bot.store.models import (
    Case,
    Consultation,
    ConsultBallot,
    ConsultComment,
    Proposal,
    ProposalSupport,
    User,
    VolunteerClaim,
)

if TYPE_CHECKING:
    from bot.services.shared.domain import Domain


@dataclass(frozen=True)
class Source:
    """One way of taking part: `query(start, end)` selects the user ids (one column) of the
    residents who took part that way in [start, end)."""

    name: str
    query: Callable[[datetime, datetime], Select[Any]]


def _reported(start: datetime, end: datetime) -> Select[Any]:
    return select(Case.resident_id.label("uid")).where(
        Case.resident_id.is_not(None), Case.created_at >= start, Case.created_at < end
    )


def _supported(start: datetime, end: datetime) -> Select[Any]:
    return select(ProposalSupport.user_id.label("uid")).where(
        ProposalSupport.user_id.is_not(None), ProposalSupport.at >= start, ProposalSupport.at < end
    )


def _proposed(start: datetime, end: datetime) -> Select[Any]:
    return select(Proposal.author_id.label("uid")).where(
        Proposal.author_id.is_not(None), Proposal.created_at >= start, Proposal.created_at < end
    )


def _voted(start: datetime, end: datetime) -> Select[Any]:
    # A ballot carries no time of its own: it counts in the month its consultation opened.
    return (
        select(ConsultBallot.user_id.label("uid"))
        .join(Consultation, Consultation.id == ConsultBallot.consultation_id)
        .where(Consultation.opens_at >= start, Consultation.opens_at < end)
    )


def _commented(start: datetime, end: datetime) -> Select[Any]:
    # Comments on named ballots carry the author's pseudonym (secret ballots' comments are not
    # linked to anyone and are not counted); they count in the month the consultation opened.
    return (
        select(User.id.label("uid"))
        .join(ConsultComment, ConsultComment.author == User.pseudonym)
        .join(Consultation, Consultation.id == ConsultComment.consultation_id)
        .where(Consultation.opens_at >= start, Consultation.opens_at < end)
    )


def _volunteered(start: datetime, end: datetime) -> Select[Any]:
    return select(VolunteerClaim.user_id.label("uid")).where(
        VolunteerClaim.state == "attended",
        VolunteerClaim.confirmed_at >= start,
        VolunteerClaim.confirmed_at < end,
    )


SOURCES: list[Source] = [
    Source("reported", _reported),
    Source("proposed", _proposed),
    Source("supported", _supported),
    Source("voted", _voted),
    Source("commented", _commented),
    Source("volunteered", _volunteered),
]


@dataclass(frozen=True)
class GridParticipation:
    grid_id: str
    month: str
    share: Share  # residents who took part ÷ verified residents


async def participation(
    domain: Domain, grid_ids: list[str], month: str, minimum: int
) -> dict[str, GridParticipation]:
    """The figure for each grid in `month` (YYYY-MM in the map's time zone)."""
    start, end = month_bounds(month, domain.routing.gridmap.tz)
    verified = (User.verified.is_(True), User.erased_at.is_(None), User.home_grid_id.in_(grid_ids))
    took_part = union(*(s.query(start, end) for s in SOURCES)).subquery()
    async with domain.sessions() as session:
        wholes = dict(
            (
                await session.execute(
                    select(User.home_grid_id, func.count())
                    .where(*verified)
                    .group_by(User.home_grid_id)
                )
            ).all()
        )
        parts = dict(
            (
                await session.execute(
                    select(User.home_grid_id, func.count(func.distinct(User.id)))
                    .join(took_part, took_part.c.uid == User.id)
                    .where(*verified)
                    .group_by(User.home_grid_id)
                )
            ).all()
        )
    return {
        g: GridParticipation(g, month, Share(int(parts.get(g, 0)), int(wholes.get(g, 0)), minimum))
        for g in grid_ids
    }
