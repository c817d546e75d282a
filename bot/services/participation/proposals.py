"""Residents' proposals: a verified resident proposes, neighbours support it, the committee answers.

Lifecycle (`Stage`): `open` (published at once, collecting supports until `window_ends_at`) ->
`reached` (supports reached the community's threshold: the committee owes an answer by
`answer_due`) -> `accepted` (a consultation with its text, or a work item: a case with an owner
and a due date), `declined` (with a public reason) or `merged` (into another proposal). An open
proposal whose window ends short of the threshold is `expired`. Hiding is apart from the stage:
the committee hides a proposal only with a public reason, and hidden proposals are counted
publicly.

One support per resident and proposal, one point for and one against: the store's unique
constraints hold it, so a forged, stale or repeated press changes nothing. /forget empties the
support's resident (`bot/services/people/residents.py`), and the support stays counted.

The committee's answers are rows of `ACTIONS` below (the proposal's own action table, in the
style of `bot/services/cases/actions.py`): the chat card and its prompts read it. The thresholds
and deadlines come from the grid map (`communities[].proposals`, docs/grid-map.md). See
docs/participation.md.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, func, or_, select

from bot.bounds import clean_text
from bot.services.participation import consultations as cs
from bot.services.people import policy
from bot.services.people.policy import Capability
from bot.services.shared.domain import Domain, UnitOfWork
from bot.services.shared.languages import chat_language
from bot.services.shared.outbox import Button, Keyboard
from bot.store.models import Case, Proposal, ProposalEvent, ProposalPoint, ProposalSupport, User
from routing.gridmap import ProposalRules

log = logging.getLogger(__name__)

TITLE_MAX = 120
TEXT_MIN, TEXT_MAX = 20, 2000
POINT_MAX = 200
PLACE_MAX = 200
CITE_MAX = 5  # clusters of cases a proposal may cite
CITE_CASES_MAX = 10  # cases a proposal may cite by their ids (the web form)
CLUSTER_DAYS = 180  # cases older than this are not offered for citing
WORK_DAYS = (7, 14, 30)  # the due dates offered for a work item
CONSULT_DAYS = 14  # how long a consultation made from a proposal runs


class Stage(StrEnum):
    """A proposal's statuses (the stored strings)."""

    OPEN = "open"
    REACHED = "reached"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    MERGED = "merged"
    EXPIRED = "expired"


TAKES_SUPPORT = frozenset({Stage.OPEN, Stage.REACHED})
ANSWERABLE = frozenset({Stage.OPEN, Stage.REACHED})
ANSWERED = frozenset({Stage.ACCEPTED, Stage.DECLINED, Stage.MERGED})


class ProposalError(Exception):
    """A refusal a person can cause; `key` is a label."""

    def __init__(self, key: str, **data: Any) -> None:
        super().__init__(key)
        self.key = key
        self.data = data


# --- thresholds and eligibility ----------------------------------------------------------


def rules_of(uow: UnitOfWork, community_id: str) -> ProposalRules:
    community = uow.routing.gridmap.communities.get(community_id)
    return community.proposals if community is not None else ProposalRules()


def threshold_for(rules: ProposalRules, verified: int) -> int:
    """Supports a proposal needs: the community's share of its verified residents, at least
    the floor."""
    return max(rules.floor, math.ceil(rules.share * max(0, verified) - 1e-9))


def community_of(uow: UnitOfWork, grid_id: str | None) -> str | None:
    grid = uow.routing.gridmap.grids.get(grid_id or "")
    return grid.community_id if grid is not None else None


def community_grids(uow: UnitOfWork, community_id: str) -> list[str]:
    community = uow.routing.gridmap.communities.get(community_id)
    return list(community.grid_ids) if community is not None else []


def is_eligible(uow: UnitOfWork, user: User | None, community_id: str) -> bool:
    """A verified resident of the community (the consultations' eligibility, over its grids)."""
    return bool(
        user
        and user.verified
        and user.erased_at is None
        and user.consent_at is not None
        and community_of(uow, user.home_grid_id) == community_id
    )


async def verified_residents(uow: UnitOfWork, grid_ids: list[str]) -> int:
    return int(
        (
            await uow.session.execute(
                select(func.count()).where(
                    User.verified.is_(True),
                    User.erased_at.is_(None),
                    User.consent_at.is_not(None),
                    User.home_grid_id.in_(grid_ids),
                )
            )
        ).scalar_one()
    )


# --- publishing -----------------------------------------------------------------------------


def check_title(text: str) -> str:
    title = " ".join(clean_text(text).split())
    if not title:
        raise ProposalError("proposal_title_empty")
    if len(title) > TITLE_MAX:
        raise ProposalError("proposal_title_long", limit=TITLE_MAX, length=len(title))
    return title


def check_text(text: str) -> str:
    body = clean_text(text).strip()
    if len(body) < TEXT_MIN:
        raise ProposalError("proposal_text_short", limit=TEXT_MIN, length=len(body))
    if len(body) > TEXT_MAX:
        raise ProposalError("proposal_text_long", limit=TEXT_MAX, length=len(body))
    return body


async def published_this_week(uow: UnitOfWork, user: User) -> int:
    since = uow.now - timedelta(days=7)
    return int(
        (
            await uow.session.execute(
                select(func.count()).where(
                    Proposal.author_id == user.id, Proposal.created_at > since
                )
            )
        ).scalar_one()
    )


async def may_propose(uow: UnitOfWork, user: User | None, community_id: str | None = None) -> str:
    """The community the resident may propose in (their own; `community_id` when a page names
    one, which must be theirs); raises ProposalError with why not."""
    home = community_of(uow, user.home_grid_id if user else None)
    if community_id is not None and home != community_id:
        raise ProposalError("proposal_not_eligible")
    community_id = home
    if user is None or community_id is None or not is_eligible(uow, user, community_id):
        raise ProposalError("proposal_not_eligible")
    rules = rules_of(uow, community_id)
    if await published_this_week(uow, user) >= rules.per_week:
        raise ProposalError("proposal_week_limit", limit=rules.per_week)
    return community_id


async def create(
    uow: UnitOfWork,
    user: User | None,
    *,
    title: str,
    text: str,
    photo: str | None = None,
    place: str | None = None,
    cited: list[int] | None = None,
    community_id: str | None = None,
) -> Proposal:
    """Publish a proposal at once; the author follows it. `community_id`: the community a
    page proposes in (refused unless it is the author's)."""
    community_id = await may_propose(uow, user, community_id)
    assert user is not None
    rules = rules_of(uow, community_id)
    grids = community_grids(uow, community_id)
    cited_ids = await _citable(uow, grids, list(cited or []))
    p = Proposal(
        author_id=user.id,
        community_id=community_id,
        grid_id=user.home_grid_id or "",
        language=user.language,
        title=check_title(title),
        text=check_text(text),
        photo_file_id=photo,
        place_text=clean_text(place)[:PLACE_MAX] if place else None,
        cited_case_ids=cited_ids,
        status=Stage.OPEN,
        threshold=threshold_for(rules, await verified_residents(uow, grids)),
        supports=0,
        created_at=uow.now,
        window_ends_at=uow.now + rules.window,
        answered_late=False,
    )
    uow.session.add(p)
    await uow.session.flush()
    _event(uow, p, "published", "resident")
    return p


async def _citable(uow: UnitOfWork, grids: list[str], ids: list[int]) -> list[int]:
    """Only cases of the community's grids may be cited (ids from outside are untrusted)."""
    ids = sorted({i for i in ids if isinstance(i, int) and i > 0})[:200]
    if not ids:
        return []
    found = (
        (
            await uow.session.execute(
                select(Case.id).where(Case.id.in_(ids), Case.grid_id.in_(grids))
            )
        )
        .scalars()
        .all()
    )
    return sorted(found)


async def cited_by_id(uow: UnitOfWork, community_id: str, human_ids: list[str]) -> list[int]:
    """Cases cited by their public ids (`GV-2026-000123`): each must be a case of the
    community's grids — every case with an id has a public page, the resident's own included.
    At most `CITE_CASES_MAX`; an id that is no such case is refused by name."""
    wanted = sorted({h.strip().upper() for h in human_ids if h.strip()})
    if len(wanted) > CITE_CASES_MAX:
        raise ProposalError("proposal_cite_many", limit=CITE_CASES_MAX)
    if not wanted:
        return []
    found = dict(
        (
            await uow.session.execute(
                select(Case.human_id, Case.id).where(
                    Case.human_id.in_(wanted),
                    Case.grid_id.in_(community_grids(uow, community_id)),
                )
            )
        ).all()
    )
    missing = [h for h in wanted if h not in found]
    if missing:
        raise ProposalError("proposal_cite_unknown", ids=", ".join(missing))
    return sorted(found.values())


def _event(uow: UnitOfWork, p: Proposal, kind: str, role: str, **data: Any) -> None:
    uow.session.add(
        ProposalEvent(proposal_id=p.id, at=uow.now, kind=kind, actor_role=role, data=data)
    )


async def get(uow: UnitOfWork, proposal_id: int) -> Proposal:
    p = await uow.session.get(Proposal, proposal_id)
    if p is None:
        raise ProposalError("proposal_unknown")
    return p


# --- clusters of cases a proposal cites -----------------------------------------------------


@dataclass(frozen=True)
class Cluster:
    """Cases of one category at one building (or grid): public fields only."""

    grid_id: str
    building_id: str | None
    category: str | None
    count: int
    resolved: int
    case_ids: tuple[int, ...]

    @property
    def key(self) -> str:
        return f"{self.grid_id}|{self.building_id or ''}|{self.category or ''}"


async def clusters(
    uow: UnitOfWork,
    grid_ids: list[str],
    *,
    since: datetime | None = None,
    resolved_only: bool = False,
) -> list[Cluster]:
    """Cases grouped by grid, building and category, most reports first."""
    since = since or uow.now - timedelta(days=CLUSTER_DAYS)
    rows = (
        await uow.session.execute(
            select(Case.id, Case.grid_id, Case.building_id, Case.category, Case.status)
            .where(Case.grid_id.in_(grid_ids), Case.created_at >= since)
            .order_by(Case.id)
            .limit(5000)
        )
    ).all()
    groups: dict[tuple[str, str | None, str | None], list[tuple[int, str]]] = {}
    for case_id, grid_id, building_id, category, status in rows:
        groups.setdefault((grid_id, building_id, category), []).append((case_id, status))
    result = []
    for (grid_id, building_id, category), items in groups.items():
        resolved = sum(1 for _, s in items if s in ("resolved", "closed"))
        if resolved_only and resolved == 0:
            continue
        result.append(
            Cluster(
                grid_id,
                building_id,
                category,
                len(items),
                resolved,
                tuple(i for i, _ in items),
            )
        )
    result.sort(key=lambda c: (-c.count, c.key))
    return result


async def cited_clusters(uow: UnitOfWork, p: Proposal) -> list[Cluster]:
    """The clusters the proposal's cited cases form (for its page and card)."""
    ids = list(p.cited_case_ids or [])
    if not ids:
        return []
    rows = (
        await uow.session.execute(
            select(Case.id, Case.grid_id, Case.building_id, Case.category, Case.status).where(
                Case.id.in_(ids)
            )
        )
    ).all()
    groups: dict[tuple[str, str | None, str | None], list[tuple[int, str]]] = {}
    for case_id, grid_id, building_id, category, status in rows:
        groups.setdefault((grid_id, building_id, category), []).append((case_id, status))
    return [
        Cluster(
            g,
            b,
            c,
            len(items),
            sum(1 for _, s in items if s in ("resolved", "closed")),
            tuple(i for i, _ in items),
        )
        for (g, b, c), items in sorted(groups.items(), key=lambda kv: -len(kv[1]))
    ]


# --- supports and points --------------------------------------------------------------------


def require_supportable(uow: UnitOfWork, p: Proposal, user: User | None) -> User:
    # An open proposal takes supports within its window; one that reached its threshold
    # takes them until it is answered.
    takes = p.status == Stage.REACHED or (p.status == Stage.OPEN and uow.now < p.window_ends_at)
    if p.hidden_at is not None or not takes:
        raise ProposalError("proposal_closed")
    if not is_eligible(uow, user, p.community_id):
        raise ProposalError("proposal_not_eligible")
    assert user is not None
    return user


async def support_of(uow: UnitOfWork, p: Proposal, user: User) -> ProposalSupport | None:
    return (
        await uow.session.execute(
            select(ProposalSupport).where(
                ProposalSupport.proposal_id == p.id, ProposalSupport.user_id == user.id
            )
        )
    ).scalar_one_or_none()


async def count_supports(uow: UnitOfWork, proposal_id: int) -> int:
    return int(
        (
            await uow.session.execute(
                select(func.count()).where(ProposalSupport.proposal_id == proposal_id)
            )
        ).scalar_one()
    )


async def support(uow: UnitOfWork, user: User | None, p: Proposal) -> str:
    """One support (the store refuses a second); returns the label for the answer."""
    user = require_supportable(uow, p, user)
    if await support_of(uow, p, user) is not None:
        return "proposal_already_supported"
    uow.session.add(
        ProposalSupport(
            proposal_id=p.id, user_id=user.id, grid_id=user.home_grid_id or "", at=uow.now
        )
    )
    await uow.session.flush()  # the unique constraint speaks here: a racing twin is retried
    p.supports = await count_supports(uow, p.id)
    if p.status == Stage.OPEN and p.supports >= p.threshold:
        await reach(uow, p)
    return "proposal_supported"


async def _own_support(uow: UnitOfWork, user: User | None, p: Proposal) -> ProposalSupport:
    """The resident's support of the proposal, which following hangs on (only a supporter
    follows; a hidden proposal is not followed: its page shows only the reason)."""
    if user is None:
        raise ProposalError("proposal_not_eligible")
    if p.hidden_at is not None:
        raise ProposalError("proposal_closed")
    row = await support_of(uow, p, user)
    if row is None:
        eligible = is_eligible(uow, user, p.community_id)
        raise ProposalError("proposal_support_first" if eligible else "proposal_not_eligible")
    return row


async def follow(uow: UnitOfWork, user: User | None, p: Proposal) -> str:
    """A supporter asks to be told each step; a second press changes nothing and says so."""
    row = await _own_support(uow, user, p)
    if row.follow:
        return "proposal_already_following"
    row.follow = True
    return "proposal_following"


async def unfollow(uow: UnitOfWork, user: User | None, p: Proposal) -> str:
    """A supporter stops being told each step (the author is told them all the same)."""
    row = await _own_support(uow, user, p)
    if not row.follow:
        return "proposal_not_following"
    row.follow = False
    return "proposal_unfollowed"


async def add_point(uow: UnitOfWork, user: User | None, p: Proposal, side: str, text: str) -> None:
    if side not in ("for", "against"):
        raise ProposalError("not_allowed")
    user = require_supportable(uow, p, user)
    body = " ".join(clean_text(text).split())
    if not body:
        raise ProposalError("proposal_point_empty")
    if len(body) > POINT_MAX:
        raise ProposalError("proposal_point_long", limit=POINT_MAX, length=len(body))
    exists = (
        await uow.session.execute(
            select(ProposalPoint.id).where(
                ProposalPoint.proposal_id == p.id,
                ProposalPoint.user_id == user.id,
                ProposalPoint.side == side,
            )
        )
    ).first()
    if exists is not None:
        raise ProposalError("proposal_point_once")
    uow.session.add(
        ProposalPoint(proposal_id=p.id, user_id=user.id, side=side, text=body, at=uow.now)
    )
    await uow.session.flush()


async def own_sides(uow: UnitOfWork, p: Proposal, user: User) -> set[str]:
    """The sides (for, against) this resident already made a point on."""
    rows = await uow.session.execute(
        select(ProposalPoint.side).where(
            ProposalPoint.proposal_id == p.id, ProposalPoint.user_id == user.id
        )
    )
    return set(rows.scalars().all())


async def points(uow: UnitOfWork, p: Proposal) -> dict[str, list[str]]:
    rows = (
        await uow.session.execute(
            select(ProposalPoint.side, ProposalPoint.text)
            .where(ProposalPoint.proposal_id == p.id)
            .order_by(ProposalPoint.id)
        )
    ).all()
    out: dict[str, list[str]] = {"for": [], "against": []}
    for side, text in rows:
        out.setdefault(side, []).append(text)
    return out


# --- telling people -------------------------------------------------------------------------


async def followers(uow: UnitOfWork, p: Proposal) -> list[User]:
    """The author and the supporters who asked to follow, reachable and not erased."""
    ids = set(
        (
            await uow.session.execute(
                select(ProposalSupport.user_id).where(
                    ProposalSupport.proposal_id == p.id,
                    ProposalSupport.follow.is_(True),
                    ProposalSupport.user_id.is_not(None),
                )
            )
        )
        .scalars()
        .all()
    )
    if p.author_id is not None:
        ids.add(p.author_id)
    if not ids:
        return []
    users = (
        (
            await uow.session.execute(
                select(User)
                .where(User.id.in_(sorted(ids)), User.erased_at.is_(None))
                .order_by(User.id)
            )
        )
        .scalars()
        .all()
    )
    return [u for u in users if not u.unreachable]


async def tell_followers(uow: UnitOfWork, p: Proposal, step: str, **data: Any) -> int:
    people = await followers(uow, p)
    for user in people:
        uow.outbox.send(
            user.id,
            user.language,
            "proposal_step",
            p=p,
            step=step,
            campaign=f"proposal:{p.id}",
            **data,
        )
    return len(people)


def committee_of(uow: UnitOfWork, community_id: str) -> list[int]:
    """The committee accounts of the community (and those of no community: the whole map)."""
    return sorted(
        s.telegram_id
        for s in uow.routing.gridmap.staff.values()
        if s.active
        and s.role == "committee"
        and (s.community_id is None or s.community_id == community_id)
    )


def may_answer(uow: UnitOfWork, user_id: int, p: Proposal) -> bool:
    if not policy.may(uow, user_id, Capability.COMMITTEE):
        return False
    person = uow.routing.gridmap.staff.get(user_id)
    return person is None or person.community_id in (None, p.community_id)


def answer_keyboard(p: Proposal) -> Keyboard:
    """The committee card's buttons: one per row of `ACTIONS` the proposal's stage allows."""
    rows: Keyboard = []
    for action in ACTIONS.values():
        if p.status in action.statuses and (action.name != "hide" or p.hidden_at is None):
            rows.append([Button.of(action.button, f"pa:{p.id}:{action.code}")])
    return rows


async def committee_card(uow: UnitOfWork, p: Proposal, why: str) -> None:
    for chat_id in committee_of(uow, p.community_id):
        lang = await chat_language(uow, chat_id)
        uow.outbox.send(
            chat_id,
            lang,
            "proposal_committee",
            p=p,
            why=why,
            keyboard=answer_keyboard(p),
            clusters=await cited_clusters(uow, p),
        )


async def reach(uow: UnitOfWork, p: Proposal) -> None:
    rules = rules_of(uow, p.community_id)
    p.status = Stage.REACHED
    p.reached_at = uow.now
    p.answer_due = uow.now + rules.answer_within
    _event(uow, p, "reached", "system", supports=p.supports)
    await tell_followers(uow, p, "reached")
    await committee_card(uow, p, "reached")


# --- the committee's answers: the proposal's action table -----------------------------------


class Asks(StrEnum):
    """What an answer needs before it runs (in this order)."""

    TEXT = "text"  # a public reason (the chat arms `proposal_reason`)
    PROPOSAL = "proposal"  # the proposal it merges into (its number)
    MEMBER = "member"  # a member of the proposal's grid who owns the work item
    DAYS = "days"  # the work item's due date, in days (`WORK_DAYS`)


@dataclass(frozen=True)
class ProposalAction:
    name: str  # its texts: `btn_proposal_<name>`, `proposal_done_<name>`
    code: str  # the chat card's callback code (stored cards carry it: never change)
    asks: tuple[Asks, ...]
    statuses: frozenset[str]
    run: Callable[..., Awaitable[Any]]

    @property
    def button(self) -> str:
        return f"btn_proposal_{self.name}"

    @property
    def done(self) -> str:
        return f"proposal_done_{self.name}"


def _answer(uow: UnitOfWork, p: Proposal, by: int, stage: Stage, reason: str | None) -> None:
    if p.status not in ANSWERABLE:
        raise ProposalError("proposal_answered")
    p.status = stage
    p.answered_at = uow.now
    p.answered_by = by
    p.answered_late = p.answer_due is not None and uow.now > p.answer_due
    if reason is not None:
        p.answer_reason = reason


def check_reason(text: str) -> str:
    body = " ".join(clean_text(text).split())
    if len(body) < 5:
        raise ProposalError("proposal_reason_short")
    return body[:1000]


async def accept_consultation(uow: UnitOfWork, by: int, p: Proposal) -> None:
    _answer(uow, p, by, Stage.ACCEPTED, None)
    c = cs.create(
        uow,
        by,
        {
            "question": f"{p.title}\n\n{p.text}",
            "options": [],
            "grids": community_grids(uow, p.community_id),
            "opens_at": uow.now.isoformat(),
            "closes_at": (uow.now + timedelta(days=CONSULT_DAYS)).isoformat(),
        },
    )
    await cs.publish(uow, c)
    p.consultation_id = c.id
    _event(uow, p, "accepted", "committee", consultation=c.id)
    await tell_followers(uow, p, "consultation", consultation=c.id)


# Filled by the cases component (bot/services/cases/lifecycle.py), which sits above this one:
# `(uow, by, proposal, member_id, due) -> case id`.
WORK_ITEM: list[Callable[..., Awaitable[int]]] = []


def work_members(uow: UnitOfWork, p: Proposal) -> list[Any]:
    """Who may own a work item: active members and leaders of the proposal's grid."""
    return [
        s
        for s in uow.routing.gridmap.staff.values()
        if s.active and s.role in ("member", "leader") and p.grid_id in s.grid_ids
    ]


async def accept_work_item(uow: UnitOfWork, by: int, p: Proposal, member: int, days: int) -> None:
    if member not in {s.telegram_id for s in work_members(uow, p)} or days not in WORK_DAYS:
        raise ProposalError("not_allowed")
    if not WORK_ITEM:
        raise ProposalError("proposal_answered")
    _answer(uow, p, by, Stage.ACCEPTED, None)
    due = uow.now + timedelta(days=days)
    p.work_case_id = await WORK_ITEM[0](uow, by, p, member, due)
    _event(uow, p, "accepted", "committee", work_case=p.work_case_id, due=due.isoformat())
    await tell_followers(uow, p, "work_item", due=due)


async def decline(uow: UnitOfWork, by: int, p: Proposal, reason: str) -> None:
    _answer(uow, p, by, Stage.DECLINED, check_reason(reason))
    _event(uow, p, "declined", "committee")
    await tell_followers(uow, p, "declined")


async def merge(uow: UnitOfWork, by: int, p: Proposal, target_id: int) -> None:
    target = await uow.session.get(Proposal, target_id)
    if (
        target is None
        or target.id == p.id
        or target.community_id != p.community_id
        or target.status == Stage.MERGED
    ):
        raise ProposalError("proposal_merge_target")
    _answer(uow, p, by, Stage.MERGED, None)
    p.merged_into = target.id
    _event(uow, p, "merged", "committee", into=target.id)
    await tell_followers(uow, p, "merged", target=target)


async def hide(uow: UnitOfWork, by: int, p: Proposal, reason: str) -> None:
    if p.hidden_at is not None:
        raise ProposalError("proposal_answered")
    p.hidden_at = uow.now
    p.hidden_reason = check_reason(reason)
    _event(uow, p, "hidden", "committee")
    await tell_followers(uow, p, "hidden")


_ANY = frozenset(Stage)
ACTIONS: dict[str, ProposalAction] = {
    a.code: a
    for a in (
        ProposalAction("consult", "c", (), ANSWERABLE, accept_consultation),
        ProposalAction("work", "w", (Asks.MEMBER, Asks.DAYS), ANSWERABLE, accept_work_item),
        ProposalAction("decline", "d", (Asks.TEXT,), ANSWERABLE, decline),
        ProposalAction("merge", "m", (Asks.PROPOSAL,), ANSWERABLE, merge),
        ProposalAction("hide", "h", (Asks.TEXT,), _ANY, hide),
    )
}


async def run_action(uow: UnitOfWork, by: int, p: Proposal, code: str, *answers: Any) -> str:
    """Run the committee's answer `code` with its answers; returns the label it is done with."""
    action = ACTIONS.get(code)
    if action is None or not may_answer(uow, by, p):
        raise ProposalError("not_allowed")
    if p.status not in action.statuses:
        raise ProposalError("proposal_answered")
    await action.run(uow, by, p, *answers)
    return action.done


# --- the clock: windows that end, answers that are late --------------------------------------


async def run_due(domain: Domain) -> int:
    """Expire open proposals whose window ended; mark late the answers past their deadline."""
    if not domain.has_routing:
        return 0
    done = 0
    now = domain.clock.now()
    async with domain.sessions() as session:
        expired = list(
            (
                await session.execute(
                    select(Proposal.id).where(
                        Proposal.status == Stage.OPEN, Proposal.window_ends_at <= now
                    )
                )
            )
            .scalars()
            .all()
        )
        late = list(
            (
                await session.execute(
                    select(Proposal.id).where(
                        Proposal.status == Stage.REACHED,
                        Proposal.answer_due <= now,
                        Proposal.late_at.is_(None),
                    )
                )
            )
            .scalars()
            .all()
        )
    for pid in expired:
        async with domain.unit() as uow:
            p = await uow.session.get(Proposal, pid)
            if p is None or p.status != Stage.OPEN or p.window_ends_at > uow.now:
                continue
            p.status = Stage.EXPIRED
            _event(uow, p, "expired", "system", supports=p.supports)
            await tell_followers(uow, p, "expired")
            done += 1
    for pid in late:
        async with domain.unit() as uow:
            p = await uow.session.get(Proposal, pid)
            if p is None or p.status != Stage.REACHED or p.late_at is not None:
                continue
            p.late_at = uow.now
            _event(uow, p, "late", "system")
            await committee_card(uow, p, "late")
            done += 1
    return done


# --- counts and public read models ----------------------------------------------------------


@dataclass(frozen=True)
class AnswerCounts:
    """Proposals that reached their threshold, by how the committee answered."""

    on_time: int = 0
    late: int = 0
    unanswered: int = 0  # past the deadline with no answer
    waiting: int = 0  # within the deadline, not yet answered
    hidden: int = 0
    published: int = 0


def answer_state(p: Any, now: datetime) -> str | None:
    """How a proposal counts: on_time, late, unanswered, waiting, or None (never reached)."""
    if p.reached_at is None:
        return None
    if p.answered_at is not None:
        return "late" if p.answered_late else "on_time"
    if p.answer_due is not None and now > p.answer_due:
        return "unanswered"
    return "waiting"


async def answer_counts(
    uow: UnitOfWork, community_id: str | None = None, *, since: datetime | None = None
) -> AnswerCounts:
    stmt = select(
        Proposal.reached_at,
        Proposal.answered_at,
        Proposal.answered_late,
        Proposal.answer_due,
        Proposal.hidden_at,
    )
    if community_id is not None:
        stmt = stmt.where(Proposal.community_id == community_id)
    if since is not None:
        stmt = stmt.where(Proposal.created_at >= since)
    tally = {"on_time": 0, "late": 0, "unanswered": 0, "waiting": 0}
    hidden = published = 0
    for row in (await uow.session.execute(stmt)).all():
        published += 1
        if row.hidden_at is not None:
            hidden += 1
        state = answer_state(row, uow.now)
        if state is not None:
            tally[state] += 1
    return AnswerCounts(hidden=hidden, published=published, **tally)


async def public_list(uow: UnitOfWork, community_id: str, *, limit: int = 100) -> list[Proposal]:
    """Newest first, hidden ones included (their page shows only the reason)."""
    stmt = (
        select(Proposal)
        .where(Proposal.community_id == community_id)
        .order_by(Proposal.id.desc())
        .limit(limit)
    )
    return list((await uow.session.execute(stmt)).scalars().all())


async def answered(uow: UnitOfWork, community_id: str) -> list[Proposal]:
    stmt = (
        select(Proposal)
        .where(
            Proposal.community_id == community_id,
            Proposal.status.in_(sorted(ANSWERED)),
            Proposal.hidden_at.is_(None),
        )
        .order_by(Proposal.answered_at.desc())
        .limit(200)
    )
    return list((await uow.session.execute(stmt)).scalars().all())


async def events(uow: UnitOfWork, p: Proposal) -> list[ProposalEvent]:
    stmt = select(ProposalEvent).where(ProposalEvent.proposal_id == p.id).order_by(ProposalEvent.id)
    return list((await uow.session.execute(stmt)).scalars().all())


async def own_open(uow: UnitOfWork, user: User, query: str = "", limit: int = 10) -> list[Proposal]:
    """Open proposals of the resident's community (their own first), for sharing inline."""
    community_id = community_of(uow, user.home_grid_id)
    if community_id is None:
        return []
    stmt = select(Proposal).where(
        Proposal.community_id == community_id,
        Proposal.status.in_(sorted(TAKES_SUPPORT)),
        Proposal.hidden_at.is_(None),
    )
    if query:
        like = "%" + query.replace("%", "").replace("_", "") + "%"
        stmt = stmt.where(or_(Proposal.title.ilike(like), Proposal.text.ilike(like)))
    stmt = stmt.order_by((Proposal.author_id == user.id).desc(), Proposal.id.desc()).limit(limit)
    return list((await uow.session.execute(stmt)).scalars().all())


async def open_in(uow: UnitOfWork, community_id: str, limit: int = 10) -> list[Proposal]:
    stmt = (
        select(Proposal)
        .where(
            and_(
                Proposal.community_id == community_id,
                Proposal.status.in_(sorted(TAKES_SUPPORT)),
                Proposal.hidden_at.is_(None),
            )
        )
        .order_by(Proposal.id.desc())
        .limit(limit)
    )
    return list((await uow.session.execute(stmt)).scalars().all())
