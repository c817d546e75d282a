"""`gridvoice sim`: run the Telegram Bot API emulator until Ctrl-C."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("sim", help="run the Telegram Bot API emulator (no network needed)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8081, help="port to listen on (0 = any free)")
    p.add_argument("--flood", action="store_true", help="enforce Telegram-like flood limits")
    p.add_argument(
        "--spec",
        metavar="PATH",
        default=None,
        help="check every call against this Bot API api.json (default: $GRIDVOICE_BOTAPI_SPEC)",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from bot.emulator.server import serve

    serve(args.host, args.port, flood=args.flood, spec_path=args.spec)
    return 0
