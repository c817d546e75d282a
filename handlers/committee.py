"""Committee, resident and grid-member sides of consultations and announcements.

Commands: `/consult` (a guided dialogue, state in users.state), `/consultations`,
`/export <id>`, `/announce`, `/consultpost <id>` (in a group), `/mute`, `/unmute`.
Callback data: `k:<action>[:arg]` committee, `v:<id>:<action>[:arg]` votes, `h:y|n:<resident token>`
household verification. Deep link `/start c<id>` opens a consultation.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.bounds import arg as arg_at
from bot.bounds import parse_id, parse_int
from bot.services.participation import announcements
from bot.services.participation import consultations as cs
from bot.services.participation.consultations import ConsultError, ConsultStatus
from bot.services.people import household, policy
from bot.services.people.policy import Capability
from bot.services.people.residents import set_state, update_state
from bot.services.shared import dialogue
from bot.services.shared.dialogue import Prompt
from bot.services.shared.outbox import Button, Keyboard
from handlers.context import Ctx

if TYPE_CHECKING:
    from handlers.dispatch import Dispatcher

# The longest a consultation may run when its close is given in days.
MAX_CONSULT_DAYS = 366

STEPS = (
    "question",
    "options",
    "kind",
    "audience",
    "ballot",
    "opens",
    "closes",
    "change",
    "live",
    "preview",
)


def register(d: Dispatcher) -> None:
    d.commands.update(
        {
            "consult": consult_command,
            "consultations": list_command,
            "export": export_command,
            "announce": announce_command,
            "consultpost": group_post_command,
            "mute": mute_command,
            "unmute": unmute_command,
        }
    )
    d.callbacks.update({"k": committee_button, "v": vote_button, "h": verify_button})
    d.group_commands.add("consultpost")
    d.contact = contact_shared
    d.deep_links["c"] = open_deep_link


def _committee(ctx: Ctx) -> bool:
    return ctx.tg_user is not None and policy.may(ctx.uow, ctx.tg_user.id, Capability.COMMITTEE)


def _refuse(ctx: Ctx) -> None:
    """Committee commands: staff of another role are told whose they are."""
    key, needed = policy.refusal(ctx.uow, ctx.tg_user.id if ctx.tg_user else 0, Capability.COMMITTEE)
    ctx.reply(key, needed=needed)


# --- the /consult dialogue ------------------------------------------------------------------


async def consult_command(ctx: Ctx) -> None:
    if not _committee(ctx):
        _refuse(ctx)
        return
    assert ctx.user is not None
    set_state(ctx.user, "consult", step="question", draft={})
    _prompt(ctx, "question", {})


def _prompt(ctx: Ctx, step: str, draft: dict[str, Any]) -> None:
    ctx.reply(
        "consult_step",
        keyboard=_step_keyboard(ctx, step, draft),
        step=step,
        draft=draft,
        names=cs.grid_names(ctx.uow, ctx.lang),
        when=_when(draft),
        examples=_examples(ctx),
    )


def _bad_input(ctx: Ctx, step: str | None, draft: dict[str, Any]) -> None:
    """A step's answer was not usable: say so, with the step's buttons again (a mistyped
    date keeps «Open now»)."""
    ctx.reply(
        "consult_bad_input",
        step=step,
        examples=_examples(ctx),
        keyboard=_step_keyboard(ctx, step or "", draft),
    )


def _step_keyboard(ctx: Ctx, step: str, draft: dict[str, Any]) -> Keyboard:
    """The buttons of a /consult step (the same when it is asked again)."""
    keyboard: Keyboard = []
    names = cs.grid_names(ctx.uow, ctx.lang)
    if step == "options":
        keyboard = [[Button.of("btn_proposals_first", "k:prop")]]
    elif step == "kind":
        keyboard = [[Button.of("btn_single", "k:kind:1"), Button.of("btn_multiple", "k:kind:n")]]
    elif step == "audience":
        chosen = set(draft.get("grids", []))
        keyboard = [
            [Button.literal(("✅ " if g in chosen else "") + name, f"k:g:{g}")]
            for g, name in names.items()
        ]
        for cid, community in ctx.uow.routing.gridmap.communities.items():
            keyboard.append([Button.literal("🏘 " + community.name.get(ctx.lang), f"k:cm:{cid}")])
        keyboard.append([Button.of("btn_all_residents", "k:all"), Button.of("btn_done", "k:gok")])
    elif step == "ballot":
        keyboard = [[Button.of("btn_named", "k:bal:n"), Button.of("btn_secret", "k:bal:s")]]
    elif step == "opens":
        keyboard = [[Button.of("btn_now", "k:op:now")]]
    elif step == "closes":
        keyboard = [[Button.of("btn_in_days", f"k:cl:{d}", days=d) for d in (1, 3, 7)]]
    elif step == "change":
        keyboard = [[Button.of("btn_yes", "k:chg:1"), Button.of("btn_no", "k:chg:0")]]
    elif step == "live":
        keyboard = [[Button.of("btn_live_yes", "k:live:1"), Button.of("btn_no", "k:live:0")]]
    elif step == "preview":
        keyboard = [[Button.of("btn_publish", "k:pub"), Button.of("btn_cancel", "k:cx")]]
    return keyboard


def _examples(ctx: Ctx) -> dict[str, str]:
    """Example dates for the prompts, always ahead: tomorrow 09:00 and four days later 18:00."""
    local = ctx.uow.now.astimezone(ctx.uow.domain.renderer.tz)
    opens = (local + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    closes = (opens + timedelta(days=4)).replace(hour=18)
    return {"opens": opens.strftime("%Y-%m-%d %H:%M"), "closes": closes.strftime("%Y-%m-%d %H:%M")}


def _when(draft: dict[str, Any]) -> dict[str, datetime]:
    return {k: datetime.fromisoformat(draft[k]) for k in ("opens_at", "closes_at") if k in draft}


def _advance(ctx: Ctx, draft: dict[str, Any], step: str) -> None:
    assert ctx.user is not None
    if step == "change" and draft.get("secret"):
        draft["change"] = False  # changing a secret vote would need the voter-choice link
        step = "live"
    if step == "live" and draft.get("secret"):
        draft["live"] = False  # a count that moves right after one vote would reveal it
        step = "preview"
    set_state(ctx.user, "consult", step=step, draft=draft)
    _prompt(ctx, step, draft)


def _parse_time(ctx: Ctx, text: str) -> datetime | None:
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            local = datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
        return local.replace(tzinfo=ctx.uow.domain.renderer.tz)
    return None


async def _consult_text(ctx: Ctx, text: str) -> None:
    user = ctx.user
    assert user is not None
    data = dict(user.state_data or {})
    step, draft = data.get("step"), dict(data.get("draft") or {})
    if step == "question" and text:
        draft["question"] = text[:1000]
        _advance(ctx, draft, "options")
    elif step == "options" and text:
        options = cs.parse_options(text)
        if options is None:
            _bad_input(ctx, step, draft)
            return
        draft["options"] = options
        _advance(ctx, draft, "kind")
    elif step in ("opens", "closes") and text:
        at = _parse_time(ctx, text)
        if at is None or at < ctx.uow.now - timedelta(minutes=1):
            _bad_input(ctx, step, draft)
            return
        if step == "opens":
            draft["opens_at"] = at.isoformat()
            _advance(ctx, draft, "closes")
        else:
            if at <= datetime.fromisoformat(draft["opens_at"]):
                _bad_input(ctx, step, draft)
                return
            draft["closes_at"] = at.isoformat()
            _advance(ctx, draft, "change")
    else:
        _bad_input(ctx, step, draft)


async def _consult_button(ctx: Ctx, action: str, arg: str) -> None:
    user = ctx.user
    assert user is not None
    data = dict(user.state_data or {})
    step, draft = data.get("step"), dict(data.get("draft") or {})
    expected = {
        "prop": "options",
        "kind": "kind",
        "g": "audience",
        "cm": "audience",
        "all": "audience",
        "gok": "audience",
        "bal": "ballot",
        "op": "opens",
        "cl": "closes",
        "chg": "change",
        "live": "live",
        "pub": "preview",
        "cx": None,
    }
    if user.state != "consult" or (expected[action] is not None and expected[action] != step):
        ctx.answer("consult_stale")
        return
    ctx.answer()
    if action == "cx":
        set_state(user, None)
        ctx.reply("consult_cancelled")
    elif action == "prop":
        draft["options"] = []
        _advance(ctx, draft, "kind")
    elif action == "kind":
        draft["multiple"] = arg == "n"
        _advance(ctx, draft, "audience")
    elif action in ("g", "cm", "all"):
        kind = {"g": "grid", "cm": "cm", "all": "all"}[action]
        grids = set(draft.get("grids", []))
        new = set(cs.audience_grids(ctx.uow, kind, arg))
        grids = grids - new if action == "g" and new <= grids else grids | new
        draft["grids"] = sorted(grids)
        _advance(ctx, draft, "audience")
    elif action == "gok":
        if not draft.get("grids"):
            _bad_input(ctx, step, draft)
            return
        _advance(ctx, draft, "ballot")
    elif action == "bal":
        draft["secret"] = arg == "s"
        _advance(ctx, draft, "opens")
    elif action == "op":
        draft["opens_at"] = ctx.uow.now.isoformat()
        _advance(ctx, draft, "closes")
    elif action == "cl" and (days := parse_int(arg, low=1, high=MAX_CONSULT_DAYS)) is not None:
        draft["closes_at"] = (
            datetime.fromisoformat(draft["opens_at"]) + timedelta(days=days)
        ).isoformat()
        _advance(ctx, draft, "change")
    elif action == "chg":
        draft["change"] = arg == "1"
        _advance(ctx, draft, "live")
    elif action == "live":
        draft["live"] = arg == "1"
        _advance(ctx, draft, "preview")
    elif action == "pub":
        c = cs.create(ctx.uow, user.id, draft)
        set_state(user, None)
        await cs.publish(ctx.uow, c, lambda: _published(ctx, c))


def _published(ctx: Ctx, c: Any) -> None:
    """The committee's answer: queued before the ballots so it does not wait behind them."""
    cs.prepare_charts()
    ctx.reply("consult_published", c=c, link=_deep_link(ctx, c.id), keyboard=_manage_keyboard(c))


def _deep_link(ctx: Ctx, cid: int) -> str | None:
    name = ctx.uow.domain.bot_username
    return f"https://t.me/{name}?start=c{cid}" if name else None


def _manage_keyboard(c: Any) -> Keyboard:
    rows: Keyboard = [
        [Button.of("btn_results", f"k:res:{c.id}"), Button.of("btn_delivery", f"k:rep:{c.id}")],
        [Button.of("btn_comments", f"k:cmt:{c.id}"), Button.of("btn_export", f"k:csv:{c.id}")],
    ]
    if c.status == ConsultStatus.PROPOSALS:
        rows.append([Button.of("btn_set_options", f"k:opt:{c.id}")])
    if c.status in cs.TAKES_VOTES:
        rows.append([Button.of("btn_close_now", f"k:cln:{c.id}")])
    return rows


# --- managing consultations -----------------------------------------------------------------


async def list_command(ctx: Ctx) -> None:
    if not _committee(ctx):
        _refuse(ctx)
        return
    items = await cs.recent(ctx.uow)
    cs.prepare_charts()
    keyboard: Keyboard = [
        [Button.literal(f"#{c.id} {c.question}"[:60], f"k:man:{c.id}")] for c in items
    ]
    ctx.reply("consult_list", items=items, now=ctx.uow.now, keyboard=keyboard)


async def export_command(ctx: Ctx) -> None:
    if not _committee(ctx):
        _refuse(ctx)
        return
    consultation_id = parse_id(arg_at(ctx.args, 0))
    if consultation_id is None:
        ctx.reply("consult_bad_input", step="export")
        return
    try:
        await _export(ctx, await cs.get(ctx.uow, consultation_id))
    except ConsultError as exc:
        ctx.reply("consult_refused", key=exc.key)


async def _export(ctx: Ctx, c: Any) -> None:
    data = await cs.export_csv(ctx.uow, c)
    ctx.uow.outbox.upload(ctx.chat_id, "sendDocument", "document", data, f"consultation-{c.id}.csv")


async def committee_button(ctx: Ctx) -> None:
    if not _committee(ctx):
        ctx.answer("not_allowed", alert=True)
        return
    action = ctx.args[0] if ctx.args else ""
    arg = ctx.args[1] if len(ctx.args) > 1 else ""
    if action in (
        "prop",
        "kind",
        "g",
        "cm",
        "all",
        "gok",
        "bal",
        "op",
        "cl",
        "chg",
        "live",
        "pub",
        "cx",
    ):
        await _consult_button(ctx, action, arg)
        return
    if action in ("ag", "aall", "asend", "arep"):
        await _announce_button(ctx, action, arg)
        return
    consultation_id = parse_id(arg)
    if consultation_id is None:
        ctx.answer("not_allowed")
        return
    try:
        c = await cs.get(ctx.uow, consultation_id)
        if action == "man":
            cs.prepare_charts()
            ctx.answer()
            ctx.reply("consult_manage", c=c, keyboard=_manage_keyboard(c))
        elif action == "res":
            results = await cs.visible_results(ctx.uow, c)
            ctx.answer()
            await cs.send_results(ctx.uow, c, ctx.chat_id, ctx.lang, results=results)
        elif action == "rep":
            ctx.answer()
            ctx.reply(
                "consult_report", c=c, report=await cs.delivery_report(ctx.uow, f"consult:{c.id}")
            )
        elif action == "cmt":
            ctx.answer()
            ctx.reply("consult_comments", c=c, groups=await cs.comment_groups(ctx.uow, c))
        elif action == "csv":
            await _export(ctx, c)
            ctx.answer()
        elif action == "cln":
            cs.require(c, cs.TAKES_VOTES)
            ctx.answer()
            ctx.reply(
                "consult_close_confirm",
                c=c,
                keyboard=[
                    [
                        Button.of("btn_close_confirm", f"k:cly:{c.id}"),
                        Button.of("btn_back", f"k:man:{c.id}"),
                    ]
                ],
            )
        elif action == "cly":
            cs.require(c, cs.TAKES_VOTES)
            await cs.close_now(ctx.uow, c)
            ctx.answer("consult_closed_now")
        elif action == "opt":
            cs.require(c, frozenset({ConsultStatus.PROPOSALS}), "consult_wrong_state")
            ctx.answer()
            assert ctx.user is not None
            set_state(ctx.user, "consult_options", consultation_id=c.id)
            ctx.reply("consult_comments", c=c, groups=await cs.comment_groups(ctx.uow, c))
            ctx.reply("consult_step", step="options", draft={}, names={}, when={}, examples={})
        else:
            ctx.answer("not_allowed")
    except ConsultError as exc:
        ctx.answer(exc.key, alert=True)
        ctx.reply("consult_refused", key=exc.key)


# --- residents: ballots, comments, deep links -----------------------------------------------


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
    if not _committee(ctx):
        chat = ctx.update.effective_chat
        if chat is not None and chat.type == "private":
            _refuse(ctx)
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


async def text_input(ctx: Ctx) -> bool:
    """Messages that answer this module's dialogues. True if used."""
    user = ctx.user
    message = ctx.message
    if user is None or message is None:
        return False
    text = (message.text or message.caption or "").strip()[: ctx.uow.settings.max_text_length]
    if user.state == "consult":
        if not _committee(ctx):
            set_state(user, None)
            return False
        await _consult_text(ctx, text)
        return True
    if user.state == "consult_options":
        options = cs.parse_options(text)
        if options is None:
            ctx.reply("consult_bad_input", step="options")
            return True
        try:
            c = await cs.get(ctx.uow, int((user.state_data or {}).get("consultation_id", 0)))
            set_state(user, None)
            await cs.set_options_and_open(ctx.uow, c, options, lambda: _published(ctx, c))
        except ConsultError as exc:
            set_state(user, None)
            ctx.reply("consult_refused", key=exc.key)
        return True
    if user.state == Prompt.CONSULT_COMMENT:
        return await _comment_input(ctx, text)
    if user.state == "announce":
        if not _committee(ctx):
            set_state(user, None)
            return False
        photo = message.photo[-1].file_id if message.photo else None
        if not text and not photo:
            ctx.reply("announce_step", step="text", grids=[], names={})
            return True
        set_state(user, "announce", step="grids", text=text, photo=photo, grids=[])
        _announce_prompt(ctx, [])
        return True
    return False


async def _comment_input(ctx: Ctx, text: str) -> bool:
    """A ballot's comment or proposal. Like the comment after a rating (same rule from the
    dialogue table: it lapses, see `dialogue.read`), a message that reads as a new problem,
    a photo or a place is never swallowed: the resident is told it starts a report."""
    user = ctx.user
    message = ctx.message
    assert user is not None and message is not None
    data = dialogue.own_data(user)
    if not text or (message.reply_to_message is not None):
        await dialogue.end(ctx.uow, user, tell=False)
        return False
    try:
        c = await cs.get(ctx.uow, int(data.get("consultation_id", 0) or 0))
    except ConsultError as exc:
        ctx.reply("consult_refused", key=exc.key)
        await dialogue.end(ctx.uow, user)
        return True
    if message.photo or message.location or _off_topic_problem(ctx, c, data, text):
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


def _off_topic_problem(ctx: Ctx, c: Any, data: dict[str, Any], text: str) -> bool:
    """A comment that names a problem of another kind than the consultation's question (a
    sewage leak under a parking ballot). Proposals and on-topic comments are what was asked."""
    from bot.services.reports.drafts import reads_as_report

    if data.get("kind") == "proposal" or not reads_as_report(ctx.uow, text):
        return False
    classify = ctx.uow.domain.classifier.classify
    return classify(text).category != classify(c.question or "").category


# --- announcements --------------------------------------------------------------------------


async def announce_command(ctx: Ctx) -> None:
    if not _committee(ctx):
        _refuse(ctx)
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


async def _announce_button(ctx: Ctx, action: str, arg: str) -> None:
    user = ctx.user
    assert user is not None
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

        def notify(row: Any) -> None:
            ctx.reply(
                "announce_sent", a=row, keyboard=[[Button.of("btn_delivery", f"k:arep:{row.id}")]]
            )

        await announcements.send(
            ctx.uow, user.id, data.get("text") or "", data.get("photo"), sorted(grids), notify
        )
        set_state(user, None)
        return
    update_state(user, grids=sorted(grids))
    _announce_prompt(ctx, sorted(grids))


async def mute_command(ctx: Ctx) -> None:
    assert ctx.user is not None
    announcements.set_muted(ctx.user, True)
    ctx.reply("announce_mute", muted=True)


async def unmute_command(ctx: Ctx) -> None:
    assert ctx.user is not None
    announcements.set_muted(ctx.user, False)
    ctx.reply("announce_mute", muted=False)


# --- verification ---------------------------------------------------------------------------


async def verify_button(ctx: Ctx) -> None:
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
