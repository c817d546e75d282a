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


__all__ = ["Ownership", "matrix", "ownership", "rule_for"]
