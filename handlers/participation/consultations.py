"""Consultations, the committee's side: `/consult` (a guided dialogue of steps with buttons,
state in the dialogue table's `consult` prompt), `/consultations`, `/export <id>`, and the
`k:` buttons that manage one (results, delivery, comments, export, set the options, close).

Residents' ballots, comments and deep links are in `handlers/participation/ballots.py`,
announcements (`k:a…` buttons) in `handlers/participation/announcements.py`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.bounds import arg as arg_at
from bot.bounds import parse_id, parse_int
from bot.services.participation import consultations as cs
from bot.services.participation.consultations import ConsultError, ConsultStatus
from bot.services.people.policy import Capability
from bot.services.people.residents import set_state
from bot.services.shared.outbox import Button, Keyboard
from handlers.context import Ctx, may, refused
from handlers.message import message_text

# The longest a consultation may run when its close is given in days.
MAX_CONSULT_DAYS = 366

# --- the /consult dialogue ------------------------------------------------------------------


async def consult_command(ctx: Ctx) -> None:
    if refused(ctx, Capability.COMMITTEE):
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
    if refused(ctx, Capability.COMMITTEE):
        return
    items = await cs.recent(ctx.uow)
    cs.prepare_charts()
    keyboard: Keyboard = [
        [Button.literal(f"#{c.id} {c.question}"[:60], f"k:man:{c.id}")] for c in items
    ]
    ctx.reply("consult_list", items=items, now=ctx.uow.now, keyboard=keyboard)


async def export_command(ctx: Ctx) -> None:
    if refused(ctx, Capability.COMMITTEE):
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
    await ctx.uow.reads_much()  # every ballot of the consultation
    data = await cs.export_csv(ctx.uow, c)
    ctx.uow.outbox.upload(ctx.chat_id, "sendDocument", "document", data, f"consultation-{c.id}.csv")


async def committee_button(ctx: Ctx) -> None:
    """`k:<action>[:arg]`: a step of the /consult dialogue, or managing a consultation."""
    if not may(ctx, Capability.COMMITTEE):
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
            await ctx.uow.reads_much()  # the tallies over every ballot
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


# --- the dialogue table's readers -----------------------------------------------------------


async def consult_message(ctx: Ctx) -> bool:
    """The reader for `consult`: the answer to the step asked (the committee's own words)."""
    user = ctx.user
    assert user is not None
    if not may(ctx, Capability.COMMITTEE):
        set_state(user, None)
        return False
    text, _ = message_text(ctx)
    await _consult_text(ctx, text)
    return True


async def options_message(ctx: Ctx) -> bool:
    """The reader for `consult_options`: the options of a consultation that collected
    proposals first; once they are set it opens for votes."""
    user = ctx.user
    assert user is not None
    text, _ = message_text(ctx)
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


# Read by the dispatcher (handlers/dispatch.py).
COMMANDS = {"consult": consult_command, "consultations": list_command, "export": export_command}
CALLBACKS = {"k": committee_button}
