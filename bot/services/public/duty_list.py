"""The public "who does what" list of a community: the responsibility matrix in force (the
loaded map with the amendments rulings made, `cases/duty.py`), clause by clause, with the
regulations each cites and the history of its amendments.

Organisations and roles only: a party's name, "the grid's members", the adjudicator's role —
never a person's name, id or the reason staff wrote. A case is named by its public id only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.services.shared.domain import Domain
from bot.store.db import reading
from bot.store.models import Case, DutyAmendment
from routing.gridmap import Community, GridMap, Party, Regulation
from routing.matrix import Clause, clause_for


@dataclass(frozen=True)
class DutyRow:
    category: str
    clause: Clause | None  # None: no rule, the grid's members (fallback)
    party: Party | None  # the party it names, None for the grid's members
    regulations: tuple[Regulation, ...]
    grids: tuple[str, ...]  # the grids of the community where this clause is in force


@dataclass(frozen=True)
class Change:
    version: int
    at: datetime
    category: str
    before: Party | None
    after: Party | None
    by_role: str
    case: str | None  # the case's public id


@dataclass(frozen=True)
class DutyList:
    community: Community
    rows: list[DutyRow]
    history: list[Change]  # newest first

    @property
    def version(self) -> int:
        return len(self.history)


def _party(gridmap: GridMap, owner: str) -> Party | None:
    return gridmap.parties.get(owner[6:]) if owner.startswith("party:") else None


def rows_of(gridmap: GridMap, community: Community) -> list[DutyRow]:
    """One row per category and clause in force in some grid of the community."""
    out: list[DutyRow] = []
    for category in gridmap.categories:
        by_clause: dict[str | None, list[str]] = {}
        found: dict[str | None, Clause | None] = {}
        for gid in community.grid_ids:
            clause = clause_for(gridmap, gid, category)
            key = clause.id if clause else None
            by_clause.setdefault(key, []).append(gid)
            found[key] = clause
        for key, grids in by_clause.items():
            clause = found[key]
            out.append(
                DutyRow(
                    category,
                    clause,
                    _party(gridmap, clause.owner) if clause else None,
                    tuple(
                        gridmap.regulations[r]
                        for r in (clause.cites if clause else ())
                        if r in gridmap.regulations
                    ),
                    tuple(grids) if len(by_clause) > 1 else (),
                )
            )
    return out


async def duty_list(domain: Domain, gridmap: GridMap, community: Community) -> DutyList:
    async with reading(domain.engine) as conn:
        found = (
            await conn.execute(
                select(
                    DutyAmendment.made_at,
                    DutyAmendment.category,
                    DutyAmendment.owner_before,
                    DutyAmendment.owner_after,
                    DutyAmendment.by_role,
                    Case.human_id,
                )
                .outerjoin(Case, Case.id == DutyAmendment.case_id)
                .where(DutyAmendment.community_id == community.id)
                .order_by(DutyAmendment.id)
            )
        ).all()
    history = [
        Change(n, at, cat, _party(gridmap, before), _party(gridmap, after), role, human)
        for n, (at, cat, before, after, role, human) in enumerate(found, start=1)
    ]
    return DutyList(community, rows_of(gridmap, community), history[::-1])
