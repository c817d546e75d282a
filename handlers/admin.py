"""Admin in the chat: one-time staff invites and deactivation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.bounds import MAX_TELEGRAM_ID, parse_id
from bot.services.cases import queues
from bot.services.people import policy, staff
from bot.services.people.policy import Capability
from bot.services.people.staff import StaffError
from handlers.context import Ctx

if TYPE_CHECKING:
    from handlers.dispatch import Dispatcher


def register(d: Dispatcher) -> None:
    d.commands.update({"invite": invite, "deactivate": deactivate})


def _is_admin(ctx: Ctx) -> bool:
    return policy.may(ctx.uow, ctx.tg_user.id if ctx.tg_user else 0, Capability.ADMIN)


async def invite(ctx: Ctx) -> None:
    """`/invite member <grid>` · `leader <grid>` · `committee <community>` · `party <id>`."""
    if not _is_admin(ctx):
        ctx.reply("admin_only")
        return
    if len(ctx.args) != 2:
        ctx.reply("invite_usage")
        return
    role, target = ctx.args
    try:
        created = await staff.create_invite(
            ctx.uow, ctx.tg_user.id if ctx.tg_user else 0, role.lower(), target
        )
    except StaffError as exc:
        ctx.reply(exc.key, **exc.data)
        return
    username = ctx.uow.domain.bot_username or "gridvoice_bot"
    ctx.reply(
        "invite_created",
        link=f"https://t.me/{username}?start={created.code}",
        role=created.role,
        target=created.target,
    )


async def redeem_invite(ctx: Ctx, code: str) -> bool:
    """`/start <invite code>`: the person who opens it gets that role. True if it was an invite."""
    if not code.startswith("inv"):
        return False
    user = ctx.user
    assert user is not None and ctx.tg_user is not None
    try:
        used = await staff.redeem_invite(ctx.uow, code, user.id, ctx.tg_user.full_name)
    except StaffError as exc:
        ctx.reply(exc.key, **exc.data)
        return True
    if used is None:
        ctx.reply("invite_unknown")
        return True
    ctx.reply("invite_welcome", role=used.role, target=used.target)
    return True


async def deactivate(ctx: Ctx) -> None:
    if not _is_admin(ctx):
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
