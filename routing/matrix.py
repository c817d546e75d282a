"""The responsibility matrix: who owns a category of problem in a grid.

Rules are looked up grid override -> community override -> defaults. An owner is ``grid``
(the grid's member pool) or ``party:<id>``; when a party owns a category and
``responsibility.follow_up`` is ``grid``, the grid member still follows the case up.
A category with no rule at all falls back to the grid pool with ``source='fallback'``
(``routing.check`` reports it as ``unowned_category``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from routing.gridmap import GridMapError, Party

if TYPE_CHECKING:
    from routing.gridmap import GridMap


@dataclass(frozen=True)
class Ownership:
    category: str
    grid_id: str
    owner: str  # 'grid' | 'party'
    party: Party | None
    follow_up_by_grid: bool
    source: str  # 'grid' | 'community' | 'default' | 'fallback'


def rule_for(gridmap: GridMap, grid_id: str, category: str) -> tuple[str | None, str]:
    """-> (raw rule or None, where it came from)."""
    resp = gridmap.responsibility
    rule = resp.grids.get(grid_id, {}).get(category)
    if rule is not None:
        return rule, "grid"
    community_id = gridmap.grids[grid_id].community_id
    rule = resp.communities.get(community_id, {}).get(category)
    if rule is not None:
        return rule, "community"
    rule = resp.defaults.get(category)
    return (rule, "default") if rule is not None else (None, "fallback")


def ownership(gridmap: GridMap, grid_id: str, category: str) -> Ownership:
    if category not in gridmap.categories:
        raise GridMapError(f"unknown category {category!r}")
    if grid_id not in gridmap.grids:
        raise GridMapError(f"unknown grid {grid_id!r}")
    rule, source = rule_for(gridmap, grid_id, category)
    if rule and rule.startswith("party:"):
        party = gridmap.parties.get(rule[6:])
        if party is None:
            raise GridMapError(
                f"grid {grid_id}: category {category!r} names unknown party {rule[6:]!r}"
            )
        follow = gridmap.responsibility.follow_up == "grid"
        return Ownership(category, grid_id, "party", party, follow, source)
    return Ownership(category, grid_id, "grid", None, False, source)


def matrix(gridmap: GridMap) -> dict[str, dict[str, Ownership]]:
    """grid_id -> category -> Ownership, for every grid and every category."""
    return {
        gid: {cat: ownership(gridmap, gid, cat) for cat in gridmap.categories}
        for gid in gridmap.grids
    }


# --- clauses: every entry of the matrix, citable by a stable id -------------------------------
# A return ("not ours") cites the clause that makes a case someone else's. A clause's id is the
# `clause:` its entry names, or derived from where it stands: `all.<category>` for a default,
# `<community>.<category>` or `<grid>.<category>` for an override.


@dataclass(frozen=True)
class Clause:
    id: str
    level: str  # 'default' | 'community' | 'grid'
    scope: str  # '*', a community id or a grid id
    category: str
    owner: str  # 'grid' | 'party:<id>'
    cites: tuple[str, ...] = ()


def _clause(gridmap: GridMap, level: str, scope: str, category: str, owner: str) -> Clause:
    named = gridmap.responsibility.named.get((level, scope, category))
    explicit, cites = named if named is not None else (None, ())
    derived = f"{'all' if level == 'default' else scope}.{category}"
    return Clause(explicit or derived, level, scope, category, owner, cites)


def clauses(gridmap: GridMap) -> list[Clause]:
    """Every entry of the matrix as a clause, defaults first, in the map's order."""
    resp = gridmap.responsibility
    out = [_clause(gridmap, "default", "*", c, o) for c, o in resp.defaults.items()]
    for cid, rules in resp.communities.items():
        out += [_clause(gridmap, "community", cid, c, o) for c, o in rules.items()]
    for gid, rules in resp.grids.items():
        out += [_clause(gridmap, "grid", gid, c, o) for c, o in rules.items()]
    return out


def clause_for(gridmap: GridMap, grid_id: str, category: str) -> Clause | None:
    """The clause in force for a category in a grid (None: no rule, the grid's fallback)."""
    rule, source = rule_for(gridmap, grid_id, category)
    if rule is None:
        return None
    scope = {"grid": grid_id, "community": gridmap.grids[grid_id].community_id}.get(source, "*")
    return _clause(gridmap, source, scope, category, rule)


def clauses_in(gridmap: GridMap, grid_id: str) -> list[Clause]:
    """The clauses in force in a grid, one per category that has a rule."""
    known = gridmap._clauses.get(grid_id)
    if known is None:
        found = (clause_for(gridmap, grid_id, c) for c in gridmap.categories)
        known = gridmap._clauses[grid_id] = tuple(c for c in found if c is not None)
    return list(known)


def owner_key(party_id: str | None) -> str:
    """How a clause names an owner: `party:<id>`, or `grid` for the grid's own members."""
    return f"party:{party_id}" if party_id else "grid"


# --- amendments: a ruling changes who owns a category in a community or a grid --------------


@dataclass(frozen=True)
class Amendment:
    level: str  # 'community' | 'grid'
    scope: str  # its id
    category: str
    owner: str  # 'grid' | 'party:<id>'


def amend(gridmap: GridMap, changes: list[Amendment]) -> GridMap:
    """The map with the amendments applied in order (one that names what the map no longer
    has is skipped): a new rule at the community or grid level."""
    import dataclasses

    resp = gridmap.responsibility
    comms = {k: dict(v) for k, v in resp.communities.items()}
    grids = {k: dict(v) for k, v in resp.grids.items()}
    for a in changes:
        if a.category not in gridmap.categories:
            continue
        if a.owner.startswith("party:") and a.owner[6:] not in gridmap.parties:
            continue
        if a.level == "community" and a.scope in gridmap.communities:
            comms.setdefault(a.scope, {})[a.category] = a.owner
        elif a.level == "grid" and a.scope in gridmap.grids:
            grids.setdefault(a.scope, {})[a.category] = a.owner
    if not changes:
        return gridmap
    return dataclasses.replace(
        gridmap, responsibility=dataclasses.replace(resp, communities=comms, grids=grids)
    )


def unowned_after(gridmap: GridMap, change: Amendment) -> list[str]:
    """The grids an amendment would leave with nobody to own the category: a party with no
    chat and no active staff, or a grid with no active member or leader."""
    after = amend(gridmap, [change])
    grids = (
        [change.scope]
        if change.level == "grid"
        else list(gridmap.communities[change.scope].grid_ids)
        if change.scope in gridmap.communities
        else []
    )
    bare = []
    for gid in grids:
        own = ownership(after, gid, change.category)
        if own.owner == "party" and own.party is not None:
            staffed = own.party.chat_id is not None or any(
                i in after.staff and after.staff[i].active for i in own.party.staff_ids
            )
        else:
            staffed = bool(after.members_of(gid) or after.leaders_of(gid))
        if not staffed:
            bare.append(gid)
    return bare


__all__ = [
    "Amendment",
    "Clause",
    "Ownership",
    "amend",
    "clause_for",
    "clauses",
    "clauses_in",
    "matrix",
    "owner_key",
    "ownership",
    "rule_for",
    "unowned_after",
]
