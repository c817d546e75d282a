"""Loading a grid map into the store: versions, communities, grids and the map's staff."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.clock import wall_now
from bot.services.shared.domain import Domain
from bot.store.models import Community, Grid, GridMapVersion, StaffMember
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


async def ensure_loaded(domain: Domain, path: str) -> bool:
    """Load `path` unless the newest stored version has the same text. True if loaded."""
    text = Path(path).read_text(encoding="utf-8")
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
