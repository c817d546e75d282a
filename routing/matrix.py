"""The responsibility matrix: who owns a category of problem in a grid.

Rules are looked up grid override -> community override -> defaults. An owner is ``grid``
(the grid's member pool) or ``party:<id>``; when a party owns a category and
``responsibility.follow_up`` is ``grid``, the grid member still follows the case up.
A category with no rule at all falls back to the grid pool with ``source='fallback'``
(``routing.check`` reports it as ``unowned_category``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from routing.duty import _mapping
from routing.gridmap import GridMapError, Party, Responsibility

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


def parse_responsibility(
    r: Mapping[str, Any],
    communities: Mapping,
    grids: Mapping,
    parties: Mapping,
    categories: tuple[str, ...],
    issue: Callable[[str, str, str], None],
) -> Responsibility:
    """Parse the ``responsibility`` section; ``issue(code, where, message)`` records problems."""

    def rules(value: Any, where: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for cat, owner in _mapping(value, where).items():
            if cat not in categories:
                issue("unknown_reference", f"{where}.{cat}", f"unknown category {cat!r}")
                continue
            if owner != "grid" and not (isinstance(owner, str) and owner.startswith("party:")):
                raise GridMapError(
                    f"{where}.{cat}: owner must be 'grid' or 'party:<id>', got {owner!r}"
                )
            if owner.startswith("party:") and owner[6:] not in parties:
                issue("unknown_reference", f"{where}.{cat}", f"unknown party {owner[6:]!r}")
                continue
            out[str(cat)] = owner
        return out

    defaults = rules(r.get("defaults"), "responsibility.defaults")
    comms: dict[str, dict[str, str]] = {}
    for cid, v in _mapping(r.get("communities"), "responsibility.communities").items():
        if cid not in communities:
            issue(
                "unknown_reference",
                f"responsibility.communities.{cid}",
                f"unknown community {cid!r}",
            )
            continue
        comms[cid] = rules(v, f"responsibility.communities.{cid}")
    grid_rules: dict[str, dict[str, str]] = {}
    for gid, v in _mapping(r.get("grids"), "responsibility.grids").items():
        if gid not in grids:
            issue("unknown_reference", f"responsibility.grids.{gid}", f"unknown grid {gid!r}")
            continue
        grid_rules[gid] = rules(v, f"responsibility.grids.{gid}")
    follow = r.get("follow_up", "grid")
    if follow not in ("grid", None, "none"):
        raise GridMapError(f"responsibility.follow_up: expected 'grid' or 'none', got {follow!r}")
    return Responsibility(defaults, comms, grid_rules, "grid" if follow == "grid" else None)


__all__ = ["Ownership", "matrix", "ownership", "parse_responsibility", "rule_for"]
