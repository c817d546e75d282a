"""`gridvoice register load FILE`: load the household register (CSV phone,building_id|grid_id).

Only a salted hash of each phone number is stored; the file replaces the previous register.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "register", help="the household register used to verify residents"
    )
    sub = parser.add_subparsers(dest="register_command", metavar="REGISTER_COMMAND")
    load = sub.add_parser("load", help="load a CSV of phone,building_id or phone,grid_id")
    load.add_argument("file", metavar="FILE", type=Path)
    load.set_defaults(func=run_load)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def run_load(args: argparse.Namespace) -> int:
    return asyncio.run(_load(Path(args.file)))


async def _load(path: Path) -> int:
    from bot.cli.bootstrap import with_domain

    return await with_domain(lambda domain: _replace_register(domain, path), need_map=True)


async def _replace_register(domain, path: Path) -> int:  # type: ignore[no-untyped-def]
    from bot.services.people import household

    gridmap = domain.routing.gridmap
    buildings = {b.id: b.grid_id for b in gridmap.buildings.values()}
    rows, problems = household.read_register(path, set(gridmap.grids), buildings)
    for p in problems:
        print(f"ERROR {path}: {p}")
    if problems:
        return 1
    async with domain.unit() as uow:
        await household.replace_register(uow, rows)
    print(f"OK: {len(rows)} households loaded (phones stored hashed)")
    return 0
