"""A resident's own cases in the chat: the `r:` buttons on their case messages (rate, not
solved, change category — the whole list, or one tap on the filing message —, timeline,
withdraw), answers to staff questions, the comment after a rating, the reason after "Not
solved", `/my`, and whether the bot can reach them at all."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.bounds import arg, parse_id, parse_int
from bot.services.cases import lifecycle as case_service
from bot.services.cases import onetap, verification
from bot.services.cases.lifecycle import CaseActionError
from bot.services.cases.reachability import questions_resent, reachable_again
from bot.services.cases.status import OPEN, Status
from bot.services.cases.views import CATEGORY_ORDER, case_place, category_keyboard, ownership_data
from bot.services.people import access, residents
from bot.services.people.residents import is_registered
from bot.services.shared import dialogue, messaging
from bot.services.shared.dialogue import Prompt, reads_as_report
from bot.services.shared.outbox import Button, Keyboard
from handlers.context import Ctx, status_label
from handlers.message import message_image, message_text

if TYPE_CHECKING:
    from bot.store.models import Case


async def _resident_prompt(ctx: Ctx) -> str | None:
    """The words of a message for a resident's prompt, or None when the prompt does not take
    it: a reply to a message about a case goes to that case (read as if no prompt were
    armed), and without registration nothing is kept (the prompt ends)."""
    user = ctx.user
    assert user is not None
    if not is_registered(user):
        await dialogue.end(ctx.uow, user, tell=False)
        return None
    if await replied_case(ctx) is not None:
        return None
    text, too_long = message_text(ctx)
    if too_long:
        ctx.reply("text_too_long", limit=ctx.uow.settings.max_text_length)
    return text


async def answer_message(ctx: Ctx) -> bool:
    """The dialogue table's reader for `answer`: the next message answers the staff question."""
    user = ctx.user
    assert user is not None
    text = await _resident_prompt(ctx)
    if text is None:
        return False
    return await answer_case(ctx, int(dialogue.own_data(user).get("case_id", 0) or 0), text)


async def rating_comment_message(ctx: Ctx) -> bool:
    """The reader for `rate_comment`: the optional comment after a rating."""
    text = await _resident_prompt(ctx)
    return text is not None and await _rating_comment(ctx, text)


async def reopen_message(ctx: Ctx) -> bool:
    """The reader for `reopen_reason`: what is still wrong after "Not solved"."""
    text = await _resident_prompt(ctx)
    if text is None:
        return False
    await _reopen_reason(ctx, text)
    return True


async def replied_case(ctx: Ctx) -> int | None:
    """A reply to the bot's message about a case goes to that case."""
    message = ctx.message
    if message is None or message.reply_to_message is None:
        return None
    return await messaging.case_of_message(
        ctx.uow, ctx.chat_id, message.reply_to_message.message_id
    )


async def answer_case(ctx: Ctx, case_id: int, text: str) -> bool:
    """The resident's words (and photo: a picture or an image sent as a file) reach the
    case's owner. False when the case is not theirs or no longer open: the message is read
    as a new one."""
    user = ctx.user
    assert user is not None
    if not case_id:
        await _end_answer(ctx, case_id)
        return False
    try:
        case = await case_service.get_case(ctx.uow, case_id)
    except CaseActionError:
        await _end_answer(ctx, case_id)
        return False
    if case.resident_id != user.id or case.status not in OPEN:
        await _end_answer(ctx, case_id)
        return False
    image = message_image(ctx.message) if ctx.message is not None else None
    photo = image[0] if image is not None else None
    await case_service.resident_message(ctx.uow, user, case, text or "📷", photo=photo)
    await _end_answer(ctx, case_id)
    return True


async def _end_answer(ctx: Ctx, case_id: int) -> None:
    """The answer prompt for this case is over; any other prompt (a draft being written
    while the resident replied to a question) stays."""
    user = ctx.user
    assert user is not None
    if user.state == Prompt.ANSWER and (
        not case_id or dialogue.own_data(user).get("case_id") in (case_id, None)
    ):
        await dialogue.end(ctx.uow, user)


async def case_button(ctx: Ctx) -> None:
    """Buttons on a resident's case messages: rate, not solved, change category, timeline,
    cancel, and the answer to an independent check ("is the problem still fixed?")."""
    user = ctx.user
    assert user is not None
    action = ctx.args[0] if ctx.args else ""
    case_id = parse_id(arg(ctx.args, 1))
    if case_id is None:
        ctx.answer("not_allowed")
        return
    try:
        case = await case_service.get_case(ctx.uow, case_id)
        if action == "tl":
            viewer = await access.reader_of(ctx.uow, user.id, case)
            if viewer is None:
                raise CaseActionError("not_allowed")
            ctx.answer()
            ctx.reply(
                "timeline",
                case=case,
                events=await case_service.timeline(
                    ctx.uow, case, only_public=viewer == "follower", staff=viewer == "staff"
                ),
                viewer=viewer,
                now=ctx.uow.now,
                **ownership_data(ctx.uow, case, ctx.lang),
            )
            return
        if case.resident_id != user.id:
            raise CaseActionError("not_allowed")
        if action == "rate" and (stars := parse_int(arg(ctx.args, 2), low=1, high=5)) is not None:
            await case_service.rate(ctx.uow, user, case, stars)
            # A report being written is set aside under the prompt and comes back after it.
            dialogue.arm(ctx.uow, user, Prompt.RATE_COMMENT, case_id=case.id)
            ctx.answer("thanks_rating")
            # The stars are used; "Not solved" stays while the case can be reopened.
            _edit_pressed(ctx, [[Button.of("btn_not_solved", f"r:bad:{case.id}")]])
            ctx.reply(
                "ask_rating_comment",
                case=case,
                keyboard=[[Button.of("btn_no_comment", f"r:nc:{case.id}")]],
            )
        elif action == "nc":
            _edit_pressed(ctx, None)
            ctx.answer("thanks_rating")
            if user.state == Prompt.RATE_COMMENT:
                await dialogue.end(ctx.uow, user)
        elif action == "bad":
            if case.status != "resolved":
                raise CaseActionError("case_wrong_state", status=case.status)
            pressed = _pressed_id(ctx)
            dialogue.arm(ctx.uow, user, Prompt.REOPEN_REASON, case_id=case.id, message_id=pressed)
            ctx.answer()
            ctx.reply("ask_reopen_reason", case=case)
        elif action == "chg":
            ctx.answer()
            ctx.reply(
                "choose_category",
                case=case,
                keyboard=category_keyboard(f"r:cat:{case.id}", list(CATEGORY_ORDER)),
            )
        elif action == "cat" and len(ctx.args) > 2:
            await case_service.resident_change_category(ctx.uow, user, case, ctx.args[2])
            ctx.answer("category_changed")
        elif action in ("one", "else"):
            await _one_tap(ctx, case, action)
        elif action == "cx":
            await case_service.cancel(ctx.uow, user, case)
            ctx.answer("case_cancelled")
        elif action == "vf":
            # An independent check of the closure: answered once, by the resident asked.
            v_id, answer = parse_id(arg(ctx.args, 2)), arg(ctx.args, 3)
            if v_id is None or answer not in ("y", "n"):
                raise CaseActionError("not_allowed")
            await verification.answer(
                ctx.uow, user.id, v_id, verification.RESIDENT, answer == "y", case_id=case.id
            )
            _edit_pressed(ctx, None)
            ctx.answer("verify_thanks")  # "not fixed": the case's update says it is reopened
        elif action == "still":
            ctx.answer("thanks_rating")
            await case_service.record(
                ctx.uow,
                case,
                case_service.Actor(user.id, "resident"),
                "follow_up_answer",
                still_fixed=ctx.args[2:3] == ["yes"],
            )
            if ctx.args[2:3] == ["no"]:
                ctx.reply("follow_up_report_again", case=case)
        else:
            ctx.answer("not_allowed")
    except CaseActionError as exc:
        if exc.key == "onetap_expired":
            _edit_pressed(ctx, None)  # the filing message's buttons are used up
        ctx.answer(exc.key, alert=True, **status_label(ctx, exc.data))


async def _one_tap(ctx: Ctx, case: Case, action: str) -> None:
    """The filing message's one-tap buttons (`r:one:<case>:<version>:<category>`,
    `r:else:<case>:<version>`, `bot.services.cases.onetap`): a category re-files the case,
    *Something else* shows the whole list (a case waiting at triage stays with the grid
    leader unless the resident picks one). The buttons go once used."""
    user = ctx.user
    assert user is not None
    version = parse_int(arg(ctx.args, 2))
    if version is None:
        raise CaseActionError("not_allowed")
    if action == "one":
        category = arg(ctx.args, 3)[:32]
        before = case.category
        await case_service.resident_one_tap(ctx.uow, user, case, version, category)
        _edit_pressed(ctx, None)
        ctx.answer("category_changed" if before != category else "onetap_kept")
        return
    refused = onetap.refusal(ctx.uow, case, user.id, version)
    if refused is not None:
        raise CaseActionError(refused)
    _edit_pressed(ctx, None)
    ctx.answer()
    ctx.reply(
        "choose_category",
        case=case,
        keyboard=category_keyboard(f"r:cat:{case.id}", list(CATEGORY_ORDER)),
        leader_decides=case.status == Status.TRIAGE,
    )


def _pressed_id(ctx: Ctx) -> int | None:
    query = ctx.update.callback_query
    return query.message.message_id if query is not None and query.message is not None else None


def _edit_pressed(ctx: Ctx, keyboard: Keyboard | None) -> None:
    """Replace the buttons of the message just pressed (None: remove them)."""
    message_id = _pressed_id(ctx)
    if message_id is not None:
        ctx.uow.outbox.edit_markup(ctx.chat_id, message_id, ctx.lang, keyboard)


async def _rating_comment(ctx: Ctx, text: str) -> bool:
    """The optional comment after a rating. Returns False when the message is not one: the
    prompt has lapsed, or the message reads as a new report (it is never swallowed; the
    person is told it became a report draft)."""
    user = ctx.user
    message = ctx.message
    assert user is not None and message is not None
    case_id = int(dialogue.own_data(user).get("case_id", 0) or 0)
    # The table has lapsed the prompt already when it outlived its time (`dialogue.read`).
    if not case_id or not text:
        await dialogue.end(ctx.uow, user, tell=False)
        return False
    case = await case_service.find_case_by_id(ctx.uow, case_id)
    if case is None or case.resident_id != user.id:
        await dialogue.end(ctx.uow, user, tell=False)
        return False
    if message.photo or message.location or reads_as_report(ctx.uow, text):
        ctx.reply("comment_taken_as_report", case=case)
        await dialogue.end(ctx.uow, user, tell=False)  # a draft set aside takes the words
        return False
    case.rating_comment = text
    await case_service.record(
        ctx.uow, case, case_service.Actor(user.id, "resident"), "rating_comment", note=text
    )
    ctx.reply("rating_comment_saved", case=case)
    await dialogue.end(ctx.uow, user)
    return True


async def _reopen_reason(ctx: Ctx, text: str) -> None:
    user = ctx.user
    assert user is not None
    case_id = int((user.state_data or {}).get("case_id", 0))
    if not text:
        ctx.reply("ask_reopen_reason_text")
        return
    message_id = (user.state_data or {}).get("message_id")
    try:
        case = await case_service.get_case(ctx.uow, case_id)
        await case_service.reopen(ctx.uow, user, case, text)
        if isinstance(message_id, int):  # the resolved message's buttons are used up
            ctx.uow.outbox.edit_markup(ctx.chat_id, message_id, ctx.lang)
    except CaseActionError as exc:
        ctx.reply("action_refused", key=exc.key, **status_label(ctx, exc.data))
    await dialogue.end(ctx.uow, user)


async def my_cases(ctx: Ctx) -> None:
    """`/my`: the resident's cases and the ones they follow, each with its timeline button."""
    user = ctx.user
    assert user is not None
    items = await residents.my_cases(ctx.uow, user)
    followed = await residents.followed_cases(ctx.uow, user)
    keyboard: Keyboard = [
        [Button.literal(c.human_id or str(c.id), f"r:tl:{c.id}")]
        for c in [*items[:10], *followed[:5]]
    ]
    ctx.reply(
        "my_cases",
        cases=items,
        followed=followed,
        places={c.id: case_place(ctx.uow, c, ctx.lang) for c in followed},
        now=ctx.uow.now,
        keyboard=keyboard,
    )


async def chat_member(ctx: Ctx) -> None:
    """The person blocked or unblocked the bot: what they missed meanwhile is sent again."""
    change = ctx.update.my_chat_member
    if change is None or change.chat.type != "private":
        return
    user = await residents.get_user(ctx.uow, change.chat.id)
    if user is None:
        return
    if change.new_chat_member.status in ("kicked", "left"):
        user.unreachable = True
    elif user.unreachable:
        resent = await reachable_again(ctx.uow, user)
        await questions_resent(ctx.uow, user, resent)


# Read by the dispatcher (handlers/dispatch.py).
COMMANDS = {"my": my_cases}
CALLBACKS = {"r": case_button}
CHAT_MEMBER = chat_member
