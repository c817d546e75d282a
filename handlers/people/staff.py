"""Staff in the chat: one-time invites (`/invite`, opened with `/start <code>`) and `/web`, a
member's one-time link to the grid desk in a browser (and its Mini App button). A registered
resident's `/web` is the same kind of link, of the resident scope (and, over https, a menu button
to the residents' Mini App sign-in): it signs them in on the public pages, to propose and support
there (bot/web/public/residents.py).

Deactivating a member hands their cases over, so `/deactivate` is with the queues
(`handlers/cases/queues.py`).
"""

from __future__ import annotations

from bot.services.people import desk_auth, staff
from bot.services.people.policy import Capability
from bot.services.people.staff import StaffError
from handlers.context import Ctx, may


async def invite(ctx: Ctx) -> None:
    """`/invite member <grid>` · `leader <grid>` · `committee <community>` · `party <id>`."""
    if not may(ctx, Capability.ADMIN):
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


async def web_link(ctx: Ctx) -> None:
    """`/web`: a one-time desk login link; in the private chat also the Mini App menu button.
    A resident (not staff) gets a one-time link that signs them in on the public pages."""
    user_id = ctx.tg_user.id if ctx.tg_user else 0
    try:
        token = await desk_auth.issue_link(ctx.uow, user_id)
    except desk_auth.DeskAuthError:
        await _resident_link(ctx, user_id)
        return
    url = desk_auth.login_url(ctx.uow.domain, token)
    if url is None:
        ctx.reply("desk_unavailable")
        return
    minutes = int(ctx.uow.settings.desk_link_ttl.total_seconds() // 60)
    ctx.reply("desk_link", url=url, minutes=minutes)
    app_url = desk_auth.web_app_url(ctx.uow.settings)
    if app_url is not None and ctx.chat_id == user_id:
        ctx.uow.outbox.menu_button(
            user_id, ctx.uow.domain.renderer.label(ctx.lang, "btn_desk"), app_url
        )


async def _resident_link(ctx: Ctx, user_id: int) -> None:
    if ctx.chat_id != user_id:  # a link that signs in as you belongs in your private chat
        ctx.reply("desk_refused")
        return
    try:
        token = await desk_auth.issue_link(ctx.uow, user_id, desk_auth.RESIDENT)
    except desk_auth.DeskAuthError:
        ctx.reply("desk_refused")
        return
    url = desk_auth.resident_login_url(ctx.uow.domain, token)
    if url is None:
        ctx.reply("desk_unavailable")
        return
    minutes = int(ctx.uow.settings.desk_link_ttl.total_seconds() // 60)
    ctx.reply("resident_web_link", url=url, minutes=minutes)
    app_url = desk_auth.web_app_url(ctx.uow.settings, desk_auth.RESIDENT)
    if app_url is not None:
        label = ctx.uow.domain.renderer.label(ctx.lang, "btn_web_resident")
        ctx.uow.outbox.menu_button(user_id, label, app_url)


# Read by the dispatcher (handlers/dispatch.py).
COMMANDS = {"invite": invite, "web": web_link}
