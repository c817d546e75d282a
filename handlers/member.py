"""Staff in the chat: the case card's buttons, replies to cards, queues and statistics."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.bounds import arg, parse_id, parse_int
from bot.services.cases import lifecycle as case_service
from bot.services.cases.lifecycle import CaseActionError
from bot.services.cases.views import OPEN, adopt_pressed_card, refresh_card
from bot.services.people import staff
from bot.services.people.residents import is_registered, set_state
from bot.services.shared import messaging
from bot.services.shared.outbox import Button, Keyboard
from handlers.context import Ctx, status_label

if TYPE_CHECKING:
    from handlers.dispatch import Dispatcher

# `/stats [days]`: the period when none (or no usable one) is given, and the longest.
DEFAULT_STATS_DAYS = 30
MAX_STATS_DAYS = 3660

# What a case's human id looks like (`GV-2026-000123`): anything else is not looked up.
HUMAN_ID = re.compile(r"[A-Za-z]{1,8}-\d{4}-\d{1,12}")
# Who may use the commands that look across members.
TRIAGE_ROLES = ("leader", "centre", "street", "admin")
STATS_ROLES = ("leader", "centre", "street", "committee", "admin")

# Staff dialogue states: what the next message from this person means.
TEXT_STATES = ("ask", "resolve_note", "reject_reason", "transfer_reason")
# Every staff prompt /cancel leaves and any other command disarms: the card prompts, the
# reject confirmation, and the committee's consultation and announcement dialogues.
PROMPT_STATES = (
    *TEXT_STATES,
    "resolve_photo",
    "reject_confirm",
    "consult",
    "consult_options",
    "announce",
)

# The buttons that sit on a case card (others sit on a queue list or a prompt).
CARD_ACTIONS = frozenset({"acc", "ask", "trf", "res", "rej", "cat", "tgt", "back"})


def register(d: Dispatcher) -> None:
    d.commands.update({"queue": queue, "triage": triage, "case": show_case, "stats": stats})
    d.callbacks["c"] = card_button
    d.group_commands.update({"case", "queue"})


async def card_button(ctx: Ctx) -> None:
    """`c:<action>:<case>:<version>[:arg...]`: every press is authorised server-side."""
    user_id = ctx.tg_user.id if ctx.tg_user else 0
    args = ctx.args
    case_id, version = parse_id(arg(args, 1)), parse_int(arg(args, 2))
    if case_id is None or version is None:
        ctx.answer("not_allowed", alert=True)
        return
    action = args[0]
    rest = args[3:]
    try:
        case = await case_service.authorise(ctx.uow, user_id, case_id, version)
        pressed = _pressed_card(ctx)
        if pressed is not None and action in CARD_ACTIONS:
            await adopt_pressed_card(ctx.uow, case, ctx.chat_id, pressed)
        if action == "acc":
            await case_service.accept(ctx.uow, user_id, case)
            ctx.answer("accepted_ok")
            await _refresh_pressed(ctx, case)
        elif action == "ask":
            await _expect(ctx, "ask", case)
            ctx.answer()
            _prompt(ctx, "staff_prompt_ask", case=case)
        elif action == "res":
            await _expect(ctx, "resolve_note", case)
            ctx.answer()
            _prompt(ctx, "staff_prompt_resolve", case=case)
        elif action == "rej":
            await _expect(ctx, "reject_reason", case)
            ctx.answer()
            _prompt(ctx, "staff_prompt_reject", case=case)
        elif action == "trf":
            targets = staff.transfer_options(ctx.uow, case, exclude={user_id})
            keyboard: Keyboard = [
                [
                    Button.literal(
                        t.label.get(ctx.lang), case_service_cb(case, "tgt", t.kind[0], t.id)
                    )
                ]
                for t in targets
            ]
            keyboard.append([Button.of("btn_back", case_service_cb(case, "back"))])
            await refresh_card(ctx.uow, case, ctx.chat_id, keyboard=keyboard)
            ctx.answer("choose_transfer_target")
        elif action == "view":
            from bot.services.cases.views import send_card

            await send_card(ctx.uow, case, ctx.chat_id, await case_service.photo_ids(ctx.uow, case))
            ctx.answer()
        elif action == "back":
            await refresh_card(ctx.uow, case, ctx.chat_id)
            ctx.answer()
        elif action == "tgt" and len(rest) >= 2:
            target = f"{rest[0]}:{rest[1]}"[:80]
            case_service.check_transfer_target(ctx.uow, user_id, case, target)
            await _expect(ctx, "transfer_reason", case, target=target)
            ctx.answer()
            _prompt(ctx, "staff_prompt_transfer", case=case)
        elif action == "skip":
            await _resolve_from_state(ctx, photo=None)
            ctx.answer()
        elif action in ("rjy", "rjn"):
            await _confirm_reject(ctx, case, confirmed=action == "rjy")
        elif action == "cat" and rest:
            await case_service.triage_set_category(ctx.uow, user_id, case, rest[0])
            ctx.answer("category_changed")
            await _refresh_pressed(ctx, case)
        else:
            ctx.answer("not_allowed", alert=True)
    except CaseActionError as exc:
        ctx.answer(exc.key, alert=True, **status_label(ctx, exc.data))


def _pressed_card(ctx: Ctx) -> int | None:
    query = ctx.update.callback_query
    return query.message.message_id if query is not None and query.message is not None else None


async def _refresh_pressed(ctx: Ctx, case) -> None:  # type: ignore[no-untyped-def]
    """After a change, the copy pressed outside the owner's chat (a leader's `/case` copy)
    shows it too; the owner's card is refreshed by the transition itself."""
    if ctx.chat_id != case.owner_chat_id:
        await refresh_card(ctx.uow, case, ctx.chat_id)


def case_service_cb(case, action: str, *args: object) -> str:  # type: ignore[no-untyped-def]
    from bot.services.cases.views import cb

    return cb(action, case, *args)


async def _expect(ctx: Ctx, state: str, case, **extra: object) -> None:  # type: ignore[no-untyped-def]
    """Remember what the presser's next private message means. A button pressed in a party's
    group may come from someone who never wrote to the bot: their row is made now."""
    if ctx.user is None:
        from bot.services.people.residents import ensure_user

        ctx.user = await ensure_user(ctx.uow, ctx.person, ctx.default_language())
        ctx.lang = ctx.user.language
    set_state(ctx.user, state, case_id=case.id, version=case.version, **extra)


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
    text = (message.text or message.caption or "").strip()[: ctx.uow.settings.max_text_length]
    state = user.state
    data = dict(user.state_data or {})
    try:
        if state == "resolve_photo":
            if message.photo:
                await _resolve_from_state(ctx, photo=message.photo[-1].file_id)
                return True
            if text:
                data["note"] = (data.get("note", "") + "\n" + text).strip()
                set_state(user, "resolve_photo", **data)
                ctx.reply("staff_prompt_resolve_photo", keyboard=_skip(ctx, data))
                return True
        if (state in TEXT_STATES or state == "reject_confirm") and (
            text or state == "ask" and message.photo
        ):
            case = await case_service.authorise(ctx.uow, user_id, int(data["case_id"]), None)
            if state == "ask":
                set_state(user, None)
                reached = await case_service.ask(ctx.uow, user_id, case, text or "📷")
                if message.photo and case.resident_id:
                    ctx.uow.outbox.photos(
                        case.resident_id, [message.photo[-1].file_id], case_id=case.id
                    )
                ctx.reply(_sent_or_waiting(reached), case=case)
            elif state == "resolve_note":
                set_state(user, "resolve_photo", case_id=case.id, note=text, version=case.version)
                ctx.reply(
                    "staff_prompt_resolve_photo",
                    keyboard=_skip(ctx, {"case_id": case.id, "version": case.version}),
                    case=case,
                )
            elif state in ("reject_reason", "reject_confirm"):
                # Declining is final and the resident reads the reason: confirm it first
                # (a mis-tapped Reject followed by "oops" must not decline the case).
                set_state(
                    user, "reject_confirm", case_id=case.id, version=case.version, reason=text
                )
                ctx.reply(
                    "staff_confirm_reject",
                    keyboard=[
                        [
                            Button.of("btn_reject_confirm", case_service_cb(case, "rjy")),
                            Button.of("btn_reject_keep", case_service_cb(case, "rjn")),
                        ]
                    ],
                    case=case,
                    reason=text,
                )
            elif state == "transfer_reason":
                set_state(user, None)
                await case_service.transfer(
                    ctx.uow, user_id, case, str(data.get("target", "")), text
                )
                ctx.reply("staff_done", case=case)
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
                ctx.reply(_sent_or_waiting(reached), case=case)
                return True
    except CaseActionError as exc:
        set_state(user, None)
        ctx.reply("action_refused", key=exc.key, **status_label(ctx, exc.data))
        return True
    if state in TEXT_STATES or state in ("resolve_photo", "reject_confirm"):
        ctx.reply("staff_prompt_need_text")
        return True
    if not is_registered(user) and ctx.update.effective_chat is not None:
        if ctx.update.effective_chat.type == "private":
            # Staff who are not also residents here: their free text is not a report.
            ctx.reply("staff_desk", greeting=False)
            return True
    return False


async def _confirm_reject(ctx: Ctx, case, *, confirmed: bool) -> None:  # type: ignore[no-untyped-def]
    """The answer to "decline with this reason?": the reason is the one shown, kept in the
    presser's state, never taken from the callback data."""
    user = ctx.user
    assert user is not None
    data = dict(user.state_data or {})
    _drop_buttons(ctx)
    if user.state != "reject_confirm" or data.get("case_id") != case.id:
        ctx.answer("prompt_expired", alert=True)
        return
    set_state(user, None)
    if not confirmed:
        ctx.answer("reject_kept")
        return
    await case_service.reject(ctx.uow, user.id, case, str(data.get("reason") or ""))
    ctx.answer()
    ctx.reply("staff_done", case=case)


def _drop_buttons(ctx: Ctx) -> None:
    """Take the buttons off the message just pressed (a used question does not stay live)."""
    query = ctx.update.callback_query
    message = query.message if query is not None else None
    if message is not None:
        ctx.uow.outbox.edit_markup(message.chat.id, message.message_id)


async def leave_prompt(ctx: Ctx, *, command: bool) -> bool:
    """Leave the person's staff prompt, if any, saying which and that nothing was sent.

    `/cancel` calls it first; any other command calls it too, so a prompt never stays armed
    behind a command and catches the next free text as a reason."""
    user = ctx.user
    if user is None or user.state not in PROMPT_STATES:
        return False
    state = user.state
    data = dict(user.state_data or {})
    set_state(user, None)
    case = None
    if data.get("case_id"):
        case = await case_service.find_case_by_id(ctx.uow, int(data["case_id"]))
    ctx.reply("prompt_left", prompt=state, case=case, command=command)
    return True


def _sent_or_waiting(reached: bool) -> str:
    """'Sent', unless the resident blocked the bot: then the message waits for them."""
    return "staff_sent_to_resident" if reached else "staff_resident_unreachable"


def _skip(ctx: Ctx, data: dict) -> Keyboard:  # type: ignore[type-arg]
    return [[Button.of("btn_skip_photo", f"c:skip:{data['case_id']}:{data.get('version', 0)}")]]


async def _resolve_from_state(ctx: Ctx, photo: str | None) -> None:
    user = ctx.user
    assert user is not None
    data = dict(user.state_data or {})
    if user.state != "resolve_photo" or "case_id" not in data:
        raise CaseActionError("card_outdated", status="resolved")
    case = await case_service.authorise(ctx.uow, user.id, int(data["case_id"]), None)
    set_state(user, None)
    await case_service.resolve(ctx.uow, user.id, case, data.get("note") or "", photo)
    ctx.reply("staff_done", case=case)


async def queue(ctx: Ctx) -> None:
    user_id = ctx.tg_user.id if ctx.tg_user else 0
    if case_service.staff_role(ctx.uow, user_id) is None:
        ctx.reply("staff_only")
        return
    items = await staff.queue(ctx.uow, user_id)
    keyboard: Keyboard = [
        [Button.literal(f"{c.human_id}", case_service_cb(c, "view"))] for c in items[:10]
    ]
    ctx.reply("queue", cases=items, now=ctx.uow.now, keyboard=keyboard)


async def triage(ctx: Ctx) -> None:
    user_id = ctx.tg_user.id if ctx.tg_user else 0
    role = case_service.staff_role(ctx.uow, user_id)
    if role not in TRIAGE_ROLES:
        ctx.reply("role_refused" if role else "staff_only", needed="leaders")
        return
    items = await staff.triage_queue(ctx.uow, user_id)
    if not items:
        ctx.reply("triage_empty")
        return
    for case in items[:10]:
        from bot.services.cases.views import send_card

        await send_card(ctx.uow, case, ctx.chat_id, [])


async def show_case(ctx: Ctx) -> None:
    user_id = ctx.tg_user.id if ctx.tg_user else 0
    if not ctx.args:
        ctx.reply("case_usage")
        return
    if not HUMAN_ID.fullmatch(ctx.args[0].strip()):
        ctx.reply("case_usage")
        return
    case = await case_service.find_case(ctx.uow, ctx.args[0])
    if case is None or not case_service.may_view(ctx.uow, user_id, case):
        ctx.reply("case_not_found", human_id=ctx.args[0][:32])
        return
    from bot.services.cases.views import ownership_data

    viewer = "staff" if case_service.staff_role(ctx.uow, user_id) else "resident"
    ctx.reply(
        "timeline",
        case=case,
        events=await case_service.timeline(ctx.uow, case),
        viewer=viewer,
        now=ctx.uow.now,
        **ownership_data(ctx.uow, case, ctx.lang),
    )
    if viewer == "staff" and case.status in OPEN and case_service.may_act(ctx.uow, user_id, case):
        from bot.services.cases.views import send_card

        await send_card(ctx.uow, case, ctx.chat_id, [])


async def stats(ctx: Ctx) -> None:
    user_id = ctx.tg_user.id if ctx.tg_user else 0
    role = case_service.staff_role(ctx.uow, user_id)
    if role not in STATS_ROLES:
        ctx.reply("role_refused" if role else "staff_only", needed="leaders_committee")
        return
    asked = parse_id(arg(ctx.args, 0), high=MAX_STATS_DAYS)
    days = asked or DEFAULT_STATS_DAYS
    report = await staff.assessment(ctx.uow, user_id, days=days)
    ignored = ctx.args[0][:32] if ctx.args and asked is None else None
    ctx.reply("stats", report=report, days=days, ignored=ignored, max_days=MAX_STATS_DAYS)
