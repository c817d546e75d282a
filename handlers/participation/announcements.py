"""Announcements in the chat: `/announce` (the committee writes the text or a photo, then
picks the grids with `k:a…` buttons and sends), its delivery report, the committee's
`/channel` (the community's announcement channel), and a resident's `/mute` and `/unmute`
(announcements as direct messages off and on)."""

from __future__ import annotations

from typing import Any

from bot.services.participation import announcements, broadcast
from bot.services.participation import consultations as cs
from bot.services.people.policy import Capability
from bot.services.people.residents import set_state, update_state
from bot.services.shared.outbox import Button, Keyboard
from handlers.context import Ctx, may, refused
from handlers.message import message_text


async def announce_command(ctx: Ctx) -> None:
    if refused(ctx, Capability.COMMITTEE):
        return
    assert ctx.user is not None
    set_state(ctx.user, "announce", step="text")
    ctx.reply("announce_step", step="text", grids=[], names={})


def _announce_prompt(ctx: Ctx, grids: list[str]) -> None:
    names = cs.grid_names(ctx.uow, ctx.lang)
    keyboard: Keyboard = [
        [Button.literal(("✅ " if g in grids else "") + n, f"k:ag:{g}")] for g, n in names.items()
    ]
    keyboard.append(
        [Button.of("btn_all_residents", "k:aall"), Button.of("btn_send_announcement", "k:asend")]
    )
    ctx.reply("announce_step", step="grids", grids=grids, names=names, keyboard=keyboard)


async def announce_button(ctx: Ctx) -> None:
    """`k:ag:<grid>` toggles a grid, `k:aall` all grids, `k:asend` sends, `k:arep:<id>` the
    delivery report of one sent."""
    user = ctx.user
    assert user is not None
    if not may(ctx, Capability.COMMITTEE):
        ctx.answer("not_allowed", alert=True)
        return
    action = ctx.args[0] if ctx.args else ""
    arg = ctx.args[1] if len(ctx.args) > 1 else ""
    if action == "arep":
        ctx.answer()
        ctx.reply(
            "consult_report", c=None, report=await cs.delivery_report(ctx.uow, f"announce:{arg}")
        )
        return
    data = dict(user.state_data or {})
    if user.state != "announce" or data.get("step") != "grids":
        ctx.answer("consult_stale")
        return
    ctx.answer()
    grids = set(data.get("grids") or [])
    if action == "ag":
        grids ^= {arg} if arg in ctx.uow.routing.gridmap.grids else set()
    elif action == "aall":
        grids = set(ctx.uow.routing.gridmap.grids)
    if action == "asend":
        if not grids:
            ctx.reply("announce_step", step="grids", grids=[], names={})
            return

        def notify(row: Any, channels: int) -> None:
            ctx.reply(
                "announce_sent",
                a=row,
                channels=channels,
                keyboard=[[Button.of("btn_delivery", f"k:arep:{row.id}")]],
            )

        await announcements.send(
            ctx.uow, user.id, data.get("text") or "", data.get("photo"), sorted(grids), notify
        )
        set_state(user, None)
        return
    update_state(user, grids=sorted(grids))
    _announce_prompt(ctx, sorted(grids))


async def channel_command(ctx: Ctx) -> None:
    """`/channel` shows the linked channel, `/channel @name` (or its id) links one (checked by
    the broadcaster), `/channel off` unlinks it."""
    if refused(ctx, Capability.COMMITTEE):
        return
    assert ctx.user is not None
    scope = broadcast.scope_of(ctx.uow, ctx.user.id)
    given = ctx.args[0] if ctx.args else ""
    if not given:
        ctx.reply("channel_status", action="show", c=await broadcast.current(ctx.uow, scope))
        return
    if given.lower() == "off":
        await broadcast.unlink(ctx.uow, scope)
        ctx.reply("channel_status", action="unlinked", c=None)
        return
    ref = broadcast.parse_channel(given)
    if ref is None:
        ctx.reply("channel_status", action="bad", c=None)
        return
    row = await broadcast.request_link(ctx.uow, ctx.user.id, ctx.lang, ref)
    ctx.reply("channel_status", action="checking", c=row)


async def mute_command(ctx: Ctx) -> None:
    assert ctx.user is not None
    announcements.set_muted(ctx.user, True)
    ctx.reply("announce_mute", muted=True)


async def unmute_command(ctx: Ctx) -> None:
    assert ctx.user is not None
    announcements.set_muted(ctx.user, False)
    ctx.reply("announce_mute", muted=False)


async def announce_message(ctx: Ctx) -> bool:
    """The dialogue table's reader for `announce`: the announcement's text or photo."""
    user = ctx.user
    message = ctx.message
    assert user is not None and message is not None
    if not may(ctx, Capability.COMMITTEE):
        set_state(user, None)
        return False
    text, _ = message_text(ctx)
    photo = message.photo[-1].file_id if message.photo else None
    if not text and not photo:
        ctx.reply("announce_step", step="text", grids=[], names={})
        return True
    set_state(user, "announce", step="grids", text=text, photo=photo, grids=[])
    _announce_prompt(ctx, [])
    return True


# Read by the dispatcher (handlers/dispatch.py): the announcement's buttons share the
# committee's `k:` prefix, told apart by their action.
COMMANDS = {
    "announce": announce_command,
    "channel": channel_command,
    "mute": mute_command,
    "unmute": unmute_command,
}
CALLBACKS = {f"k:{action}": announce_button for action in ("ag", "aall", "asend", "arep")}
