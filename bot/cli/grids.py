"""`gridvoice grids ...`: work with grid map files.

``grids check FILE`` validates a map (see docs/grid-map.md) and exits 1 when it has problems.
``grids load FILE`` checks it the same way, then stores it (``--force`` stores it anyway).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("grids", help="check and load grid maps")
    grids_subparsers = parser.add_subparsers(dest="grids_command", metavar="GRIDS_COMMAND")

    check = grids_subparsers.add_parser("check", help="validate a grid map YAML file")
    check.add_argument("file", metavar="FILE", type=Path)
    check.set_defaults(func=run_check)

    load = grids_subparsers.add_parser("load", help="load a grid map YAML into the database")
    load.add_argument("file")
    load.add_argument(
        "--force", action="store_true", help="load even if `grids check` finds problems"
    )
    load.add_argument("--database-url", default=None)
    load.set_defaults(func=run_load)

    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def run_check(args: argparse.Namespace) -> int:
    from routing.check import check_gridmap
    from routing.gridmap import GridMap

    try:
        data = yaml.safe_load(Path(args.file).read_text(encoding="utf-8"))
    except OSError as exc:
        print(f"ERROR malformed {args.file}: cannot read: {exc}")
        return 1
    except yaml.YAMLError as exc:
        print(f"ERROR malformed {args.file}: not valid YAML: {exc}")
        return 1
    problems = check_gridmap(data if isinstance(data, dict) else {"communities": data})
    for p in problems:
        print(f"{'WARNING' if p.warning else 'ERROR'} {p.code} {p.where}: {p.message}")
    if any(not p.warning for p in problems):
        return 1
    gm = GridMap.from_dict(data)
    print(
        f"OK: {len(gm.grids)} grids, {len(gm.buildings)} buildings, "
        f"{len(gm.categories)} categories owned in every grid"
    )
    return 0


def run_load(args: argparse.Namespace) -> int:
    from bot.cli.bootstrap import run_with_domain, settings_from_env
    from bot.services.shared.gridmap_store import load_document
    from routing.check import check_gridmap
    from routing.gridmap import GridMap, GridMapError

    try:
        text = Path(args.file).read_text(encoding="utf-8")
        gridmap = GridMap.from_yaml(text)
    except (GridMapError, OSError) as exc:
        print(f"ERROR {exc}")
        return 1
    found = check_gridmap(gridmap)
    for p in found:
        print(f"{'WARNING' if p.warning else 'ERROR'} {p.code} {p.where}: {p.message}")
    problems = [p for p in found if not p.warning]
    if problems and not args.force:
        print("not loaded (use --force to load anyway)")
        return 1

    async def load(domain) -> int:  # type: ignore[no-untyped-def]
        await load_document(domain, text, str(args.file))
        return 0

    code = run_with_domain(load, settings_from_env(database_url=args.database_url))
    if code == 0:
        print(
            f"loaded {len(gridmap.grids)} grids, {len(gridmap.buildings)} buildings, "
            f"{len(gridmap.staff)} staff"
        )
    return code
