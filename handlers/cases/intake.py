"""Cases staff file in the chat: `/patrol` (found on patrol: the words and photos, then a pin
or a building — the `patrol` prompt) and `/assist` (for a resident without Telegram: how they
came, their words, the place, a phone number or none, then the resident's consent and how they
want to hear back — the `assist` prompt and the `it:` buttons). Both file through
`bot.services.cases.staff_intake`, like the desk's intake form."""

from __future__ import annotations

from bot.services.cases import staff_intake as intake
from bot.services.shared import dialogue
from bot.services.shared.dialogue import Prompt
from bot.services.shared.outbox import Button, Keyboard
from handlers.context import Ctx
from handlers.message import message_image, message_point, message_text

PHOTOS_MAX = 5
NO_PHONE = ("-", "—", "无", "none", "no")


def _allowed(ctx: Ctx) -> bool:
    return ctx.user is not None and intake.may_file(ctx.uow, ctx.user.id)


async def patrol_command(ctx: Ctx) -> None:
    if not _allowed(ctx):
        ctx.reply("intake", what="refused", key="not_allowed")
        return
    assert ctx.user is not None
    dialogue.arm(ctx.uow, ctx.user, Prompt.PATROL, step="words", photos=[])
    ctx.reply("intake", what="patrol_words")


async def assist_command(ctx: Ctx) -> None:
    if not _allowed(ctx):
        ctx.reply("intake", what="refused", key="not_allowed")
        return
    assert ctx.user is not None
    dialogue.arm(ctx.uow, ctx.user, Prompt.ASSIST, step="channel")
    ctx.reply(
        "intake",
        what="assist_channel",
        keyboard=[
            [Button.of("btn_intake_phone_call", "it:ch:phone")],
            [Button.of("btn_intake_walk_in", "it:ch:walk_in")],
        ],
    )


def _place(ctx: Ctx, text: str) -> intake.Place:
    message = ctx.message
    point = message_point(message) if message is not None else None
    return intake.place_of(ctx.uow, point=point, words=None if point else text)


async def patrol_message(ctx: Ctx) -> bool:
    """The dialogue table's reader for `patrol`."""
    user, message = ctx.user, ctx.message
    assert user is not None and message is not None
    if not _allowed(ctx):
        await dialogue.end(ctx.uow, user)
        return False
    data = dialogue.own_data(user)
    text, _ = message_text(ctx)
    image = message_image(message)
    if image is not None and len(data.get("photos") or []) < PHOTOS_MAX:
        data["photos"] = [*(data.get("photos") or []), image[0]]
    if data.get("step") == "words":
        if text:
            data.update(step="place", words=text)
        dialogue.put(user, Prompt.PATROL, data, ctx.uow.now)
        ctx.reply("intake", what="patrol_place" if text else "patrol_words")
        return True
    if message_point(message) is None and not text:
        dialogue.put(user, Prompt.PATROL, data, ctx.uow.now)
        ctx.reply("intake", what="patrol_place")
        return True
    try:
        case = await intake.file_patrol(
            ctx.uow,
            user.id,
            text=str(data.get("words") or ""),
            place=_place(ctx, text),
            photos=list(data.get("photos") or []),
            language=ctx.lang,
        )
    except intake.IntakeError as exc:
        ctx.reply("intake", what="refused", key=exc.key)
        return True
    await dialogue.end(ctx.uow, user)
    ctx.reply("intake", what="filed", case=case, source=case.source)
    return True


async def assist_message(ctx: Ctx) -> bool:
    """The dialogue table's reader for `assist`: words, place, phone; then the buttons."""
    user = ctx.user
    assert user is not None
    if not _allowed(ctx):
        await dialogue.end(ctx.uow, user)
        return False
    data = dialogue.own_data(user)
    text, _ = message_text(ctx)
    step = data.get("step")
    if step == "channel":
        ctx.reply("intake", what="assist_channel")
        return True
    if step == "words":
        if not text:
            ctx.reply("intake", what="assist_words")
            return True
        data.update(step="place", words=text)
        dialogue.put(user, Prompt.ASSIST, data, ctx.uow.now)
        ctx.reply("intake", what="assist_place")
        return True
    if step == "place":
        try:
            place = _place(ctx, text)
        except intake.IntakeError as exc:
            ctx.reply("intake", what="refused", key=exc.key)
            return True
        data.update(
            step="phone",
            grid_id=place.grid_id,
            building_id=place.building_id,
            point=list(place.point) if place.point else None,
        )
        dialogue.put(user, Prompt.ASSIST, data, ctx.uow.now)
        ctx.reply("intake", what="assist_phone")
        return True
    if step == "phone":
        phone = None
        if text.strip().lower() not in NO_PHONE:
            try:
                phone = intake.clean_phone(text)
            except intake.IntakeError as exc:
                ctx.reply("intake", what="refused", key=exc.key)
                return True
        data.update(step="consent", phone=phone)
        dialogue.put(user, Prompt.ASSIST, data, ctx.uow.now)
        keyboard: Keyboard = [[Button.of("btn_intake_consent_printed", "it:ok:printed")]]
        if phone:
            keyboard.append([Button.of("btn_intake_consent_phone", "it:ok:phone")])
        ctx.reply("intake", what="assist_consent", phone=phone, keyboard=keyboard)
        return True
    ctx.reply("intake", what="assist_consent")
    return True


async def intake_button(ctx: Ctx) -> None:
    """`it:ch:<phone|walk_in>` how the resident came; `it:ok:<printed|phone>` the resident
    agreed and how they hear back: the case is filed."""
    user = ctx.user
    assert user is not None
    if not _allowed(ctx):
        ctx.answer("not_allowed", alert=True)
        return
    action = ctx.args[0] if ctx.args else ""
    arg = ctx.args[1] if len(ctx.args) > 1 else ""
    data = dialogue.own_data(user)
    if user.state != Prompt.ASSIST:
        ctx.answer("vol_stale")
        return
    if action == "ch" and data.get("step") == "channel" and arg in intake.CHANNELS:
        ctx.answer()
        data.update(step="words", channel=arg)
        dialogue.put(user, Prompt.ASSIST, data, ctx.uow.now)
        ctx.reply("intake", what="assist_words")
        return
    if action != "ok" or data.get("step") != "consent" or arg not in intake.HEAR_BACK:
        ctx.answer("vol_stale")
        return
    point = data.get("point")
    place = intake.Place(
        str(data.get("grid_id") or ""),
        data.get("building_id") if isinstance(data.get("building_id"), str) else None,
        (float(point[0]), float(point[1])) if isinstance(point, list) and len(point) == 2 else None,
    )
    try:
        case = await intake.file_assisted(
            ctx.uow,
            user.id,
            text=str(data.get("words") or ""),
            place=place,
            channel=str(data.get("channel") or ""),
            hear_back=arg,
            phone=data.get("phone") if isinstance(data.get("phone"), str) else None,
            consent=True,
            language=ctx.lang,
        )
    except intake.IntakeError as exc:
        ctx.answer(exc.key, alert=True)
        return
    ctx.answer()
    await dialogue.end(ctx.uow, user)
    ctx.reply("intake", what="filed", case=case, source=case.source, hear_back=arg)


# Read by the dispatcher (handlers/dispatch.py).
COMMANDS = {"patrol": patrol_command, "assist": assist_command}
CALLBACKS = {"it": intake_button}
