"""`gridvoice hotline import FILE [--link NAME]` and `gridvoice hotline replies [--since DATE]`:
a 12345-style hotline's orders (派单) in, and the replies on close (回单) out.

The import reads a UTF-8 CSV with a header (`order_id`, `service_code`, and a location:
`lat` and `long`, `address_string` or `address_id`; `description` optional), at most 10,000
rows and 5 MB. Each row is checked like an Open311 request and filed as a case received from
the hotline, or reported as a duplicate (its order id was filed before) or refused with the
reason. Progress goes to stderr; every duplicate and refused row, then a one-line summary, to
stdout. The exit code is 0 when no row was refused.

`replies` writes the replies of orders whose case has ended (order id, case id, outcome,
closing time, public closing note) as CSV to stdout or `--out FILE`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

PROGRESS_EVERY = 100


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("hotline", help="import hotline orders, export their replies")
    sub = parser.add_subparsers(dest="hotline_command", metavar="ACTION")
    imp = sub.add_parser("import", help="file a hotline's orders from a CSV file")
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument("--link", default=None, metavar="NAME", help="the hotline's link name")
    imp.set_defaults(func=_run_import)
    rep = sub.add_parser("replies", help="the replies on close of the hotline's orders (CSV)")
    rep.add_argument("--since", default=None, metavar="DATE", help="e.g. 2026-11-01")
    rep.add_argument("--link", default=None, metavar="NAME", help="the hotline's link name")
    rep.add_argument("--out", type=Path, default=None, metavar="FILE")
    rep.set_defaults(func=_run_replies)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _text(key: str, data: dict[str, Any]) -> str:
    """An Open311 error's description in English (templates/en/open311.yaml), or its key."""
    import jinja2
    import yaml

    path = Path(__file__).resolve().parents[2] / "templates" / "en" / "open311.yaml"
    texts = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    value = texts.get(f"open311_error_{key}")
    return jinja2.Template(value).render(**data) if value else key


REFUSED_FILE = {
    "too_large": "the file is larger than {limit} bytes",
    "not_utf8": "the file is not UTF-8 text",
    "missing_columns": "the header lacks the column(s) {columns}",
    "too_many_rows": "the file has more than {limit} rows: split it",
    "bad_csv": "the file is not valid CSV ({detail})",
    "no_hotline_key": "no active hotline key {link} (gridvoice api-key create NAME "
    "--link NAME --level hotline)",
    "several_hotlines": "several hotline keys ({names}): name one with --link",
}


def _run_import(args: argparse.Namespace) -> int:
    path: Path = args.file
    try:
        raw = path.read_bytes()
    except OSError as exc:
        print(f"ERROR cannot read {path}: {exc.strerror}")
        return 2
    from bot.cli.bootstrap import run_with_domain

    return run_with_domain(lambda domain: _import(domain, raw, args.link), need_map=True)


async def _import(domain: Any, raw: bytes, link: str | None) -> int:
    from bot.services.public import hotline

    try:
        rows = hotline.read_orders(raw)
        key = await hotline.hotline_key(domain, link)
    except hotline.ImportRefused as exc:
        print("ERROR " + REFUSED_FILE[exc.key].format(**exc.data))
        return 2
    total = len(rows)

    def progress(done: int) -> None:
        if done % PROGRESS_EVERY == 0 or done == total:
            print(f"… {done}/{total} rows", file=sys.stderr, flush=True)

    outcomes = await hotline.import_orders(domain, key, rows, progress)
    counts = {"accepted": 0, "duplicate": 0, "refused": 0}
    for o in outcomes:
        counts[o.outcome] += 1
        if o.outcome == "duplicate":
            print(f"line {o.line} order {o.order_id}: duplicate of {o.case}")
        elif o.outcome == "refused":
            print(
                f"line {o.line} order {o.order_id or '-'}: refused: {_text(o.reason or '', o.data)}"
            )
    print(
        f"{total} rows: {counts['accepted']} accepted, {counts['duplicate']} duplicate, "
        f"{counts['refused']} refused"
    )
    return 1 if counts["refused"] else 0


def _run_replies(args: argparse.Namespace) -> int:
    from bot.services.public.open311 import Open311Error, parse_datetime

    since = None
    if args.since:
        try:
            since = parse_datetime(args.since, "--since")
        except Open311Error:
            print(f"ERROR --since {args.since[:40]!r}: expected a date, e.g. 2026-11-01")
            return 2
    from bot.cli.bootstrap import run_with_domain

    return run_with_domain(lambda domain: _replies(domain, since, args), need_map=True)


async def _replies(domain: Any, since: Any, args: argparse.Namespace) -> int:
    from bot.services.public import hotline

    tz = domain.routing.gridmap.tz
    out = args.out.open("w", encoding="utf-8", newline="") if args.out else sys.stdout
    count = 0
    try:
        out.write(hotline.reply_csv_header())
        async for reply in hotline.replies(domain, since, args.link):
            out.write(hotline.reply_csv_line(reply, tz))
            count += 1
    finally:
        if args.out:
            out.close()
    print(f"{count} replies" + (f" written to {args.out}" if args.out else ""), file=sys.stderr)
    return 0
