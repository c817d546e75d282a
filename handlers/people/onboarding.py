"""Resident onboarding and personal data: consent, language, home address, /mygrid, /mydata, /forget.

What a registered resident writes is a report (`handlers/reports/drafts.py`); what they wrote
before registering is held and handed to the components that asked (`Ctx.on_registered`), so
this module imports no other component.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.render import LANGUAGES
from bot.services.people import access, residents
from bot.services.people.household import request_verification
from bot.services.people.residents import is_registered, set_state, update_state
from bot.services.shared import channels, dialogue
from bot.services.shared.outbox import Button, Keyboard
from handlers.context import Ctx, community_offices
from handlers.message import message_point, message_text
from handlers.people.staff import redeem_invite

if TYPE_CHECKING:
    from bot.store.models import User

#: How many offered buildings stay choosable while the person is choosing an address.
OFFERED_KEPT = 30


def language_keyboard() -> Keyboard:
    return [[Button.of("lang_en", "l:en"), Button.of("lang_zh", "l:zh")]]


def consent_keyboard() -> Keyboard:
    return [
        [
            Button.of("btn_consent_yes", "o:consent:yes"),
            Button.of("btn_consent_no", "o:consent:no"),
        ],
        *language_keyboard(),
    ]


async def start(ctx: Ctx) -> None:
    """`/start`, `/start <invite>` for staff, `/start c<id>` for a consultation."""
    user = ctx.user
    assert user is not None
    if ctx.args:
        code = ctx.args[0]
        if await redeem_invite(ctx, code):
            return
        for prefix, handler in ctx.deep_links.items():
            if code.startswith(prefix):
                await handler(ctx, code[len(prefix) :])
                return
    if not is_registered(user) and ctx.uow.domain.has_routing:
        if access.staff_role(ctx.uow, user.id) is not None:
            ctx.reply("staff_desk", greeting=True)
            return
    if is_registered(user):
        ctx.reply(
            "welcome_back",
            user=user,
            channel=await channels.link_for(ctx.uow, user.home_grid_id),
            **residents.grid_info(ctx.uow, user.home_grid_id or "", ctx.lang),
        )
        return
    if user.consent_at is not None:  # consent recorded, the address still missing
        set_state(user, "address", **_kept_draft(user))
        ctx.reply("ask_address")
        return
    if not residents.may_hold_text(user):
        set_state(user, "consent", keep=False)
    else:
        set_state(user, "consent", **_kept_draft(user))
    ctx.reply("welcome", keyboard=consent_keyboard())


def _kept_draft(user: User) -> dict[str, str | None]:
    """Text typed before onboarding is kept and offered as a report afterwards."""
    data = dict(user.state_data or {})
    return {"pending": data.get("pending") or data.get("text") or None}


async def help_command(ctx: Ctx) -> None:
    role = (
        access.staff_role(ctx.uow, ctx.tg_user.id)
        if ctx.uow.domain.has_routing and ctx.tg_user
        else None
    )
    ctx.reply("help", role=role)


async def language_command(ctx: Ctx) -> None:
    ctx.reply("language_choose", keyboard=language_keyboard())


async def language_button(ctx: Ctx) -> None:
    user = ctx.user
    assert user is not None
    choice = ctx.args[0] if ctx.args else ""
    if choice not in LANGUAGES:
        ctx.answer("not_allowed")
        return
    user.language = choice
    ctx.lang = choice
    ctx.answer("language_set")
    if user.state == "consent":
        ctx.reply("welcome", keyboard=consent_keyboard())
    else:
        ctx.reply("language_changed")


async def privacy(ctx: Ctx) -> None:
    ctx.reply("privacy")


async def onboarding_button(ctx: Ctx) -> None:
    user = ctx.user
    assert user is not None
    action = ctx.args[0] if ctx.args else ""
    if not _still_open(user, action, ctx.args[1:2]):
        # An old message's button (or a forged press): onboarding is over or never offered it.
        ctx.answer("choice_expired", alert=True)
        return
    if action == "consent":
        if ctx.args[1:2] == ["yes"]:
            residents.give_consent(ctx.uow, user, ctx.person)
            pending = (user.state_data or {}).get("pending")
            set_state(user, "address", pending=pending)
            ctx.answer()
            ctx.reply("ask_address")
        elif ctx.args[1:2] == ["no"]:
            # Remembered as a state, so nothing written afterwards is kept (see content()).
            set_state(user, residents.DECLINED)
            ctx.answer()
            ctx.reply("consent_declined")
        else:
            ctx.answer("not_allowed")
        return
    if user.consent_at is None:
        ctx.answer("consent_needed", alert=True)
        return
    if action == "bld" and len(ctx.args) > 1:
        if not residents.set_home(ctx.uow, user, ctx.args[1][:64]):
            ctx.answer("not_allowed")
            return
        ctx.answer()
        await _registered(ctx)
        return
    if action == "none":
        set_state(user, "address", pending=(user.state_data or {}).get("pending"))
        ctx.answer()
        ctx.reply("address_none", **community_offices(ctx))
        return
    ctx.answer("not_allowed")


def _still_open(user: User, action: str, choice: list[str]) -> bool:
    """Whether an onboarding button may still count: consent only before registration, a
    building only while this person is choosing an address and only one offered to them."""
    if is_registered(user):
        return False
    if action in ("bld", "none"):
        if user.state != "address":
            return False
        offered = (user.state_data or {}).get("offered") or ()
        return action == "none" or (bool(choice) and choice[0] in offered)
    return True


async def _registered(ctx: Ctx) -> None:
    """Registered: the grid is introduced, the household check asked for, and what the
    resident wrote meanwhile goes to the components that take it (the report draft)."""
    user = ctx.user
    assert user is not None and user.home_grid_id
    pending = residents.held_report(ctx.uow, (user.state_data or {}).get("pending"))
    set_state(user, None)
    ctx.reply("registered", user=user, **residents.grid_info(ctx.uow, user.home_grid_id, ctx.lang))
    await request_verification(ctx.uow, user)
    if pending:
        for take in ctx.on_registered:
            await take(ctx, pending)


async def onboarding_input(ctx: Ctx) -> bool:
    """The dialogue table's reader for `consent`, `declined` and `address`. A registered
    resident has nothing left to answer here: the prompt ends and the message is theirs."""
    user = ctx.user
    assert user is not None
    if is_registered(user):
        await dialogue.end(ctx.uow, user, tell=False)
        return False
    await content(ctx)
    return True


async def content(ctx: Ctx) -> None:
    """A message from someone not registered yet: onboarding answers. Without consent and a
    home nothing is a report; with consent, what they write is held for afterwards."""
    user = ctx.user
    message = ctx.message
    assert user is not None and message is not None
    text, _ = message_text(ctx)
    limit = ctx.uow.settings.max_text_length
    if user.state == "address":
        await _address_input(ctx, text)
        return
    if user.consent_at is not None and not user.home_grid_id:
        # Consent is recorded (the address step was left with /cancel): ask for the address
        # again, never for consent again; what they wrote is kept for afterwards.
        if text:
            _hold_pending(user, "address", text, limit)
        else:
            set_state(user, "address", **_kept_draft(user))
        ctx.reply("ask_address", kept=bool(text) and _holds_report(ctx, user))
        return
    if not residents.may_hold_text(user):
        # Declined, or erased with /forget: without consent nothing is kept.
        if user.state != residents.DECLINED:
            set_state(user, "consent", keep=False)
        ctx.reply("welcome", keyboard=consent_keyboard(), not_kept=bool(text))
        return
    if text:
        _hold_pending(user, "consent", text, limit)
    ctx.reply("welcome", keyboard=consent_keyboard(), kept=bool(text) and _holds_report(ctx, user))


def _holds_report(ctx: Ctx, user: User) -> bool:
    """Whether what the person wrote so far will be offered as a report once registered."""
    return residents.held_report(ctx.uow, (user.state_data or {}).get("pending")) is not None


def _hold_pending(user: User, state: str, text: str, limit: int) -> None:
    """Add what the person wrote to the text offered as a report once they are registered."""
    before = (user.state_data or {}).get("pending") or ""
    pending = before + ("\n" if before else "") + text
    set_state(user, state, pending=pending[: limit * 2])


async def _address_input(ctx: Ctx, text: str) -> None:
    user = ctx.user
    message = ctx.message
    assert user is not None and message is not None
    point = message_point(message)  # a location pin or a venue
    if point is not None:
        if residents.set_home_point(ctx.uow, user, *point):
            await _registered(ctx)
        else:
            ctx.reply("location_outside", **community_offices(ctx))
        return
    if not text:
        ctx.reply("ask_address")
        return
    matches = residents.match_address(ctx.uow, text)
    if not matches:
        ctx.reply("address_no_match", text=text, **community_offices(ctx))
        return
    keyboard: Keyboard = [
        [Button.literal(m.building.name.get(ctx.lang), f"o:bld:{m.building.id}")] for m in matches
    ]
    keyboard.append([Button.of("btn_none_of_these", "o:none")])
    # Only what was offered may be chosen (an earlier list of this dialogue too).
    offered = list((user.state_data or {}).get("offered") or [])
    fresh = [m.building.id for m in matches if m.building.id not in offered]
    update_state(user, offered=(offered + fresh)[-OFFERED_KEPT:])
    ctx.reply("address_choose", keyboard=keyboard, text=text)


async def my_grid(ctx: Ctx) -> None:
    user = ctx.user
    assert user is not None
    if not user.home_grid_id:
        await start(ctx)
        return
    ctx.reply(
        "my_grid",
        channel=await channels.link_for(ctx.uow, user.home_grid_id),
        **residents.grid_info(ctx.uow, user.home_grid_id, ctx.lang),
    )


async def my_data(ctx: Ctx) -> None:
    user = ctx.user
    assert user is not None
    ctx.reply("my_data", **await residents.my_data(ctx.uow, user))


async def forget_command(ctx: Ctx) -> None:
    ctx.reply(
        "forget_confirm",
        keyboard=[[Button.of("btn_forget_yes", "f:yes"), Button.of("btn_forget_no", "f:no")]],
    )


async def forget_button(ctx: Ctx) -> None:
    user = ctx.user
    assert user is not None
    if ctx.args[:1] == ["yes"]:
        kept = await residents.forget(ctx.uow, user)
        ctx.answer()
        ctx.reply("forgotten", cases=kept)
    else:
        ctx.answer()
        ctx.reply("forget_kept")


# Read by the dispatcher (handlers/dispatch.py).
COMMANDS = {
    "start": start,
    "help": help_command,
    "language": language_command,
    "privacy": privacy,
    "mygrid": my_grid,
    "mydata": my_data,
    "forget": forget_command,
}
CALLBACKS = {"o": onboarding_button, "l": language_button, "f": forget_button}
