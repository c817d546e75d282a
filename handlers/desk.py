"""/web: a staff member's one-time link to the grid desk in a browser (and its Mini App button)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.services.people import desk_auth
from handlers.context import Ctx

if TYPE_CHECKING:
    from handlers.dispatch import Dispatcher


def register(d: Dispatcher) -> None:
    d.commands["web"] = web_link


async def web_link(ctx: Ctx) -> None:
    user_id = ctx.tg_user.id if ctx.tg_user else 0
    try:
        token = await desk_auth.issue_link(ctx.uow, user_id)
    except desk_auth.DeskAuthError:
        ctx.reply("desk_refused")
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
