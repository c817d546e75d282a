"""Whose duty it is: a return that cites the duty list, the ruling on it, and the versioned
duty list.

An owner who finds a case is not theirs *returns* it (退单), citing the clause of the
responsibility matrix (`routing.matrix.clauses`) that makes it someone else's, with a reason.
A citation that names the returner's own duty, or none, is refused. The return opens a
`CaseDispute` for the adjudicator the map names (`duty: {adjudicator, ruling_within}`; the
street office by default) with its own deadline; meanwhile the case stays with the returning
owner and the resident is told nothing. The adjudicator rules once (审定): *reassign* to the
owner the clause names (the lifecycle's transfer path), optionally *amending* the duty list for
new cases of the community, or *uphold* (the return is overruled and counts against the
returner). A dispute not ruled by its deadline is escalated by the scheduler and counted.

An amendment is a `DutyAmendment` row: the duty list in force is the loaded map with the
amendments applied in order (`Domain._reload`), so every replica routes the next case by it; a
community's "who does what" page publishes it with its history (organisations only).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.bounds import clean_text
from bot.services.cases import lifecycle
from bot.services.cases.lifecycle import SYSTEM, Actor, CaseActionError, actor_for
from bot.services.cases.status import AWAITING_ACCEPT, WORKING
from bot.services.people import access, policy
from bot.services.shared.domain import UnitOfWork
from bot.services.shared.languages import chat_language
from bot.services.shared.outbox import Button
from bot.store.models import Case, CaseDispute, DutyAmendment
from routing.assignment import assign
from routing.gridmap import GridMap, Party
from routing.matrix import (
    Amendment,
    Clause,
    amend,
    clause_for,
    clauses,
    clauses_in,
    owner_key,
    unowned_after,
)

REASON_MAX = 500
RULINGS = ("reassigned", "amended", "upheld")  # `amended`: reassigned and the list changed
HANDLED = AWAITING_ACCEPT | WORKING


def returner_of(case: Case) -> str:
    """Whose duty the case is now: `party:<id>` or `grid`."""
    return owner_key(case.party_id)


def may_return(uow: UnitOfWork, user_id: int, case: Case) -> bool:
    """Only the case's owner returns it: the member who has it, or a party's own staff."""
    if case.owner_id is not None:
        return case.owner_id == user_id
    staff = uow.routing.gridmap.staff.get(user_id)
    return (
        case.party_id is not None
        and staff is not None
        and staff.active
        and staff.party_id == case.party_id
    )


def offered_clauses(uow: UnitOfWork, case: Case) -> list[Clause]:
    """The clauses in force in the case's grid that name an owner other than the case's."""
    own = returner_of(case)
    return [c for c in clauses_in(uow.routing.gridmap, case.grid_id) if c.owner != own]


def clause_token(clause_id: str) -> str:
    """A clause as a chat button carries it: 8 hex digits of its id's SHA-1 (a derived id,
    `<grid>.<category>`, may be longer than Telegram's 64 bytes of callback data allow)."""
    return hashlib.sha1(clause_id.encode("utf-8"), usedforsecurity=False).hexdigest()[:8]


def find_clause(gridmap: GridMap, clause_id: str) -> Clause | None:
    return next((c for c in clauses(gridmap) if c.id == clause_id), None)


async def pending(uow: UnitOfWork, case: Case) -> CaseDispute | None:
    """The return waiting for a ruling (there is at most one per case)."""
    if uow.none_yet(case.id, "case_disputes"):
        return None
    return (
        await uow.session.execute(
            select(CaseDispute)
            .where(CaseDispute.case_id == case.id, CaseDispute.outcome.is_(None))
            .limit(1)
        )
    ).scalar_one_or_none()


async def waiting_among(uow: UnitOfWork, case_ids: list[int]) -> set[int]:
    """Which of these cases have a return waiting for a ruling (the desk's board marks them)."""
    if not case_ids:
        return set()
    found = await uow.session.execute(
        select(CaseDispute.case_id).where(
            CaseDispute.case_id.in_(case_ids), CaseDispute.outcome.is_(None)
        )
    )
    return set(found.scalars())


def party_of(gridmap: GridMap, owner: str) -> Party | None:
    return gridmap.parties.get(owner[6:]) if owner.startswith("party:") else None


def adjudicators(gridmap: GridMap, case: Case, role: str) -> list[Any]:
    """Who rules on a return of this case: the map's adjudicator role, in the case's scope."""
    if role == "leader":
        people = gridmap.leaders_of(case.grid_id)
    elif role == "centre":
        people = gridmap.centre_of(gridmap.grids[case.grid_id].community_id)
    else:
        people = gridmap.street_staff()
    return [p for p in people if p.active]


def may_rule(uow: UnitOfWork, user_id: int, dispute: CaseDispute, case: Case) -> bool:
    """The adjudicator's role (or an admin) who may act on the case; never the returner."""
    role = policy.role_of(uow, user_id)
    return (
        role in (dispute.adjudicator, "admin")
        and user_id != dispute.returned_by
        and access.may_act(uow, user_id, case)
    )


# --- the return ---------------------------------------------------------------------------


async def return_case(
    uow: UnitOfWork, user_id: int, case: Case, clause_id: str, reason: str
) -> CaseDispute:
    """The owner returns the case citing a clause; it stays theirs until the ruling."""
    if case.status not in HANDLED:
        raise CaseActionError("case_wrong_state", status=case.status)
    if not may_return(uow, user_id, case):
        raise CaseActionError("return_owner_only")
    if await pending(uow, case) is not None:
        raise CaseActionError("return_pending")
    gridmap = uow.routing.gridmap
    clause = find_clause(gridmap, str(clause_id or ""))
    if clause is None:
        raise CaseActionError("return_needs_clause")
    if clause.owner == returner_of(case):
        raise CaseActionError("return_own_duty")
    if clause not in offered_clauses(uow, case):  # a clause not in force in this grid
        raise CaseActionError("return_needs_clause")
    reason = clean_text(reason or "").strip()[:REASON_MAX]
    if not reason:
        raise CaseActionError("desk_text_required")
    role = gridmap.duty.adjudicator
    dispute = CaseDispute(
        case_id=case.id,
        grid_id=case.grid_id,
        community_id=gridmap.grids[case.grid_id].community_id,
        category=case.category,
        returned_by=user_id,
        returner=returner_of(case),
        clause=clause.id,
        claimed_owner=clause.owner,
        reason=reason,
        adjudicator=role,
        opened_at=uow.now,
        rule_by=uow.now + gridmap.duty.ruling_within,
    )
    uow.session.add(dispute)
    await uow.session.flush()
    case.version += 1
    await lifecycle.record(
        uow, case, actor_for(uow, user_id), "returned", note=reason, clause=clause.id
    )
    await lifecycle._refresh_owner_card(uow, case)  # noqa: SLF001 - the lifecycle's own helper
    await _tell_adjudicators(uow, case, dispute, clause, "dispute_to_adjudicator")
    return dispute


async def _tell_adjudicators(
    uow: UnitOfWork, case: Case, dispute: CaseDispute, clause: Clause | None, template: str
) -> None:
    from bot.services.cases.views import card_data

    gridmap = uow.routing.gridmap
    people = adjudicators(gridmap, case, dispute.adjudicator)
    chats = [p.telegram_id for p in people if p.telegram_id != dispute.returned_by]
    if not chats and gridmap.street_office is not None and gridmap.street_office.chat_id:
        chats = [gridmap.street_office.chat_id]
    keyboard = [
        [
            Button.of("btn_rule_reassign", f"du:{dispute.id}:r"),
            Button.of("btn_rule_uphold", f"du:{dispute.id}:u"),
        ],
        [Button.of("btn_rule_amend", f"du:{dispute.id}:a")],
    ]
    for chat in chats:
        lang = await chat_language(uow, chat)
        uow.outbox.send(
            chat,
            lang,
            template,
            keyboard=keyboard,
            case_id=case.id,
            dispute=dispute,
            clause=clause,
            claimed=party_of(gridmap, dispute.claimed_owner),
            returner=party_of(gridmap, dispute.returner),
            regulations=[
                gridmap.regulations[r]
                for r in (clause.cites if clause else ())
                if r in gridmap.regulations
            ],
            higher=False,
            **card_data(uow, case),
        )


# --- the ruling ---------------------------------------------------------------------------


async def open_ruling(uow: UnitOfWork, user_id: int, dispute_id: int) -> Case:
    """A press on the adjudicator's message: the case, if this dispute still waits and this
    person rules on it (else refused: ruled already, unknown, or not theirs)."""
    dispute = await uow.session.get(CaseDispute, dispute_id)
    if dispute is None:
        raise CaseActionError("dispute_none")
    case = await uow.session.get(Case, dispute.case_id)
    if case is None:
        raise CaseActionError("dispute_none")
    if dispute.outcome is not None:
        raise CaseActionError("dispute_ruled")
    if not may_rule(uow, user_id, dispute, case):
        raise CaseActionError("not_allowed")
    return case


async def rule(
    uow: UnitOfWork,
    user_id: int,
    case: Case,
    outcome: str,
    reason: str,
    dispute_id: int | None = None,
) -> CaseDispute:
    """The adjudicator's one ruling on the waiting return: `reassigned` (to the owner the
    clause names), `amended` (the same, and the duty list changes for new cases of the
    community) or `upheld` (the returner keeps it: the return is overruled)."""
    if outcome not in RULINGS:
        raise CaseActionError("not_allowed")
    dispute = await pending(uow, case)
    if dispute is None or (dispute_id is not None and dispute.id != dispute_id):
        raise CaseActionError("dispute_none")
    if not may_rule(uow, user_id, dispute, case):
        raise CaseActionError("not_allowed")
    if case.status not in HANDLED:
        raise CaseActionError("case_wrong_state", status=case.status)
    reason = clean_text(reason or "").strip()[:REASON_MAX]
    if not reason:
        raise CaseActionError("desk_text_required")
    gridmap = uow.routing.gridmap
    actor = actor_for(uow, user_id)
    if outcome == "amended":
        await _amend(uow, user_id, case, dispute)
        gridmap = uow.routing.gridmap
    dispute.outcome = "upheld" if outcome == "upheld" else "reassigned"
    dispute.ruled_by, dispute.ruled_at, dispute.ruling_reason = user_id, uow.now, reason
    if outcome == "upheld":
        case.version += 1
        await lifecycle.record(uow, case, actor, "return_upheld", note=reason)
        await lifecycle._refresh_owner_card(uow, case)  # noqa: SLF001
    else:
        await _reassign(uow, case, dispute, actor, reason, gridmap)
    returner = dispute.returned_by
    uow.outbox.send(
        returner,
        await chat_language(uow, returner),
        "dispute_ruled",
        case_id=case.id,
        case=case,
        dispute=dispute,
        amended=outcome == "amended",
        reason=reason,
    )
    return dispute


async def _reassign(
    uow: UnitOfWork, case: Case, dispute: CaseDispute, actor: Actor, reason: str, gridmap: GridMap
) -> None:
    """The case goes to the owner the clause names, by the routing rules for that owner."""
    one = Amendment("grid", case.grid_id, case.category or "other", dispute.claimed_owner)
    counts = await lifecycle.grid_counts(uow, case.grid_id)
    a = assign(
        amend(gridmap, [one]),
        case.grid_id,
        case.category or "other",
        uow.now,
        counts,
        exclude=(dispute.returned_by,),
    )
    a = dataclasses.replace(a, reason="returned", detail={**a.detail, "clause": dispute.clause})
    await lifecycle.reassign(uow, case, a, actor, "transferred", "transferred", note=reason)


async def _amend(uow: UnitOfWork, user_id: int, case: Case, dispute: CaseDispute) -> DutyAmendment:
    """From now on the case's category in its community goes to the owner the clause names;
    refused when that would leave the category with no owner in some grid."""
    gridmap = uow.routing.gridmap
    category = case.category or "other"
    change = Amendment("community", dispute.community_id, category, dispute.claimed_owner)
    bare = unowned_after(gridmap, change)
    if bare:
        names = ", ".join(gridmap.grids[g].name.get("en") for g in bare)
        raise CaseActionError("duty_amend_unowned", grids=names)
    before = clause_for(gridmap, case.grid_id, category)
    row = DutyAmendment(
        community_id=dispute.community_id,
        level=change.level,
        scope=change.scope,
        category=category,
        owner_before=before.owner if before else "grid",
        owner_after=change.owner,
        dispute_id=dispute.id,
        case_id=case.id,
        made_by=user_id,
        by_role=policy.role_of(uow, user_id) or dispute.adjudicator,
        made_at=uow.now,
    )
    uow.session.add(row)
    await uow.session.flush()
    await uow.domain.reload_routing_in(uow)
    return row


# --- the deadline -------------------------------------------------------------------------


async def overdue(uow: UnitOfWork, dispute: CaseDispute) -> bool:
    """The scheduler: a dispute not ruled by its deadline is escalated once (counted), and its
    adjudicators and the next rung of the ladder are told; a case that has ended meanwhile
    closes its dispute as `lapsed`."""
    if dispute.outcome is not None or dispute.escalated_at is not None:
        return False
    if dispute.rule_by > uow.now:
        return False
    case = await uow.session.get(Case, dispute.case_id)
    if case is None or case.status not in HANDLED:
        dispute.outcome, dispute.ruled_at = "lapsed", uow.now
        return True
    dispute.escalated_at = uow.now
    await lifecycle.record(uow, case, SYSTEM, "return_overdue")
    gridmap = uow.routing.gridmap
    await _tell_adjudicators(
        uow, case, dispute, find_clause(gridmap, dispute.clause), "dispute_overdue"
    )
    higher = gridmap.ladder.get(dispute.adjudicator)
    if higher in ("leader", "centre", "street") and higher != dispute.adjudicator:
        for person in adjudicators(gridmap, case, higher):
            uow.outbox.send(
                person.telegram_id,
                await chat_language(uow, person.telegram_id),
                "dispute_overdue",
                case_id=case.id,
                case=case,
                dispute=dispute,
                clause=None,
                higher=True,
            )
    return True


def due(now: datetime) -> tuple[Any, ...]:
    """Disputes past their deadline, not ruled and not yet escalated (the scheduler's rows)."""
    return (
        CaseDispute.outcome.is_(None),
        CaseDispute.escalated_at.is_(None),
        CaseDispute.rule_by <= now,
    )


def due_query(now: datetime) -> Any:
    return select(CaseDispute.id).where(*due(now)).order_by(CaseDispute.rule_by)


# --- the numbers ----------------------------------------------------------------------------


@dataclass
class DutyFigures:
    """Returns made, overruled (推诿), time in dispute, escalated disputes: per owner key
    (`m:<member>` or `party:<id>`)."""

    returns: int = 0
    overruled: int = 0
    reassigned: int = 0
    escalated: int = 0
    in_dispute: timedelta = timedelta(0)
    waiting: int = 0

    @property
    def mean_hours(self) -> float | None:
        ruled = self.returns - self.waiting
        return self.in_dispute.total_seconds() / 3600 / ruled if ruled > 0 else None


async def figures(
    uow: UnitOfWork,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    grids: frozenset[str] | None = None,
) -> dict[str, DutyFigures]:
    """The numbers per returner: `m:<telegram id>` for a member, `party:<id>` for a party
    (returns made in [since, until), within these grids)."""
    stmt = select(CaseDispute)
    if since is not None:
        stmt = stmt.where(CaseDispute.opened_at >= since)
    if until is not None:
        stmt = stmt.where(CaseDispute.opened_at < until)
    if grids is not None:
        stmt = stmt.where(CaseDispute.grid_id.in_(sorted(grids)))
    out: dict[str, DutyFigures] = {}
    for d in (await uow.session.execute(stmt)).scalars():
        if d.outcome == "lapsed":  # the case ended before a ruling: no return to count
            continue
        keys = [d.returner] if d.returner != "grid" else []
        keys.append(f"m:{d.returned_by}")
        for key in keys:
            f = out.setdefault(key, DutyFigures())
            f.returns += 1
            f.overruled += d.outcome == "upheld"
            f.reassigned += d.outcome == "reassigned"
            f.escalated += d.escalated_at is not None
            f.waiting += d.outcome is None
            if d.outcome is not None and d.ruled_at is not None:
                f.in_dispute += d.ruled_at - d.opened_at
    return out
