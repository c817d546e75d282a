"""`gridvoice export [--out DIR] [--month YYYY-MM]`: write the open data files.

Writes cases.csv (or cases-YYYY-MM.csv with --month), cases.geojson, grids.geojson,
grid-months.csv, proposals.csv and datapackage.json into DIR — the same files the web edge serves under
/data/. Cases are streamed from the database to the file; memory stays at one batch.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("export", help="write the open data files (CSV, GeoJSON)")
    parser.add_argument("--out", type=Path, default=Path("open-data"), metavar="DIR")
    parser.add_argument("--month", default=None, metavar="YYYY-MM", help="only this month's cases")
    parser.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from bot.services.public.open_data import parse_month

    month = None
    if args.month is not None:
        month = parse_month(args.month)
        if month is None:
            print(f"ERROR --month {args.month!r}: expected YYYY-MM, e.g. 2026-11")
            return 2
    from bot.cli.bootstrap import run_with_domain

    out = Path(args.out)
    return run_with_domain(lambda domain: _export(domain, out, month), need_map=True)


async def _export(domain, out: Path, month: str | None) -> int:  # type: ignore[no-untyped-def]
    written = await export_files(domain, out, month)
    for path, rows in written:
        print(f"{path}  {rows} rows" if rows is not None else str(path))
    return 0


async def export_files(domain, out: Path, month: str | None) -> list[tuple[Path, int | None]]:  # type: ignore[no-untyped-def]
    """Write every open data file into `out`; returns (path, data rows) for each."""
    from bot.services.public import open_data

    out.mkdir(parents=True, exist_ok=True)
    cases_name = f"cases-{month}.csv" if month else "cases.csv"
    written: list[tuple[Path, int | None]] = []

    async def write(name: str, chunks) -> None:  # type: ignore[no-untyped-def]
        path = out / name
        lines = 0
        with path.open("w", encoding="utf-8", newline="") as fh:
            async for chunk in chunks:
                fh.write(chunk)
                lines += 1
        written.append((path, lines - 1 if name.endswith(".csv") else None))

    await write(cases_name, open_data.cases_csv(domain, month=month))
    await write("cases.geojson", open_data.cases_geojson(domain, month=month))
    await write("grid-months.csv", open_data.grid_months_csv(domain))
    await write("proposals.csv", open_data.proposals_csv(domain))
    grids = out / "grids.geojson"
    grids.write_text(json.dumps(open_data.grids_geojson(domain), ensure_ascii=False), "utf-8")
    written.append((grids, None))
    package = out / "datapackage.json"
    package.write_text(
        json.dumps(open_data.datapackage(domain, cases_name), ensure_ascii=False, indent=1),
        "utf-8",
    )
    written.append((package, None))
    return written
