"""`gridvoice api-key create NAME [--link LINK --level LEVEL] | revoke KEY_ID | list`: keys for
outside Open311 clients, and link keys (another deployment, a department, a hotline) whose
cases are received as hand-offs (bot/services/cases/intake.py).

The key is printed once, at creation; only its hash is stored. A revoked key is refused (403)
from the next request on.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("api-key", help="issue, revoke and list Open311 API keys")
    sub = parser.add_subparsers(dest="api_key_command", metavar="ACTION")
    create = sub.add_parser("create", help="issue a key (printed once)")
    create.add_argument("name", metavar="NAME", help="who the key is for, e.g. city-311")
    create.add_argument(
        "--link",
        metavar="LINK",
        help="a link key: cases posted with it are received from this link (交办, 上报, 派单)",
    )
    create.add_argument(
        "--level",
        metavar="LEVEL",
        choices=("community", "street", "district", "city", "department", "hotline"),
        help="the link's level: community, street, district, city, department or hotline",
    )
    create.set_defaults(func=lambda args: _run(_create, args))
    revoke = sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", metavar="KEY_ID", type=int)
    revoke.set_defaults(func=lambda args: _run(_revoke, args))
    listing = sub.add_parser("list", help="list keys (never the keys themselves)")
    listing.set_defaults(func=lambda args: _run(_list, args))
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _run(
    action: Callable[[Any, argparse.Namespace], Awaitable[int]], args: argparse.Namespace
) -> int:
    from bot.cli.bootstrap import run_with_domain

    return run_with_domain(lambda domain: action(domain, args))


async def _create(domain: Any, args: argparse.Namespace) -> int:
    from bot.services.public import api_keys

    link, level = getattr(args, "link", None), getattr(args, "level", None)
    if (link is None) != (level is None):
        print("ERROR a link key needs both --link NAME and --level LEVEL")
        return 1
    try:
        async with domain.unit() as uow:
            issued = await api_keys.create_key(
                uow.session, args.name, uow.now, link=link, level=level
            )
    except ValueError as exc:
        print(f"ERROR {exc}")
        return 1
    print(f"key {issued.id} for {issued.name}: {issued.key}")
    if link:
        print(f"cases posted with it are received from the link {link} ({level})")
    print("Store it now: it is not shown again (only its hash is kept).")
    return 0


async def _revoke(domain: Any, args: argparse.Namespace) -> int:
    from bot.services.public import api_keys

    async with domain.unit() as uow:
        row = await api_keys.revoke_key(uow.session, args.key_id, uow.now)
    if row is None:
        print(f"ERROR no key {args.key_id}")
        return 1
    print(f"key {row.id} ({row.name}) revoked")
    return 0


async def _list(domain: Any, args: argparse.Namespace) -> int:
    from bot.services.public import api_keys

    async with domain.sessions() as session:
        rows = await api_keys.list_keys(session)
    if not rows:
        print("no API keys")
    for row in rows:
        state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
        used = f"last used {row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never used"
        kind = f"  link {row.link_name} ({row.link_level})" if row.link_name else ""
        print(f"{row.id:>4}  {row.prefix}…  {row.name}{kind}  {state}, {used}")
    return 0
