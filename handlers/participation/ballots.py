"""Consultations, the residents' side: ballots (`v:` buttons, in private chats and in groups),
comments and proposals on a ballot, the deep link `/start c<id>` that opens one, and
`/consultpost <id>`, a committee posting a ballot in a group."""

from __future__ import annotations

from bot.bounds import arg as arg_at
from bot.bounds import parse_id, parse_int
from bot.services.participation import consultations as cs
from bot.services.participation.consultations import ConsultError
from bot.services.people.policy import Capability
from bot.services.shared import dialogue
from bot.services.shared.dialogue import Prompt
from bot.services.shared.outbox import Button
from handlers.context import Ctx, may, refused
from handlers.message import message_text


async def vote_button(ctx: Ctx) -> None:
    """`v:<id>:o:<i>` single choice, `t:<mask>` toggle, `s:<mask>` submit, `c` comment, `p` proposal."""
    consultation_id = parse_id(arg_at(ctx.args, 0))
    if len(ctx.args) < 2 or consultation_id is None:
        ctx.answer("not_allowed")
        return
    action, arg = ctx.args[1], arg_at(ctx.args, 2)
    in_group = ctx.update.effective_chat is not None and ctx.update.effective_chat.type != "private"
    try:
        c = await cs.get(ctx.uow, consultation_id)
        user = ctx.user
        if action in ("c", "p"):
            cs.require(c, cs.TAKES_COMMENTS)
            if not cs.is_eligible(c, user):
                raise ConsultError("consult_not_eligible")
            assert user is not None
            # Timed by the dialogue table (it lapses); a report being written is set aside.
            dialogue.arm(
                ctx.uow,
                user,
                Prompt.CONSULT_COMMENT,
                consultation_id=c.id,
                kind="proposal" if action == "p" else "comment",
            )
            ctx.answer()
            ctx.tell(user.id, user.language, "consult_ask_comment", c=c, kind=action)
            return
        if action == "t" and c.secret:
            await cs.redact_update(ctx.uow, ctx.update_id)
        cs.require(c, cs.TAKES_VOTES)
        # An option index, or a bit mask of options: never more than the options there are.
        chosen = parse_int(arg, high=(1 << len(c.options or [])) - 1)
        if chosen is None or action == "o" and chosen >= len(c.options or []):
            raise ConsultError("not_allowed")
        if action == "t":
            if not cs.is_eligible(c, user):
                raise ConsultError("consult_not_eligible")
            assert user is not None
            ctx.answer()
            cs.show_selection(ctx.uow, c, user, chosen)
            return
        if in_group and c.multiple:
            if not cs.is_eligible(c, user):
                raise ConsultError("consult_not_eligible")
            assert user is not None
            cs.send_ballot(ctx.uow, c, user)
            ctx.answer("consult_ballot_sent_privately", alert=True)
            return
        choices = [chosen] if action == "o" else cs.choices_of(c, chosen)
        key = await cs.vote(ctx.uow, user, c, choices, ctx.update_id)
        assert user is not None
        ctx.answer(key)
        if not in_group:
            cs.confirm_ballot(ctx.uow, c, user, choices)
    except ConsultError as exc:
        ctx.answer(exc.key, alert=True)
        if exc.key == "consult_not_open":
            _drop_pressed_buttons(ctx)  # a closed ballot keeps no live buttons


def _drop_pressed_buttons(ctx: Ctx) -> None:
    query = ctx.update.callback_query
    message = query.message if query is not None else None
    if message is not None:
        ctx.uow.outbox.edit_markup(message.chat.id, message.message_id)


async def open_deep_link(ctx: Ctx, rest: str) -> None:
    consultation_id = parse_id(rest)
    if consultation_id is None:
        ctx.reply("consult_refused", key="consult_unknown")
        return
    try:
        c = await cs.get(ctx.uow, consultation_id)
        cs.require(c, cs.TAKES_VOTES)
        if not cs.is_eligible(c, ctx.user):
            raise ConsultError("consult_not_eligible")
        assert ctx.user is not None
        ballot = await cs.ballot_of(ctx.uow, c, ctx.user)
        if ballot is not None and (c.secret or not c.allow_change):
            cs.send_voted(ctx.uow, c, ctx.user, ballot)  # no live ballot for a vote that is cast
            return
        cs.send_ballot(ctx.uow, c, ctx.user)
    except ConsultError as exc:
        ctx.reply("consult_refused", key=exc.key)


async def group_post_command(ctx: Ctx) -> None:
    """`/consultpost <id>` in a group: the consultation with vote buttons."""
    if not may(ctx, Capability.COMMITTEE):
        chat = ctx.update.effective_chat
        if chat is not None and chat.type == "private":
            refused(ctx, Capability.COMMITTEE)
        return
    consultation_id = parse_id(arg_at(ctx.args, 0))
    if consultation_id is None:
        ctx.reply("consult_bad_input", step="export")
        return
    try:
        c = await cs.get(ctx.uow, consultation_id)
    except ConsultError as exc:
        ctx.reply("consult_refused", key=exc.key)
        return
    keyboard = [row for row in cs.ballot_keyboard(c) if not row[0].data.endswith(":c")]
    if c.multiple:
        keyboard = [[Button.of("btn_vote_privately", f"v:{c.id}:s:0")]]
    lang = ctx.uow.settings.default_language
    ctx.uow.outbox.send(
        ctx.chat_id,
        lang,
        "consult_ballot",
        c=c,
        keyboard=keyboard,
        campaign=f"consult-group:{c.id}",
    )


async def comment_message(ctx: Ctx) -> bool:
    """The reader for `consult_comment`: a ballot's comment or proposal. The resident pressed
    «Comment» moments ago, so while the prompt lives its text is the comment — guessing from
    the words misreads short comments ("put it near the gate") as problems, across languages.
    What keeps a later problem from being swallowed is the prompt's short life (the dialogue
    table: it lapses, see `dialogue.read`); a photo or a place is never a comment: the resident
    is told it goes to a report."""
    user = ctx.user
    message = ctx.message
    assert user is not None and message is not None
    data = dialogue.own_data(user)
    text, _ = message_text(ctx)
    if not text or (message.reply_to_message is not None):
        await dialogue.end(ctx.uow, user, tell=False)
        return False
    try:
        c = await cs.get(ctx.uow, int(data.get("consultation_id", 0) or 0))
    except ConsultError as exc:
        ctx.reply("consult_refused", key=exc.key)
        await dialogue.end(ctx.uow, user)
        return True
    if message.photo or message.location:
        registered = bool(user.consent_at and user.home_grid_id)
        ctx.reply("consult_comment_taken_as_report", c=c, registered=registered)
        await dialogue.end(ctx.uow, user, tell=False)  # a draft set aside takes the words
        return False
    try:
        await cs.add_comment(ctx.uow, user, c, str(data.get("kind", "comment")), text)
        ctx.reply("consult_comment_saved", c=c)
    except ConsultError as exc:
        ctx.reply("consult_refused", key=exc.key)
    await dialogue.end(ctx.uow, user)
    return True


# Read by the dispatcher (handlers/dispatch.py). Ballots posted in a group are voted there.
COMMANDS = {"consultpost": group_post_command}
GROUP_COMMANDS = ("consultpost",)
CALLBACKS = {"v": vote_button}
GROUP_CALLBACKS = ("v",)
DEEP_LINKS = {"c": open_deep_link}
