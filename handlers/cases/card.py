"""The case card in the chat: its buttons (`c:`), read from the action table
(`bot.services.cases.actions`), and the staff prompts they arm — the question to the resident,
the resolution note and photo, the reason to decline and its confirmation, the transfer reason,
the public note — with a member's reply to a card, which goes to the resident like a question.

The resolution note and the decline reason go to the resident only; the public note is the one
text staff publish, and its prompt says so."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.bounds import arg, clean_text, parse_id, parse_int
from bot.services.cases import actions, duty, joint, offers, replies, verification
from bot.services.cases import lifecycle as case_service
from bot.services.cases.lifecycle import CaseActionError
from bot.services.cases.reachability import sent_ref
from bot.services.cases.views import (
    adopt_pressed_card,
    category_choices,
    cb,
    refresh_card,
    send_card,
)
from bot.services.people.residents import ensure_user, is_registered
from bot.services.shared import dialogue, messaging
from bot.services.shared.dialogue import Prompt
from bot.services.shared.outbox import Button, Keyboard
from handlers.context import Ctx, status_label
from handlers.message import message_image, message_text

if TYPE_CHECKING:
    from bot.store.models import Case, User

# The card prompts whose answer is a text (the photo step and the decline confirmation take
# other input). Every prompt's rules — what /cancel says, whether a command leaves it, how
# long it lives — are in the dialogue table (`bot.services.shared.dialogue`).
TEXT_STATES = (
    Prompt.ASK,
    Prompt.RESOLVE_NOTE,
    Prompt.REJECT_REASON,
    Prompt.TRANSFER_REASON,
    Prompt.PUBLIC_NOTE,
    Prompt.NOTE,
    Prompt.HOLD_NOTE,
    Prompt.EXTEND_REASON,
    Prompt.SUPERVISE_REASON,
    Prompt.COHANDLER_TASK,
    Prompt.SUMMON_TASK,
    Prompt.TASK_WAIVE,
    Prompt.RETURN_REASON,
    Prompt.RULING_REASON,
)
CARD_PROMPTS = (*TEXT_STATES, Prompt.RESOLVE_PHOTO, Prompt.REJECT_CONFIRM, Prompt.VERIFY_PHOTO)


async def card_button(ctx: Ctx) -> None:
    """`c:<code>:<case>:<version>[:arg...]`: the card's buttons, read from the action table;
    every press is authorised server-side and checked against the table again."""
    user_id = ctx.tg_user.id if ctx.tg_user else 0
    args = ctx.args
    case_id, version = parse_id(arg(args, 1)), parse_int(arg(args, 2))
    if case_id is None or version is None:
        ctx.answer("not_allowed", alert=True)
        return
    code, rest = args[0], args[3:]
    try:
        case = await case_service.authorise(
            ctx.uow, user_id, case_id, version, viewing=code in actions.REACH_CODES
        )
        pressed = _pressed_card(ctx)
        if pressed is not None and code in actions.CARD_CODES:
            await adopt_pressed_card(ctx.uow, case, ctx.chat_id, pressed)
        if code in actions.BY_CODE:
            await _start(ctx, actions.BY_CODE[code], case, rest)
        elif code in actions.BY_STEP:
            await _step(ctx, actions.BY_STEP[code], code, case, rest)
        elif code == "view":
            await send_card(ctx.uow, case, ctx.chat_id, await case_service.photo_ids(ctx.uow, case))
            ctx.answer()
        elif code == "skip":
            await _resolve_from_state(ctx, photo=None)
            ctx.answer()
        elif code in ("rjy", "rjn"):
            await _confirm_reject(ctx, case, confirmed=code == "rjy")
        elif code in REPLY_CODES:
            await _reply_template(ctx, case, rest, use=code == REPLY_CODES[1])
        else:
            ctx.answer("not_allowed", alert=True)
    except CaseActionError as exc:
        ctx.answer(exc.key, alert=True, **status_label(ctx, exc.data))


async def _start(ctx: Ctx, action: actions.StaffAction, case: Case, rest: list[str]) -> None:
    """A press on an action's button: run it, or ask for what it needs first (a text prompt
    in the presser's private chat, or a choice on the card)."""
    user_id = ctx.tg_user.id if ctx.tg_user else 0
    where = actions.Where(ctx.uow, case, user_id=user_id, chat_id=ctx.chat_id)
    await actions.check(where, action)
    first = action.asks[0] if action.asks else None
    if first is None or first is actions.Asks.CATEGORY:
        if first is not None and not rest:
            raise CaseActionError("not_allowed")
        await actions.perform(ctx.uow, user_id, case, action, *rest[:1])
        ctx.answer(action.done)
        if action.once:
            _drop_buttons(ctx)
        await _refresh_pressed(ctx, case)
    elif first in CHOICE_ASKS and _chosen_on_card(action):  # a hold's, an extension's, a return's
        await _offer_choices(ctx, action, case, 0, [])
        await _expect(ctx, action.prompt or "", case)
        ctx.answer()
    elif first is actions.Asks.TEXT:
        await _ask_text(ctx, action, case)
    elif first is actions.Asks.DAYS:
        # A supervision deadline: its choices on the card, then the reason in a prompt.
        keyboard = [
            [
                Button.of("btn_days", cb(action.steps[0], case, d), n=d)
                for d in actions.days_choices(where)
            ],
            [Button.of("btn_back", cb(action.steps[1], case))],
        ]
        await refresh_card(ctx.uow, case, ctx.chat_id, keyboard=keyboard)
        await _expect(ctx, action.prompt or "", case)
        ctx.answer("choose_supervise_days")
    elif first in (actions.Asks.TARGET, actions.Asks.HELPER):
        offered = (
            actions.targets(where) if first is actions.Asks.TARGET else await actions.helpers(where)
        )
        keyboard: Keyboard = [
            [Button.literal(t.label.get(ctx.lang), cb(action.steps[0], case, t.kind[0], t.id))]
            for t in offered
        ]
        keyboard.append([Button.of("btn_back", cb(action.steps[1], case))])
        await refresh_card(ctx.uow, case, ctx.chat_id, keyboard=keyboard)
        # Armed already, with no target yet: /cancel (or any command) puts the card's own
        # buttons back, and text typed before a target is chosen is not taken as a reason.
        await _expect(ctx, action.prompt or "", case)
        ctx.answer("choose_transfer_target" if first is actions.Asks.TARGET else "choose_helper")
    else:
        raise CaseActionError("not_allowed")


async def _step(
    ctx: Ctx, action: actions.StaffAction, code: str, case: Case, rest: list[str]
) -> None:
    """A later step on the card: *More…* for the whole list of categories, a choice made from
    the action's list, or Back."""
    if action.asks and action.asks[0] is actions.Asks.CATEGORY:  # More…: every category
        user_id = ctx.tg_user.id if ctx.tg_user else 0
        await actions.check(actions.Where(ctx.uow, case, user_id=user_id), action)
        assert action.code is not None
        keyboard = category_choices(ctx.uow, case, action.code, code, full=True)
        await refresh_card(ctx.uow, case, ctx.chat_id, keyboard=keyboard)
        ctx.answer()
        return
    if code == action.steps[-1]:  # back: the card's own buttons again
        await refresh_card(ctx.uow, case, ctx.chat_id)
        user = ctx.user
        if (
            user is not None
            and user.state == action.prompt
            and dialogue.own_data(user).get("case_id") == case.id
        ):
            await dialogue.end(ctx.uow, user, tell=False)
        ctx.answer()
        return
    user_id = ctx.tg_user.id if ctx.tg_user else 0
    if action.asks[0] in CHOICE_ASKS and _chosen_on_card(action):  # hold, extension, return
        await _choice_step(ctx, action, code, case, rest)
        return
    if actions.Asks.DAYS in action.asks:  # a supervision deadline, then its reason
        where = actions.Where(ctx.uow, case, user_id=user_id)
        days = parse_int(arg(rest, 0), low=1, high=366)
        if days is None or days not in actions.days_choices(where):
            raise CaseActionError("not_allowed")
        await actions.check(where, action)
        await _ask_text(ctx, action, case, days=days)
        return
    if len(rest) < 2:
        raise CaseActionError("not_allowed")
    target = f"{rest[0]}:{rest[1]}"[:80]
    await actions.check(actions.Where(ctx.uow, case, user_id=user_id), action)
    if actions.Asks.HELPER in action.asks:  # a co-handler or a summoned party of the map
        await joint.check_helper(ctx.uow, user_id, case, target)
    else:
        case_service.check_transfer_target(ctx.uow, user_id, case, target)
    await _ask_text(ctx, action, case, target=target)


# Answers chosen with buttons on the card, one step each, before the action's text prompt.
CHOICE_ASKS = (actions.Asks.REASON, actions.Asks.DAYS, actions.Asks.CLAUSE)


def _token(ask: actions.Asks, value: str) -> str:
    """What a choice's button carries: a clause as its short token, anything else as is."""
    return duty.clause_token(value) if ask is actions.Asks.CLAUSE else value


def _untoken(ask: actions.Asks, pressed: str, offered: list[str]) -> str:
    """The offered value a pressed token stands for (unknown: returned as pressed, refused)."""
    if ask is actions.Asks.CLAUSE:
        return next((v for v in offered if duty.clause_token(v) == pressed), pressed)
    return pressed


def _chosen_on_card(action: actions.StaffAction) -> bool:
    """A hold's or an extension's reason and days, a return's clause: chosen on the card."""
    return bool(action.days_of) or actions.Asks.CLAUSE in action.asks


def _choice_button(ctx: Ctx, ask: actions.Asks, value: str, data: str) -> Button:
    if ask is actions.Asks.REASON:
        return Button.of(f"hold_reason_{value}", data)
    if ask is actions.Asks.CLAUSE:  # the clause and the owner it names
        gridmap = ctx.uow.routing.gridmap
        clause = duty.find_clause(gridmap, value)
        party = duty.party_of(gridmap, clause.owner) if clause else None
        label = ctx.uow.domain.renderer.label
        owner = party.name.get(ctx.lang) if party else label(ctx.lang, "duty_owner_grid")
        category = label(ctx.lang, f"cat_{clause.category}") if clause else ""
        return Button.literal(f"{value} · {category} → {owner}"[:64], data)
    return Button.of("btn_days", data, n=int(value))


async def _offer_choices(
    ctx: Ctx, action: actions.StaffAction, case: Case, index: int, chosen: list[str]
) -> None:
    """The card shows the choices of the action's answer `index` (and Back)."""
    ask = action.asks[index]
    where = actions.Where(ctx.uow, case, user_id=ctx.tg_user.id if ctx.tg_user else 0)
    values = actions.choices(where, action, ask)
    code = action.steps[index]
    buttons = [_choice_button(ctx, ask, v, cb(code, case, *chosen, _token(ask, v))) for v in values]
    width = 1 if ask is actions.Asks.CLAUSE else 3
    keyboard: Keyboard = [buttons[i : i + width] for i in range(0, len(buttons), width)]
    keyboard.append([Button.of("btn_back", cb(action.steps[-1], case))])
    await refresh_card(ctx.uow, case, ctx.chat_id, keyboard=keyboard)


async def _choice_step(
    ctx: Ctx, action: actions.StaffAction, code: str, case: Case, rest: list[str]
) -> None:
    """A choice pressed on the card: checked against what the card offers, then the next
    choice, or the action's text prompt with the choices kept in the presser's state."""
    index = action.steps.index(code)
    user_id = ctx.tg_user.id if ctx.tg_user else 0
    where = actions.Where(ctx.uow, case, user_id=user_id)
    await actions.check(where, action)
    offered = {i: actions.choices(where, action, action.asks[i]) for i in range(index + 1)}
    chosen = [_untoken(action.asks[i], v, offered[i]) for i, v in enumerate(rest[: index + 1])]
    if len(chosen) != index + 1 or any(value not in offered[i] for i, value in enumerate(chosen)):
        raise CaseActionError("not_allowed")
    if action.asks[index + 1] in CHOICE_ASKS:
        await _offer_choices(ctx, action, case, index + 1, chosen)
        ctx.answer()
        return
    await refresh_card(ctx.uow, case, ctx.chat_id)
    await _ask_text(ctx, action, case, choices=chosen)


async def _ask_text(ctx: Ctx, action: actions.StaffAction, case: Case, **extra: object) -> None:
    """Arm the action's prompt: the presser's next private message is its text."""
    assert action.prompt is not None and action.prompt_text is not None
    await _expect(ctx, action.prompt, case, **extra)
    ctx.answer()
    _prompt(ctx, action.prompt_text, case=case, keyboard=_reply_buttons(ctx, action, case))


# Reply templates on a text prompt: "tpl" shows one filled in, "tpu" uses it as is.
REPLY_CODES = ("tpl", "tpu")
_PROMPTED = {Prompt(a.prompt): a for a in actions.ACTIONS if a.prompt}
# Prompts whose text comes after a target chosen on the card.
_TARGETED = (Prompt.TRANSFER_REASON, Prompt.COHANDLER_TASK, Prompt.SUMMON_TASK)


def _reply_buttons(ctx: Ctx, action: actions.StaffAction, case: Case) -> Keyboard | None:
    """The templates offered for this action and case, as buttons under its prompt."""
    user_id = ctx.tg_user.id if ctx.tg_user else 0
    offered = replies.offered(ctx.uow, case, action.name, user_id, ctx.lang)[:8]
    buttons = [Button.literal(o.title, cb(REPLY_CODES[0], case, o.index)) for o in offered]
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)] or None


async def _reply_template(ctx: Ctx, case: Case, rest: list[str], *, use: bool) -> None:
    """A template pressed under a prompt: shown filled in (to use as is, or to copy, edit and
    send), or used as is — exactly as if the member had typed it. Only while that prompt is
    armed for this case; the text is taken from the templates again, never from the press."""
    user = ctx.user
    prompt = await dialogue.read(ctx.uow, user) if user is not None else None
    data = dialogue.own_data(user) if user is not None else {}
    action = _PROMPTED.get(prompt) if prompt is not None else None
    if (
        user is None
        or action is None
        or data.get("case_id") != case.id
        or (prompt in _TARGETED and not data.get("target"))
    ):
        ctx.answer("prompt_expired", alert=True)
        return
    chosen = replies.pick(
        ctx.uow, case, action.name, user.id, parse_int(arg(rest, 0), high=1000), ctx.lang
    )
    ctx.answer()
    if not use:
        keyboard = [[Button.of("btn_reply_use", cb(REPLY_CODES[1], case, chosen.index))]]
        ctx.reply(
            "reply_filled", case=case, title=chosen.title, text=chosen.text, keyboard=keyboard
        )
        return
    _drop_buttons(ctx)
    assert prompt is not None
    await _answer_prompt(ctx, user, prompt, data, chosen.text, None)


def _pressed_card(ctx: Ctx) -> int | None:
    query = ctx.update.callback_query
    return query.message.message_id if query is not None and query.message is not None else None


async def _refresh_pressed(ctx: Ctx, case: Case) -> None:
    """After a change, the copy pressed outside the owner's chat (a leader's `/case` copy)
    shows it too; the owner's card is refreshed by the transition itself."""
    if ctx.chat_id != case.owner_chat_id:
        await refresh_card(ctx.uow, case, ctx.chat_id)


async def _expect(ctx: Ctx, state: str, case: Case, **extra: object) -> None:
    """Remember what the presser's next private message means. A button pressed in a party's
    group may come from someone who never wrote to the bot: their row is made now."""
    if ctx.user is None:
        ctx.user = await ensure_user(ctx.uow, ctx.person, ctx.default_language())
        ctx.lang = ctx.user.language
    # The chat of the pressed card: leaving the prompt puts that card's buttons back.
    dialogue.arm(
        ctx.uow,
        ctx.user,
        Prompt(state),
        case_id=case.id,
        version=case.version,
        card_chat=ctx.chat_id,
        **extra,
    )


def _prompt(ctx: Ctx, template: str, **data: object) -> None:
    """Prompts go to the presser's private chat: in a group, other members' messages and the
    dialogue would mix (and the group only takes buttons and commands)."""
    user_id = ctx.tg_user.id if ctx.tg_user else ctx.chat_id
    ctx.tell(user_id, ctx.lang, template, **data)


async def staff_input(ctx: Ctx) -> bool:
    """A staff member's message: an answer to a prompt, or a reply to a card. True if used."""
    user = ctx.user
    message = ctx.message
    if user is None or message is None or not ctx.uow.domain.has_routing:
        return False
    user_id = user.id
    if case_service.staff_role(ctx.uow, user_id) is None:
        return False
    text, _ = message_text(ctx)
    state = user.state
    data = dialogue.own_data(user)
    if state == Prompt.VERIFY_PHOTO:
        return await _verify_photo(ctx, data)
    try:
        if state == Prompt.RESOLVE_PHOTO:
            if message.photo:
                await _resolve_from_state(ctx, photo=message.photo[-1].file_id)
                return True
            if text:
                data["note"] = (data.get("note", "") + "\n" + text).strip()
                dialogue.arm(
                    ctx.uow, user, Prompt.RESOLVE_PHOTO, **{**dialogue.own_data(user), **data}
                )
                ctx.reply("staff_prompt_resolve_photo", keyboard=_skip(ctx, data))
                return True
        if (state in TEXT_STATES or state == Prompt.REJECT_CONFIRM) and (
            text or state == Prompt.ASK and message.photo
        ):
            photo = message.photo[-1].file_id if message.photo else None
            await _answer_prompt(ctx, user, Prompt(state), data, text, photo)
            return True
        if message.reply_to_message is not None and (text or message.photo):
            case_id = await messaging.case_of_message(
                ctx.uow, ctx.chat_id, message.reply_to_message.message_id
            )
            if case_id is not None:
                case = await case_service.authorise(ctx.uow, user_id, case_id, None)
                reached = await case_service.ask(ctx.uow, user_id, case, text or "📷")
                if message.photo and case.resident_id:
                    ctx.uow.outbox.photos(
                        case.resident_id, [message.photo[-1].file_id], case_id=case.id
                    )
                ctx.reply(_sent_or_waiting(reached), case=case, ref=sent_ref(case.id, user_id))
                return True
    except CaseActionError as exc:
        ctx.reply("action_refused", key=exc.key, **status_label(ctx, exc.data))
        if state in CARD_PROMPTS:
            await dialogue.end(ctx.uow, user)
        return True
    if state in CARD_PROMPTS:
        ctx.reply("staff_prompt_need_text")
        return True
    if not is_registered(user) and ctx.update.effective_chat is not None:
        if ctx.update.effective_chat.type == "private":
            # Staff who are not also residents here: their free text is not a report.
            ctx.reply("staff_desk", greeting=False)
            return True
    return False


async def _answer_prompt(
    ctx: Ctx,
    user: User,
    state: Prompt,
    data: dict,
    text: str,
    photo: str | None,  # type: ignore[type-arg]
) -> None:
    """The text that answers a card prompt: typed by the member, or a reply template they
    chose to use as is."""
    user_id = user.id
    case = await case_service.authorise(ctx.uow, user_id, int(data["case_id"]), None)
    if state == Prompt.ASK:
        await dialogue.end(ctx.uow, user, tell=False)
        reached = await case_service.ask(ctx.uow, user_id, case, text or "📷")
        if photo and case.resident_id:
            ctx.uow.outbox.photos(case.resident_id, [photo], case_id=case.id)
        ctx.reply(_sent_or_waiting(reached), case=case, ref=sent_ref(case.id, user_id))
    elif state == Prompt.RESOLVE_NOTE:
        dialogue.arm(
            ctx.uow,
            user,
            Prompt.RESOLVE_PHOTO,
            **{**dialogue.own_data(user), "note": text, "version": case.version},
        )
        ctx.reply(
            "staff_prompt_resolve_photo",
            keyboard=_skip(ctx, {"case_id": case.id, "version": case.version}),
            case=case,
        )
    elif state in (Prompt.REJECT_REASON, Prompt.REJECT_CONFIRM):
        # Declining is final and the resident reads the reason: confirm it first
        # (a mis-tapped Reject followed by "oops" must not decline the case).
        dialogue.arm(
            ctx.uow,
            user,
            Prompt.REJECT_CONFIRM,
            **{**dialogue.own_data(user), "version": case.version, "reason": text},
        )
        ctx.reply(
            "staff_confirm_reject",
            keyboard=[
                [
                    Button.of("btn_reject_confirm", cb("rjy", case)),
                    Button.of("btn_reject_keep", cb("rjn", case)),
                ]
            ],
            case=case,
            reason=text,
        )
    elif state == Prompt.PUBLIC_NOTE:
        action = actions.BY_NAME["public_note"]
        await actions.perform(ctx.uow, user_id, case, action, text)
        ctx.reply("staff_public_note_done", case=case, note=text.strip())
        await dialogue.end(ctx.uow, user)
    elif state in (Prompt.HOLD_NOTE, Prompt.EXTEND_REASON):
        await _deferral_from_state(ctx, case, str(state), data, text)
    elif state == Prompt.SUPERVISE_REASON and not data.get("days"):
        ctx.reply("supervise_pick_days", case=case)
    elif state == Prompt.SUPERVISE_REASON:
        action = actions.BY_NAME["supervise"]
        await actions.perform(ctx.uow, user_id, case, action, int(data["days"]), text)
        ctx.reply("staff_supervise_done", case=case)
        await dialogue.end(ctx.uow, user)
        card_chat = data.get("card_chat")
        if isinstance(card_chat, int) and card_chat != case.owner_chat_id:
            await refresh_card(ctx.uow, case, card_chat)  # the supervisor's copy
    elif state == Prompt.TRANSFER_REASON and not data.get("target"):
        ctx.reply("transfer_pick_target", case=case)
    elif state in (Prompt.COHANDLER_TASK, Prompt.SUMMON_TASK) and not data.get("target"):
        ctx.reply("helper_pick_first", case=case)
    elif state in (Prompt.COHANDLER_TASK, Prompt.SUMMON_TASK):
        action = _PROMPTED[state]
        await actions.perform(ctx.uow, user_id, case, action, str(data["target"]), text)
        ctx.reply("staff_task_given", case=case, summons=state == Prompt.SUMMON_TASK)
        await dialogue.end(ctx.uow, user)
    elif state == Prompt.TASK_WAIVE:
        await case_service.waive_task(
            ctx.uow, user_id, int(data.get("task") or 0), parse_int(data.get("task_version")), text
        )
        ctx.reply("staff_task_waived", case=case)
        await dialogue.end(ctx.uow, user)
    elif state == Prompt.NOTE:
        note = await actions.perform(ctx.uow, user_id, case, actions.BY_NAME["note"], text, None)
        gridmap = ctx.uow.routing.gridmap
        told = [gridmap.staff[i].name for i in note.mentions if i != user_id and i in gridmap.staff]
        ctx.reply("staff_note_done", case=case, told=told)
        await dialogue.end(ctx.uow, user)
    elif state == Prompt.TRANSFER_REASON:
        await case_service.transfer(ctx.uow, user_id, case, str(data.get("target", "")), text)
        ctx.reply("staff_done", case=case)
        await dialogue.end(ctx.uow, user)
    elif state == Prompt.RETURN_REASON:
        chosen = [str(c) for c in data.get("choices") or []]
        if len(chosen) != 1:
            ctx.reply("return_pick_clause", case=case)
            return
        await actions.perform(ctx.uow, user_id, case, actions.BY_NAME["return"], chosen[0], text)
        ctx.reply("return_sent", case=case, clause=chosen[0])
        await dialogue.end(ctx.uow, user)
    elif state == Prompt.RULING_REASON:
        outcome = str(data.get("outcome") or "")
        await duty.rule(ctx.uow, user_id, case, outcome, text, parse_id(data.get("dispute")))
        ctx.reply("ruling_done", case=case, outcome=outcome)
        await dialogue.end(ctx.uow, user)


async def _deferral_from_state(
    ctx: Ctx,
    case: Case,
    state: str,
    data: dict,
    text: str,  # type: ignore[type-arg]
) -> None:
    """The note of a hold or the reason of an extension: the request goes to the leader with
    the choices made on the card (checked again by the action's own run)."""
    user = ctx.user
    assert user is not None
    action = next(a for a in actions.ACTIONS if a.prompt == state)
    chosen = [str(c) for c in data.get("choices") or []]
    if len(chosen) != len(action.asks) - 1:
        ctx.reply("deferral_pick_first", case=case)
        return
    answers: list[object] = [
        parse_int(v, high=1000) if ask is actions.Asks.DAYS else v
        for ask, v in zip(action.asks, chosen, strict=False)
    ]
    await actions.perform(ctx.uow, user.id, case, action, *answers, text)
    ctx.reply("deferral_sent", case=case, kind=action.days_of)
    await dialogue.end(ctx.uow, user)


async def _confirm_reject(ctx: Ctx, case: Case, *, confirmed: bool) -> None:
    """The answer to "decline with this reason?": the reason is the one shown, kept in the
    presser's state, never taken from the callback data."""
    user = ctx.user
    assert user is not None
    data = dict(user.state_data or {})
    _drop_buttons(ctx)
    if (
        await dialogue.read(ctx.uow, user) != Prompt.REJECT_CONFIRM
        or data.get("case_id") != case.id
    ):
        ctx.answer("prompt_expired", alert=True)
        return
    if not confirmed:
        ctx.answer("reject_kept")
        await dialogue.end(ctx.uow, user)
        return
    await case_service.reject(ctx.uow, user.id, case, str(data.get("reason") or ""))
    ctx.answer()
    ctx.reply("staff_done", case=case)
    await dialogue.end(ctx.uow, user)


def _drop_buttons(ctx: Ctx) -> None:
    """Take the buttons off the message just pressed (a used question does not stay live)."""
    query = ctx.update.callback_query
    message = query.message if query is not None else None
    if message is not None:
        ctx.uow.outbox.edit_markup(message.chat.id, message.message_id)


def _sent_or_waiting(reached: bool) -> str:
    """'Sent', unless the resident blocked the bot: then the message waits for them."""
    return "staff_sent_to_resident" if reached else "staff_resident_unreachable"


def _skip(ctx: Ctx, data: dict) -> Keyboard:  # type: ignore[type-arg]
    return [[Button.of("btn_skip_photo", f"c:skip:{data['case_id']}:{data.get('version', 0)}")]]


async def _resolve_from_state(ctx: Ctx, photo: str | None) -> None:
    user = ctx.user
    assert user is not None
    data = dict(user.state_data or {})
    if await dialogue.read(ctx.uow, user) != Prompt.RESOLVE_PHOTO or "case_id" not in data:
        raise CaseActionError("card_outdated", status="resolved")
    case = await case_service.authorise(ctx.uow, user.id, int(data["case_id"]), None)
    await case_service.resolve(ctx.uow, user.id, case, data.get("note") or "", photo)
    ctx.reply("staff_done", case=case)
    await dialogue.end(ctx.uow, user)


# --- an independent check of a closure, asked of a member of another grid ------------------


async def verify_button(ctx: Ctx) -> None:
    """`vp:<check>:<y|n>`: the member saw the place; their photo comes next (the
    `verify_photo` prompt). Only the member asked, only while the check waits."""
    user_id = ctx.tg_user.id if ctx.tg_user else 0
    v_id, answer = parse_id(arg(ctx.args, 0)), arg(ctx.args, 1)
    if v_id is None or answer not in ("y", "n") or ctx.update.effective_chat is None:
        ctx.answer("not_allowed", alert=True)
        return
    try:
        await verification.open_check(ctx.uow, user_id, v_id, verification.PEER)
    except CaseActionError as exc:
        ctx.answer(exc.key, alert=True)
        return
    if ctx.user is None:
        ctx.user = await ensure_user(ctx.uow, ctx.person, ctx.default_language())
        ctx.lang = ctx.user.language
    dialogue.arm(ctx.uow, ctx.user, Prompt.VERIFY_PHOTO, verification=v_id, fixed=answer == "y")
    ctx.answer()
    _prompt(ctx, "verify_peer_photo", fixed=answer == "y")


async def _verify_photo(ctx: Ctx, data: dict) -> bool:  # type: ignore[type-arg]
    """The photo that completes a member's check; words alone are not enough."""
    user = ctx.user
    message = ctx.message
    assert user is not None and message is not None
    image = message_image(message)
    if image is None:
        ctx.reply("verify_peer_need_photo")
        return True
    try:
        await verification.answer(
            ctx.uow,
            user.id,
            int(data.get("verification") or 0),
            verification.PEER,
            bool(data.get("fixed")),
            photo=image[0],
        )
        ctx.reply("verify_peer_done", fixed=bool(data.get("fixed")))
    except CaseActionError as exc:
        ctx.reply("action_refused", key=exc.key, **status_label(ctx, exc.data))
    await dialogue.end(ctx.uow, user)
    return True


# --- joint handling and summons (吹哨报到): the co-handler's card and the lead's Waive ----------

TASK_STEPS = {"s": "sign", "c": "contact", "d": "done"}
TASK_DONE_LABELS = {
    "sign": "task_signed_ok",
    "contact": "task_contacted_ok",
    "done": "task_done_ok",
}


async def task_button(ctx: Ctx) -> None:
    """`j:<task>:<version>:<s|c|d|w>`: sign in, first contact, done (the co-handler's own
    staff, in its chat or group), or waive (the lead: its reason in a prompt). The service
    checks who presses and the version; a replayed or stale press changes nothing."""
    user_id = ctx.tg_user.id if ctx.tg_user else 0
    task_id, version, op = parse_id(arg(ctx.args, 0)), parse_int(arg(ctx.args, 1)), arg(ctx.args, 2)
    if task_id is None or version is None or op not in (*TASK_STEPS, "w"):
        ctx.answer("not_allowed", alert=True)
        return
    try:
        if op == "w":
            case = await case_service.waivable(ctx.uow, user_id, task_id, version)
            await _expect(ctx, Prompt.TASK_WAIVE, case, task=task_id, task_version=version)
            ctx.answer()
            _prompt(ctx, "staff_prompt_waive", case=case)
            return
        step = TASK_STEPS[op]
        await case_service.answer_task(ctx.uow, user_id, task_id, version, step)
        ctx.answer(TASK_DONE_LABELS[step])
    except CaseActionError as exc:
        ctx.answer(exc.key, alert=True, **status_label(ctx, exc.data))


# --- a ruling on a return, pressed on the adjudicator's message -----------------------------

RULING_CODES = {"r": "reassigned", "a": "amended", "u": "upheld"}


async def ruling_button(ctx: Ctx) -> None:
    """`du:<dispute>:<r|a|u>`: the adjudicator's ruling; its reason comes next (the
    `ruling_reason` prompt). The dispute is the guard: ruled once, so a press after the ruling
    (or a forged id) changes nothing; only the dispute's adjudicator may rule."""
    user_id = ctx.tg_user.id if ctx.tg_user else 0
    dispute_id, outcome = parse_id(arg(ctx.args, 0)), RULING_CODES.get(arg(ctx.args, 1) or "")
    if dispute_id is None or outcome is None:
        ctx.answer("not_allowed", alert=True)
        return
    try:
        case = await duty.open_ruling(ctx.uow, user_id, dispute_id)
    except CaseActionError as exc:
        ctx.answer(exc.key, alert=True, **status_label(ctx, exc.data))
        return
    await _expect(ctx, Prompt.RULING_REASON, case, dispute=dispute_id, outcome=outcome)
    ctx.answer()
    _prompt(ctx, "staff_prompt_ruling", case=case, outcome=outcome)


# --- an organisation's answer to a case offered to it (cases/offers.py) -----------------------


async def offer_button(ctx: Ctx) -> None:
    """`og:<offer>:<t|n|d>`: *We'll take it*, *Not for us*, *Done* (then a short note in the
    `org_done_note` prompt). The offer id is read with `bot.bounds` and the service decides
    from the offer row: only its organisation's contact answers, once."""
    user_id = ctx.tg_user.id if ctx.tg_user else 0
    offer_id, what = parse_id(arg(ctx.args, 0)), arg(ctx.args, 1)
    if offer_id is None or what not in ("t", "n", "d"):
        ctx.answer("org_answer_not_allowed", alert=True)
        return
    if what == "d":
        outcome = await offers.may_report(ctx.uow, user_id, offer_id)
        if outcome != "ok":
            ctx.answer(f"org_answer_{outcome}", alert=True)
            return
        if ctx.user is None:
            ctx.user = await ensure_user(ctx.uow, ctx.person, ctx.default_language())
            ctx.lang = ctx.user.language
        dialogue.arm(ctx.uow, ctx.user, Prompt.ORG_DONE_NOTE, offer_id=offer_id)
        ctx.answer()
        ctx.reply("org_done", what="ask", human_id=await offers.human_id_of(ctx.uow, offer_id))
        return
    outcome = await offers.answer(ctx.uow, user_id, offer_id, take=what == "t")
    ctx.answer(f"org_answer_{outcome}", alert=outcome not in (offers.TAKEN, offers.DECLINED))


async def org_done_message(ctx: Ctx) -> bool:
    """The dialogue table's reader for `org_done_note`: the organisation's short note."""
    user = ctx.user
    assert user is not None
    data = dialogue.own_data(user)
    offer_id = parse_id(str(data.get("offer_id") or ""))
    text, _ = message_text(ctx)
    if offer_id is None:
        await dialogue.end(ctx.uow, user)
        return False
    if not text or not text.strip():
        ctx.reply("org_done", what="empty")
        return True
    outcome = await offers.report_done(ctx.uow, user.id, offer_id, clean_text(text))
    await dialogue.end(ctx.uow, user)
    ctx.reply("org_done", what=outcome)
    return True


# Read by the dispatcher (handlers/dispatch.py); the card's buttons work in groups too.
CALLBACKS = {
    "c": card_button,
    "vp": verify_button,
    "j": task_button,
    "du": ruling_button,
    "og": offer_button,
}
# "j": a co-handler's task card in a party's group; "du": a ruling asked of the street
# office's group.
GROUP_CALLBACKS = ("c", "j", "du")
