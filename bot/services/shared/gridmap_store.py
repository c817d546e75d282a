"""Loading a grid map into the store: versions, communities, grids and the map's staff."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from sqlalchemy import select

from bot.clock import wall_now
from bot.config import Settings
from bot.services.shared.domain import Domain
from bot.store.db import upgrade
from bot.store.models import Community, Grid, GridMapVersion, StaffMember
from routing.check import check_gridmap
from routing.gridmap import GridMap


async def load_document(domain: Domain, document: str, source: str) -> GridMap:
    """Store a map version and sync the tables derived from it. Raises GridMapError."""
    gridmap = GridMap.from_yaml(document)
    async with domain.unit() as uow:
        session = uow.session
        session.add(GridMapVersion(loaded_at=wall_now(), source=source, document=document))
        for community in gridmap.communities.values():
            row = await session.get(Community, community.id)
            if row is None:
                row = Community(id=community.id)
                session.add(row)
            row.name_en, row.name_zh = community.name.en, community.name.zh
        await session.flush()
        for grid in gridmap.grids.values():
            row = await session.get(Grid, grid.id)
            if row is None:
                row = Grid(id=grid.id)
                session.add(row)
            row.community_id, row.name_en, row.name_zh = (
                grid.community_id,
                grid.name.en,
                grid.name.zh,
            )
        existing = {
            s.telegram_id: s for s in (await session.execute(select(StaffMember))).scalars()
        }
        for person in gridmap.staff.values():
            row = existing.get(person.telegram_id)
            if row is None:
                row = StaffMember(
                    telegram_id=person.telegram_id, joined_at=wall_now(), source="map"
                )
                session.add(row)
            elif row.source == "invite":
                continue  # an invite given later wins over the map
            row.name, row.role = person.name, person.role
            row.grid_ids = list(person.grid_ids)
            row.community_id, row.party_id = person.community_id, person.party_id
            row.active = person.active
        for telegram_id, row in existing.items():
            if row.source == "map" and telegram_id not in gridmap.staff:
                row.active = False
    await domain.reload_routing(force=True)
    return gridmap


async def load_file(
    settings: Settings, path: str, *, force: bool = False
) -> tuple[GridMap, list[str]]:
    text = Path(path).read_text(encoding="utf-8")
    gridmap = GridMap.from_yaml(text)
    problems = [f"{p.code} {p.where}: {p.message}" for p in check_gridmap(gridmap)]
    if problems and not force:
        return gridmap, problems
    await upgrade(settings.database_url)
    domain = Domain(settings)
    try:
        await load_document(domain, text, str(path))
    finally:
        await domain.dispose()
    return gridmap, problems


def register_load(grids_subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = grids_subparsers.add_parser("load", help="load a grid map YAML into the database")
    p.add_argument("file")
    p.add_argument("--force", action="store_true", help="load even if `grids check` finds problems")
    p.add_argument("--database-url", default=None)
    p.set_defaults(func=_load)


def _load(args: argparse.Namespace) -> int:
    from routing.gridmap import GridMapError

    settings = Settings.from_env(database_url=args.database_url)
    try:
        gridmap, problems = asyncio.run(load_file(settings, args.file, force=args.force))
    except (GridMapError, OSError) as exc:
        print(f"ERROR {exc}")
        return 1
    for problem in problems:
        print(f"ERROR {problem}")
    if problems and not args.force:
        print("not loaded (use --force to load anyway)")
        return 1
    print(
        f"loaded {len(gridmap.grids)} grids, {len(gridmap.buildings)} buildings, {len(gridmap.staff)} staff"
    )
    return 0


async def ensure_loaded(settings: Settings, path: str) -> bool:
    """Load `path` unless the newest stored version has the same text. True if loaded."""
    text = Path(path).read_text(encoding="utf-8")
    domain = Domain(settings)
    try:
        async with domain.sessions() as session:
            newest = (
                await session.execute(
                    select(GridMapVersion).order_by(GridMapVersion.id.desc()).limit(1)
                )
            ).scalar_one_or_none()
        if newest is not None and newest.document == text:
            return False
        await load_document(domain, text, path)
        return True
    finally:
        await domain.dispose()
