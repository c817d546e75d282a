"""Staff queues in the chat: `/queue`, `/triage`, `/case GV-…`, `/stats`, and `/deactivate`,
which takes a member off the staff list and hands their queue over."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.bounds import MAX_TELEGRAM_ID, arg, parse_id
from bot.services.cases import lifecycle as case_service
from bot.services.cases import notes, queues
from bot.services.cases.status import OPEN
from bot.services.cases.views import cb, ownership_data, send_card
from bot.services.people import access, staff
from bot.services.people.policy import Capability
from bot.services.people.staff import StaffError
from bot.services.shared.outbox import Button, Keyboard
from handlers.context import Ctx, may, refused

if TYPE_CHECKING:
    from bot.store.models import Case

# `/stats [days]`: the period when none (or no usable one) is given, and the longest.
DEFAULT_STATS_DAYS = 30
MAX_STATS_DAYS = 3660

# What a case's human id looks like (`GV-2026-000123`): anything else is not looked up.
HUMAN_ID = re.compile(r"[A-Za-z]{1,8}-\d{4}-\d{1,12}")


async def queue(ctx: Ctx) -> None:
    user_id = ctx.tg_user.id if ctx.tg_user else 0
    if case_service.staff_role(ctx.uow, user_id) is None:
        ctx.reply("staff_only")
        return
    items = await queues.queue(ctx.uow, user_id)
    keyboard: Keyboard = [[Button.literal(f"{c.human_id}", cb("view", c))] for c in items[:10]]
    ctx.reply("queue", cases=items, now=ctx.uow.now, keyboard=keyboard)


async def triage(ctx: Ctx) -> None:
    if refused(ctx, Capability.TRIAGE):
        return
    items = await queues.triage_queue(ctx.uow, ctx.tg_user.id if ctx.tg_user else 0)
    if not items:
        ctx.reply("triage_empty")
        return
    for case in items[:10]:
        await send_card(ctx.uow, case, ctx.chat_id, [])


async def show_case(ctx: Ctx) -> None:
    """`/case GV-…`: the timeline for anyone who may read it (staff in scope, the reporter,
    a follower); staff who may act on it also get its card."""
    user_id = ctx.tg_user.id if ctx.tg_user else 0
    if not ctx.args or not HUMAN_ID.fullmatch(ctx.args[0].strip()):
        ctx.reply("case_usage")
        return
    case = await case_service.find_case(ctx.uow, ctx.args[0])
    viewer = await access.reader_of(ctx.uow, user_id, case) if case is not None else None
    if case is None or viewer is None:
        ctx.reply("case_not_found", human_id=ctx.args[0][:32])
        return
    ctx.reply(
        "timeline",
        case=case,
        events=await _events(ctx, user_id, case, viewer),
        viewer=viewer,
        now=ctx.uow.now,
        **ownership_data(ctx.uow, case, ctx.lang),
    )
    if viewer == "staff" and case.status in OPEN and case_service.may_act(ctx.uow, user_id, case):
        await send_card(ctx.uow, case, ctx.chat_id, [])


async def _events(ctx: Ctx, user_id: int, case: Case, viewer: str) -> list:  # type: ignore[type-arg]
    """The timeline as this reader reads it: staff also read the case's internal notes."""
    events = await case_service.timeline(
        ctx.uow, case, only_public=viewer == "follower", staff=viewer == "staff"
    )
    if viewer != "staff":
        return events
    return await notes.staff_timeline(ctx.uow, user_id, case, events)


async def stats(ctx: Ctx) -> None:
    if refused(ctx, Capability.REPORTS):
        return
    user_id = ctx.tg_user.id if ctx.tg_user else 0
    asked = parse_id(arg(ctx.args, 0), high=MAX_STATS_DAYS)
    days = asked or DEFAULT_STATS_DAYS
    await ctx.uow.reads_much()  # the cases of up to a year
    report = await queues.assessment(ctx.uow, user_id, days=days)
    ignored = ctx.args[0][:32] if ctx.args and asked is None else None
    helpers = await queues.task_assessment(ctx.uow, user_id, days=days)
    ctx.reply(
        "stats",
        report=report,
        helpers=helpers,
        days=days,
        ignored=ignored,
        max_days=MAX_STATS_DAYS,
    )


async def deactivate(ctx: Ctx) -> None:
    if not may(ctx, Capability.ADMIN):
        ctx.reply("admin_only")
        return
    target = parse_id(ctx.args[0], high=MAX_TELEGRAM_ID) if len(ctx.args) == 1 else None
    if target is None:
        ctx.reply("deactivate_usage")
        return
    try:
        await staff.deactivate(ctx.uow, target)
    except StaffError as exc:
        ctx.reply(exc.key, **exc.data)
        return
    moved = await queues.hand_over_cases(ctx.uow, ctx.tg_user.id if ctx.tg_user else 0, target)
    ctx.reply("deactivated", user=ctx.args[0], moved=moved)


# Read by the dispatcher (handlers/dispatch.py). In groups, `/case` and `/queue` answer only
# in the staff chats the map names.
COMMANDS = {
    "queue": queue,
    "triage": triage,
    "case": show_case,
    "stats": stats,
    "deactivate": deactivate,
}
GROUP_COMMANDS = ("case", "queue")
