"""Leaving a prompt at the chat edge: `/cancel`, and any other command, asking the dialogue table.

Every component's prompts are left the same way (the table says what `/cancel` answers and
whether a command leaves a prompt), so this lives beside the dispatcher, not in a component.
"""

from __future__ import annotations

from bot.services.cases import lifecycle as case_service
from bot.services.cases.status import OPEN
from bot.services.cases.views import refresh_card
from bot.services.people import residents
from bot.services.shared import dialogue
from bot.services.shared.dialogue import Prompt
from bot.services.shared.outbox import Button, Keyboard
from handlers.context import Ctx


async def leave_prompt(ctx: Ctx, *, command: bool, not_staff: bool = False) -> bool:
    """Leave the person's prompt, if the dialogue table says this leaves it, saying what.

    `/cancel` calls it first (every prompt with a cancel answer); any other command calls it
    too (the prompts a command leaves), so a prompt never stays armed behind a command and
    catches the next free text as a reason. Staff are told which prompt and that nothing was
    sent; a resident's optional prompt is left quietly on a command. An unsent draft set aside
    under the prompt comes back."""
    user = ctx.user
    prompt = dialogue.prompt_of(user) if user is not None else None
    if user is None or prompt is None:
        return False
    rule = dialogue.rule(prompt)
    if not not_staff and (rule.cancel is None or (command and not rule.command_leaves)):
        return False
    data = dialogue.own_data(user)
    case = None
    if isinstance(data.get("case_id"), int):
        case = await case_service.find_case_by_id(ctx.uow, int(data["case_id"]))
    if rule.audience == "staff":
        ctx.reply(
            "prompt_left", prompt=prompt.value, case=case, command=command, not_staff=not_staff
        )
    elif not command:
        ctx.reply(rule.cancel or "dialogue_cancelled")
    keep = {k: data[k] for k in rule.cancel_keeps if k in data}
    await dialogue.end(ctx.uow, user, keep=keep)
    card_chat = data.get("card_chat")
    choosing = (Prompt.TRANSFER_REASON, Prompt.SUPERVISE_REASON, Prompt.RETURN_REASON)
    if prompt in choosing and case is not None and isinstance(card_chat, int):
        # The card showed the transfer targets (or supervision deadlines): its own buttons back.
        await refresh_card(ctx.uow, case, card_chat)
    return True


async def cancel_command(ctx: Ctx) -> None:
    """`/cancel`: the armed prompt's own answer from the dialogue table; with none, the
    resident's open cases to withdraw."""
    user = ctx.user
    assert user is not None
    await dialogue.read(ctx.uow, user)  # a lapsed prompt is not there to cancel
    if await leave_prompt(ctx, command=False):
        return
    items = [c for c in await residents.my_cases(ctx.uow, user) if c.status in OPEN]
    if not items:
        ctx.reply("nothing_to_cancel")
        return
    keyboard: Keyboard = [
        [Button.of("btn_withdraw", f"r:cx:{c.id}", case_id=c.human_id)] for c in items[:10]
    ]
    ctx.reply("cancel_choose", keyboard=keyboard, cases=items)


# Read by the dispatcher (handlers/dispatch.py).
COMMANDS = {"cancel": cancel_command}
