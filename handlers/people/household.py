"""Household verification in the chat: the grid member's `h:` buttons (confirm or not that a
resident lives where they say) and a resident's own phone number shared as a contact."""

from __future__ import annotations

from bot.services.people import household
from handlers.context import Ctx


async def verify_button(ctx: Ctx) -> None:
    """`h:y|n:<resident token>`: the member's decision on a resident's home."""
    if len(ctx.args) < 2 or ctx.args[0] not in ("y", "n") or ctx.tg_user is None:
        ctx.answer("not_allowed")
        return
    try:
        resident = await household.decide(ctx.uow, ctx.tg_user.id, ctx.args[1], ctx.args[0] == "y")
    except PermissionError:
        ctx.answer("not_allowed", alert=True)
        return
    except household.AlreadyDecided as decided:
        ctx.answer("verify_already_decided", alert=True, approved=decided.approved)
        return
    ctx.answer("verify_done")
    ctx.reply("consult_verify_done", resident=resident, approved=ctx.args[0] == "y")


async def contact_shared(ctx: Ctx) -> None:
    """A shared contact: the sender's own number may match the household register."""
    message = ctx.message
    user = ctx.user
    assert message is not None and message.contact is not None and user is not None
    contact = message.contact
    if ctx.tg_user is None or contact.user_id != ctx.tg_user.id:
        # Only the sender's own number (shared with Telegram's button) proves anything.
        ctx.reply("consult_contact_result", outcome="not_yours")
        return
    outcome = await household.verify_by_contact(ctx.uow, user, contact.phone_number)
    ctx.reply("consult_contact_result", outcome=outcome)


# Read by the dispatcher (handlers/dispatch.py).
CALLBACKS = {"h": verify_button}
CONTACT = contact_shared
