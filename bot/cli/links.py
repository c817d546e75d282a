"""`gridvoice links status | replay`: the hand-off queue of each link, and a person's replay.

`status` prints each link of the map in force with its hand-offs by state and whether it is
down. `replay HANDOFF` makes a waiting hand-off due now (an unknown outcome is looked up at the
remote before anything is posted); `--resend` posts it again, for a person who checked that the
other side does not have it. `replay --link ID` makes every waiting hand-off of a link due now.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("links", help="hand-offs to other systems: status, replay")
    sub = parser.add_subparsers(dest="links_command", metavar="ACTION")
    status = sub.add_parser("status", help="each link's queue and health")
    status.set_defaults(func=lambda args: _run(_status, args))
    replay = sub.add_parser("replay", help="make waiting hand-offs due now")
    replay.add_argument("handoff", metavar="HANDOFF", type=int, nargs="?")
    replay.add_argument("--link", metavar="ID", help="every waiting hand-off of this link")
    replay.add_argument(
        "--resend", action="store_true", help="post again (after checking the other side)"
    )
    replay.set_defaults(func=lambda args: _run(_replay, args))
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _run(
    action: Callable[[Any, argparse.Namespace], Awaitable[int]], args: argparse.Namespace
) -> int:
    from bot.cli.bootstrap import run_with_domain

    return run_with_domain(lambda domain: action(domain, args))


async def _status(domain: Any, args: argparse.Namespace) -> int:
    from bot.services.cases import handoffs

    await domain.reload_routing()
    rows = await handoffs.status(domain)
    if not rows:
        print("no links in the grid map")
        return 0
    for row in rows:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(row["counts"].items())) or "none"
        down = f"down since {row['down_since']:%Y-%m-%d %H:%M} UTC" if row["down_since"] else "up"
        print(f"{row['id']} ({row['level']}, {row['url']}): {down}; hand-offs: {counts}")
    return 0


async def _replay(domain: Any, args: argparse.Namespace) -> int:
    from bot.services.cases import handoffs

    if args.handoff is None and not args.link:
        print("ERROR name a hand-off or --link ID")
        return 2
    ids = (
        [args.handoff]
        if args.handoff is not None
        else await handoffs.waiting_ids(domain, args.link)
    )
    done = 0
    for n, handoff_id in enumerate(ids, 1):
        state = await handoffs.replay(domain, handoff_id, resend=args.resend)
        if state == "gone":
            print(f"ERROR no hand-off {handoff_id}")
            return 1
        done += 1
        if n % 100 == 0:
            print(f"… {n} of {len(ids)}")
    print(f"{done} hand-off(s) due now{' (to be posted again)' if args.resend else ''}")
    return 0
