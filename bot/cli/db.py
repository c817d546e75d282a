"""`gridvoice db upgrade`: apply the Alembic migrations (also done on every start)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("db", help="database maintenance")
    sub = p.add_subparsers(dest="db_command", metavar="ACTION")
    up = sub.add_parser("upgrade", help="apply every migration")
    up.add_argument("--database-url", default=None)
    up.set_defaults(func=_upgrade)


def _upgrade(args: argparse.Namespace) -> int:
    from bot.cli.bootstrap import settings_from_env
    from bot.store.db import upgrade_sync

    settings = settings_from_env(database_url=args.database_url)
    upgrade_sync(settings.database_url)
    print(f"database is up to date: {_safe(settings.database_url)}")
    return 0


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
