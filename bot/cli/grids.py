"""`gridvoice grids ...`: work with grid map files.

``grids check FILE`` validates a map (see docs/grid-map.md) and exits 1 when it has problems.
``grids load FILE`` is registered by ``bot.services.shared.gridmap_store.register_load`` when that
module is installed.
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

    # ---- `grids load FILE` lives with the grid map store (another module) ----------------
    try:
        from bot.services.shared.gridmap_store import register_load
    except ImportError:
        register_load = None
    if register_load is not None:
        register_load(grids_subparsers)
    # ----------------------------------------------------------------------------------------

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
        print(f"ERROR {p.code} {p.where}: {p.message}")
    if problems:
        return 1
    gm = GridMap.from_dict(data)
    print(
        f"OK: {len(gm.grids)} grids, {len(gm.buildings)} buildings, "
        f"{len(gm.categories)} categories owned in every grid"
    )
    return 0
