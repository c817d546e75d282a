"""`gridvoice run`: the bot, long polling by default or `--webhook URL`."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("run", help="run the bot (long polling, or --webhook URL)")
    p.add_argument("--token", help="bot token (default: $TELEGRAM_BOT_TOKEN)")
    p.add_argument("--api-url", help="Bot API server, e.g. the emulator's http://127.0.0.1:8081")
    p.add_argument("--database-url", help="default: $DATABASE_URL or a SQLite file")
    p.add_argument("--grid-map", help="load this grid map YAML at start (if it changed)")
    p.add_argument("--webhook", metavar="URL", help="public webhook URL; serves it from aiohttp")
    p.add_argument(
        "--webhook-secret", help="secret Telegram echoes in X-Telegram-Bot-Api-Secret-Token"
    )
    p.add_argument(
        "--public-url",
        help="https address people reach the HTTP edge at: desk links, the Mini App "
        "(default: $GRIDVOICE_PUBLIC_URL)",
    )
    p.add_argument("--listen", default="0.0.0.0", help="HTTP host for webhook, /healthz, /metrics")
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    p.add_argument("--log-level", default="INFO")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from bot import logs
    from bot.cli.bootstrap import settings_from_env

    logs.setup(args.log_level)
    secret = args.webhook_secret or os.environ.get("GRIDVOICE_WEBHOOK_SECRET")
    if args.webhook and not secret:
        secret = secrets.token_urlsafe(24)
    settings = settings_from_env(
        token=args.token,
        api_url=args.api_url,
        database_url=args.database_url,
        webhook_url=args.webhook,
        webhook_secret=secret,
        listen_host=args.listen,
        listen_port=args.port,
        gridmap_path=args.grid_map,
        public_url=args.public_url.rstrip("/") if args.public_url else None,
    )
    try:
        asyncio.run(_main(settings))
    except KeyboardInterrupt:
        pass
    return 0


async def _main(settings) -> None:  # type: ignore[no-untyped-def]
    import signal

    from bot.cli.bootstrap import freeze_when_warm, start_bot

    gv = await start_bot(settings, settings.gridmap_path)
    frozen = asyncio.create_task(freeze_when_warm(gv))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)  # graceful: drain calls in flight, then exit
    try:
        await stop.wait()
    finally:
        await gv.stop()
        await asyncio.gather(frozen, return_exceptions=True)
