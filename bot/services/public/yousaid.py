"""The public view of residents' proposals and of what came of them ("You said, we did").

An allow-list like `bot.services.public.cases`: a proposal's title, text, place and photo were
published by its author as a proposal; never the author, a supporter or a point's writer. A
hidden proposal shows only the committee's public reason. A work item (an accepted proposal
tracked as a case) shows its public status, due date and photos: the proposal's photo before,
the resolution photo after. Clusters of resolved complaints are counts per category and place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from bot.services.participation import proposals as ps
from bot.services.public.projection import PUBLIC_STATUS
from bot.store.models import Case, CasePhoto, Proposal

if TYPE_CHECKING:
    from bot.services.shared.domain import Domain

RESOLVED_DAYS = 365  # the window of resolved complaints the page groups


@dataclass(frozen=True)
class WorkItem:
    human_id: str | None
    status: str  # the public status (`projection.PUBLIC_STATUS`)
    due: datetime | None
    resolved_at: datetime | None
    public_note: str | None
    has_after: bool


@dataclass(frozen=True)
class PublicProposal:
    id: int
    community_id: str
    grid_id: str
    title: str
    text: str
    place: str | None
    has_photo: bool
    status: str
    supports: int
    threshold: int
    created_at: datetime
    window_ends_at: datetime
    reached_at: datetime | None
    answer_due: datetime | None
    answered_at: datetime | None
    answered_late: bool
    answer_state: str | None  # on_time | late | unanswered | waiting | None
    answer_reason: str | None
    merged_into: int | None
    consultation_id: int | None
    hidden: bool
    hidden_reason: str | None
    work: WorkItem | None = None
    points: dict[str, list[str]] = field(default_factory=dict)
    clusters: list[ps.Cluster] = field(default_factory=list)


def _public(
    p: Proposal, now: datetime, work: WorkItem | None = None, **extra: Any
) -> PublicProposal:
    hidden = p.hidden_at is not None
    return PublicProposal(
        id=p.id,
        community_id=p.community_id,
        grid_id=p.grid_id,
        title="" if hidden else p.title,
        text="" if hidden else p.text,
        place=None if hidden else p.place_text,
        has_photo=bool(p.photo_file_id) and not hidden,
        status=p.status,
        supports=p.supports,
        threshold=p.threshold,
        created_at=p.created_at,
        window_ends_at=p.window_ends_at,
        reached_at=p.reached_at,
        answer_due=p.answer_due,
        answered_at=p.answered_at,
        answered_late=p.answered_late,
        answer_state=ps.answer_state(p, now),
        answer_reason=p.answer_reason,
        merged_into=p.merged_into,
        consultation_id=p.consultation_id,
        hidden=hidden,
        hidden_reason=p.hidden_reason,
        work=work,
        **extra,
    )


async def _work(uow: Any, p: Proposal) -> WorkItem | None:
    if p.work_case_id is None:
        return None
    case = await uow.session.get(Case, p.work_case_id)
    if case is None:
        return None
    after = (
        await uow.session.execute(
            select(CasePhoto.id).where(CasePhoto.case_id == case.id, CasePhoto.kind == "resolution")
        )
    ).first()
    return WorkItem(
        human_id=case.human_id,
        status=PUBLIC_STATUS.get(case.status, "open"),
        due=case.resolve_by,
        resolved_at=case.resolved_at,
        public_note=case.public_note,
        has_after=after is not None,
    )


async def proposal_list(
    domain: Domain, community_id: str
) -> tuple[list[PublicProposal], ps.AnswerCounts]:
    async with domain.unit() as uow:
        rows = await ps.public_list(uow, community_id)
        counts = await ps.answer_counts(uow, community_id)
        return [_public(p, uow.now) for p in rows], counts


async def proposal_page(domain: Domain, proposal_id: int) -> PublicProposal | None:
    async with domain.unit() as uow:
        p = await uow.session.get(Proposal, proposal_id)
        if p is None:
            return None
        if p.hidden_at is not None:
            return _public(p, uow.now)
        return _public(
            p,
            uow.now,
            await _work(uow, p),
            points=await ps.points(uow, p),
            clusters=await ps.cited_clusters(uow, p),
        )


@dataclass(frozen=True)
class YouSaid:
    answered: list[PublicProposal]
    resolved: list[ps.Cluster]
    counts: ps.AnswerCounts


async def you_said(domain: Domain, community_id: str) -> YouSaid:
    async with domain.unit() as uow:
        answered = [
            _public(p, uow.now, await _work(uow, p)) for p in await ps.answered(uow, community_id)
        ]
        resolved = await ps.clusters(
            uow,
            ps.community_grids(uow, community_id),
            since=uow.now - timedelta(days=RESOLVED_DAYS),
            resolved_only=True,
        )
        counts = await ps.answer_counts(uow, community_id)
    return YouSaid(answered, resolved[:20], counts)


async def photo_file(domain: Domain, proposal_id: int, which: str) -> str | None:
    """The Telegram file of a proposal's public photo: `before` (the proposal's own) or
    `after` (its work item's resolution photo)."""
    async with domain.unit() as uow:
        p = await uow.session.get(Proposal, proposal_id)
        if p is None or p.hidden_at is not None:
            return None
        if which == "before":
            return p.photo_file_id
        if p.work_case_id is None:
            return None
        return (
            (
                await uow.session.execute(
                    select(CasePhoto.file_id)
                    .where(CasePhoto.case_id == p.work_case_id, CasePhoto.kind == "resolution")
                    .order_by(CasePhoto.id.desc())
                )
            )
            .scalars()
            .first()
        )


async def all_counts(domain: Domain) -> dict[str, ps.AnswerCounts]:
    """Answer counts per community (the dashboard and open data)."""
    async with domain.unit() as uow:
        return {cid: await ps.answer_counts(uow, cid) for cid in uow.routing.gridmap.communities}
