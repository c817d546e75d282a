"""Residents' proposals at the chat edge.

Residents: `/propose` (a dialogue: title, text, then an optional photo, place and cited
cases — state `propose` in the dialogue table), `/proposals` (the community's open ones),
`/proposal <id>`, the `pr:` buttons on a proposal's card (support, follow, a point for or
against: state `proposal_point`), the deep link `/start support_<id>` a shared card carries,
and inline mode (`@bot words`: the resident's own cases and the community's open proposals).

The committee: the `pa:` buttons of a proposal's card, one per row of the proposal's action
table (`bot.services.participation.proposals.ACTIONS`); a public reason or the proposal to merge
into is read in state `proposal_reason`.
"""

from __future__ import annotations

from typing import Any

from bot.bounds import arg as arg_at
from bot.bounds import clean_text, parse_id, parse_int
from bot.services.participation import proposals as ps
from bot.services.participation.proposals import Asks, ProposalError
from bot.services.people.policy import Capability
from bot.services.people.residents import my_cases
from bot.services.shared import dialogue
from bot.services.shared.dialogue import Prompt
from bot.services.shared.outbox import Button, Keyboard
from handlers.context import Ctx, may
from handlers.message import message_image, message_point, message_text, venue_name

# A deep link's payload is at most 64 characters of [A-Za-z0-9_-] (the Bot API's rule).
DEEP_LINK = "support_"
INLINE_QUERY_MAX = 64  # characters of an inline query we read (Telegram allows 256)
INLINE_RESULTS = 10


def _refuse(ctx: Ctx, exc: ProposalError) -> None:
    if ctx.update.callback_query is not None:
        ctx.answer(exc.key, alert=True, **exc.data)
    else:
        ctx.reply("proposal_refused", key=exc.key, data=exc.data)


def card_keyboard(p: Any, supported: bool = False, following: bool = False) -> Keyboard:
    """A resident's card of a proposal: support (with the count), follow or stop following,
    points."""
    if p.hidden_at is not None or p.status not in ps.TAKES_SUPPORT:
        return []
    return [
        [
            Button.of(
                "btn_proposal_supported" if supported else "btn_proposal_support",
                f"pr:{p.id}:s",
                n=p.supports,
                threshold=p.threshold,
            )
        ],
        [
            Button.of("btn_proposal_unfollow", f"pr:{p.id}:u")
            if following
            else Button.of("btn_proposal_follow", f"pr:{p.id}:f"),
        ],
        [
            Button.of("btn_proposal_for", f"pr:{p.id}:p:f"),
            Button.of("btn_proposal_against", f"pr:{p.id}:p:a"),
        ],
    ]


async def show_card(ctx: Ctx, p: Any) -> None:
    support = await ps.support_of(ctx.uow, p, ctx.user) if ctx.user is not None else None
    ctx.reply(
        "proposal_card",
        p=p,
        keyboard=card_keyboard(p, support is not None, bool(support and support.follow)),
        clusters=await ps.cited_clusters(ctx.uow, p),
        points=await ps.points(ctx.uow, p),
        link=_share_link(ctx, p),
    )


def _share_link(ctx: Ctx, p: Any) -> str:
    bot = ctx.uow.domain.bot_username or ""
    return f"https://t.me/{bot}?start={DEEP_LINK}{p.id}" if bot else ""


# --- writing a proposal ---------------------------------------------------------------------


async def propose_command(ctx: Ctx) -> None:
    user = ctx.user
    try:
        await ps.may_propose(ctx.uow, user)
    except ProposalError as exc:
        _refuse(ctx, exc)
        return
    assert user is not None
    dialogue.arm(ctx.uow, user, Prompt.PROPOSE, step="title", draft={})
    ctx.reply("proposal_ask", step="title", limit=ps.TITLE_MAX)


def _preview_keyboard(draft: dict[str, Any]) -> Keyboard:
    return [
        [Button.of("btn_proposal_cite", "pp:cite")],
        [Button.of("btn_proposal_publish", "pp:pub"), Button.of("btn_cancel", "pp:cx")],
    ]


def _preview(ctx: Ctx, draft: dict[str, Any]) -> None:
    ctx.reply(
        "proposal_preview",
        draft={k: draft.get(k) for k in ("title", "text", "place", "photo")},
        cited=len(draft.get("cited") or []),
        keyboard=_preview_keyboard(draft),
    )


async def propose_message(ctx: Ctx) -> bool:
    """The reader for `propose`: the title, the text, then a photo or a place for the preview."""
    user, message = ctx.user, ctx.message
    assert user is not None and message is not None
    data = dialogue.own_data(user)
    step, draft = data.get("step"), dict(data.get("draft") or {})
    text = clean_text(message.text or message.caption or "").strip()
    try:
        if step == "title":
            if not text:
                raise ProposalError("proposal_title_empty")
            draft["title"] = ps.check_title(text)
            dialogue.arm(ctx.uow, user, Prompt.PROPOSE, step="text", draft=draft)
            ctx.reply("proposal_ask", step="text", limit=ps.TEXT_MAX, low=ps.TEXT_MIN)
            return True
        if step == "text":
            draft["text"] = ps.check_text(text)
            dialogue.arm(ctx.uow, user, Prompt.PROPOSE, step="preview", draft=draft)
            _preview(ctx, draft)
            return True
        # the preview: a photo, a pin or a place's words complete the proposal
        image = message_image(message)
        point = message_point(message)
        if image is not None:
            draft["photo"] = image[0]
        if point is not None:
            digits = ctx.uow.settings.public_location_decimals
            draft["place"] = venue_name(message) or f"{point[0]:.{digits}f}, {point[1]:.{digits}f}"
        elif text and image is None:
            draft["place"] = text[: ps.PLACE_MAX]
        dialogue.arm(ctx.uow, user, Prompt.PROPOSE, step="preview", draft=draft)
        _preview(ctx, draft)
    except ProposalError as exc:
        ctx.reply("proposal_refused", key=exc.key, data=exc.data)
    return True


async def compose_button(ctx: Ctx) -> None:
    """`pp:cite`, `pp:c:<n>` (toggle a cluster), `pp:pub`, `pp:cx`."""
    user = ctx.user
    action = arg_at(ctx.args, 0)
    if (
        user is None
        or user.state != Prompt.PROPOSE
        or dialogue.own_data(user).get("step") != "preview"
    ):
        ctx.answer("proposal_stale")
        return
    data = dialogue.own_data(user)
    draft = dict(data.get("draft") or {})
    if action == "cx":
        ctx.answer()
        await dialogue.end(ctx.uow, user, tell=False)
        ctx.reply("proposal_cancelled")
        return
    if action == "pub":
        try:
            p = await ps.create(
                ctx.uow,
                user,
                title=str(draft.get("title", "")),
                text=str(draft.get("text", "")),
                photo=draft.get("photo"),
                place=draft.get("place"),
                cited=[int(i) for i in draft.get("cited") or [] if isinstance(i, int)],
            )
        except ProposalError as exc:
            ctx.answer(exc.key, alert=True, **exc.data)
            return
        ctx.answer()
        await dialogue.end(ctx.uow, user, tell=True)
        ctx.reply("proposal_published", p=p, link=_share_link(ctx, p))
        await show_card(ctx, p)
        return
    community = ps.community_of(ctx.uow, user.home_grid_id) or ""
    found = await ps.clusters(ctx.uow, ps.community_grids(ctx.uow, community))
    found = found[:8]
    chosen = set(draft.get("cited_keys") or [])
    if action == "c":
        n = parse_int(arg_at(ctx.args, 1), high=len(found) - 1) if found else None
        if n is None:
            ctx.answer("proposal_stale")
            return
        key = found[n].key
        if key in chosen:
            chosen.discard(key)
        elif len(chosen) < ps.CITE_MAX:
            chosen.add(key)
        draft["cited_keys"] = sorted(chosen)
        draft["cited"] = sorted({i for c in found if c.key in chosen for i in c.case_ids})
        dialogue.arm(ctx.uow, user, Prompt.PROPOSE, step="preview", draft=draft)
    elif action != "cite":
        ctx.answer("proposal_stale")
        return
    ctx.answer()
    keyboard: Keyboard = [
        [
            Button.of(
                "btn_proposal_cluster",
                f"pp:c:{i}",
                mark="✅ " if c.key in chosen else "",
                n=c.count,
                category=_category_name(ctx, c.category),
                place=_place_name(ctx, c),
            )
        ]
        for i, c in enumerate(found)
    ]
    keyboard += _preview_keyboard(draft)[1:]
    ctx.reply("proposal_clusters", found=len(found), chosen=len(chosen), keyboard=keyboard)


def _category_name(ctx: Ctx, code: str | None) -> str:
    renderer = ctx.uow.domain.renderer
    key = f"cat_{code or 'other'}"
    return renderer.label(ctx.lang, key) if renderer.has_label(ctx.lang, key) else str(code)


def _place_name(ctx: Ctx, c: ps.Cluster) -> str:
    gridmap = ctx.uow.routing.gridmap
    building = gridmap.buildings.get(c.building_id or "")
    if building is not None:
        return building.name.get(ctx.lang)
    grid = gridmap.grids.get(c.grid_id)
    return grid.name.get(ctx.lang) if grid else c.grid_id


# --- reading and supporting -----------------------------------------------------------------


async def list_command(ctx: Ctx) -> None:
    user = ctx.user
    community = ps.community_of(ctx.uow, user.home_grid_id if user else None)
    if community is None:
        for cid in ctx.uow.routing.gridmap.communities:
            community = cid
            break
    found = await ps.open_in(ctx.uow, community or "")
    ctx.reply("proposal_list", items=found)
    for p in found[:5]:
        await show_card(ctx, p)


async def show_command(ctx: Ctx) -> None:
    proposal_id = parse_id(arg_at(ctx.args, 0))
    if proposal_id is None:
        ctx.reply("proposal_refused", key="proposal_usage")
        return
    try:
        p = await ps.get(ctx.uow, proposal_id)
    except ProposalError as exc:
        _refuse(ctx, exc)
        return
    await show_card(ctx, p)
    if may(ctx, Capability.COMMITTEE) and ps.may_answer(ctx.uow, ctx.user.id if ctx.user else 0, p):
        ctx.reply(
            "proposal_committee",
            p=p,
            why="shown",
            keyboard=ps.answer_keyboard(p),
            clusters=await ps.cited_clusters(ctx.uow, p),
        )


async def support_link(ctx: Ctx, rest: str) -> None:
    """`/start support_<id>`: the proposal's card with its support button."""
    proposal_id = parse_id(rest)
    if proposal_id is None:
        ctx.reply("proposal_refused", key="proposal_unknown")
        return
    try:
        p = await ps.get(ctx.uow, proposal_id)
    except ProposalError as exc:
        _refuse(ctx, exc)
        return
    if p.hidden_at is not None:
        ctx.reply("proposal_refused", key="proposal_closed")
        return
    await show_card(ctx, p)


async def resident_button(ctx: Ctx) -> None:
    """`pr:<id>:s` support, `pr:<id>:f` follow, `pr:<id>:u` stop following,
    `pr:<id>:p:f|a` a point for or against."""
    proposal_id = parse_id(arg_at(ctx.args, 0))
    action = arg_at(ctx.args, 1)
    if proposal_id is None or action not in ("s", "f", "u", "p"):
        ctx.answer("not_allowed")
        return
    try:
        p = await ps.get(ctx.uow, proposal_id)
        if action == "s":
            key = await ps.support(ctx.uow, ctx.user, p)
            ctx.answer(key, n=p.supports, threshold=p.threshold)
            _refresh_pressed(ctx, p, supported=True)
        elif action in ("f", "u"):
            ctx.answer(await (ps.follow if action == "f" else ps.unfollow)(ctx.uow, ctx.user, p))
            _refresh_pressed(ctx, p, supported=True, following=action == "f")
        else:
            side = {"f": "for", "a": "against"}.get(arg_at(ctx.args, 2))
            if side is None:
                raise ProposalError("not_allowed")
            user = ps.require_supportable(ctx.uow, p, ctx.user)
            dialogue.arm(ctx.uow, user, Prompt.PROPOSAL_POINT, proposal_id=p.id, side=side)
            ctx.answer()
            ctx.reply("proposal_ask", step=side, limit=ps.POINT_MAX, p=p)
    except ProposalError as exc:
        ctx.answer(exc.key, alert=True, **exc.data)


def _refresh_pressed(ctx: Ctx, p: Any, *, supported: bool, following: bool = False) -> None:
    """The pressed card shows the new count (the pressed message only: other cards catch up
    when they are opened again)."""
    query = ctx.update.callback_query
    message = query.message if query is not None else None
    if message is not None:
        ctx.uow.outbox.edit_markup(
            message.chat.id, message.message_id, ctx.lang, card_keyboard(p, supported, following)
        )


async def point_message(ctx: Ctx) -> bool:
    """The reader for `proposal_point`: a short point for or against."""
    user, message = ctx.user, ctx.message
    assert user is not None and message is not None
    data = dialogue.own_data(user)
    text, _ = message_text(ctx)
    if not text or message.photo or message.location:
        await dialogue.end(ctx.uow, user, tell=False)
        return False
    try:
        p = await ps.get(ctx.uow, int(data.get("proposal_id") or 0))
        await ps.add_point(ctx.uow, user, p, str(data.get("side")), text)
        ctx.reply("proposal_point_saved", p=p, side=data.get("side"))
    except ProposalError as exc:
        ctx.reply("proposal_refused", key=exc.key, data=exc.data)
        if exc.key in ("proposal_point_long", "proposal_point_empty"):
            return True  # the prompt stays: a shorter point is welcome
    await dialogue.end(ctx.uow, user)
    return True


# --- the committee --------------------------------------------------------------------------


async def committee_button(ctx: Ctx) -> None:
    """`pa:<id>:<code>` and the work item's steps `pa:<id>:w:<member>` and
    `pa:<id>:w:<member>:<days>`."""
    user = ctx.user
    proposal_id = parse_id(arg_at(ctx.args, 0))
    code = arg_at(ctx.args, 1)
    action = ps.ACTIONS.get(code)
    if user is None or proposal_id is None or action is None:
        ctx.answer("not_allowed", alert=True)
        return
    try:
        p = await ps.get(ctx.uow, proposal_id)
        if not ps.may_answer(ctx.uow, user.id, p):
            raise ProposalError("not_allowed")
        if p.status not in action.statuses:
            raise ProposalError("proposal_answered")
        if Asks.TEXT in action.asks or Asks.PROPOSAL in action.asks:
            dialogue.arm(ctx.uow, user, Prompt.PROPOSAL_REASON, proposal_id=p.id, code=code)
            ctx.answer()
            ctx.reply("proposal_reason_ask", p=p, action=action.name)
            return
        if Asks.MEMBER in action.asks:
            members = ps.work_members(ctx.uow, p)
            member = parse_int(arg_at(ctx.args, 2), low=1, high=2**52)
            days = parse_int(arg_at(ctx.args, 3), high=366)
            if member is None:
                ctx.answer()
                ctx.reply(
                    "proposal_work_step",
                    p=p,
                    step="member",
                    keyboard=[
                        [Button.literal(s.name[:60], f"pa:{p.id}:w:{s.telegram_id}")]
                        for s in members
                    ],
                )
                return
            if days is None:
                ctx.answer()
                ctx.reply(
                    "proposal_work_step",
                    p=p,
                    step="days",
                    keyboard=[
                        [
                            Button.of("btn_in_days", f"pa:{p.id}:w:{member}:{d}", days=d)
                            for d in ps.WORK_DAYS
                        ]
                    ],
                )
                return
            done = await ps.run_action(ctx.uow, user.id, p, code, member, days)
        else:
            done = await ps.run_action(ctx.uow, user.id, p, code)
        ctx.answer()
        ctx.reply(done, p=p)
    except ProposalError as exc:
        ctx.answer(exc.key, alert=True, **exc.data)


async def reason_message(ctx: Ctx) -> bool:
    """The reader for `proposal_reason`: a decline's or a hiding's public reason, or the
    number of the proposal to merge into."""
    user, message = ctx.user, ctx.message
    assert user is not None and message is not None
    data = dialogue.own_data(user)
    text, _ = message_text(ctx)
    code = str(data.get("code", ""))
    action = ps.ACTIONS.get(code)
    try:
        p = await ps.get(ctx.uow, int(data.get("proposal_id") or 0))
        if action is None:
            raise ProposalError("proposal_stale")
        if Asks.PROPOSAL in action.asks:
            target = parse_id(text.lstrip("#").strip())
            if target is None:
                raise ProposalError("proposal_merge_target")
            done = await ps.run_action(ctx.uow, user.id, p, code, target)
        else:
            done = await ps.run_action(ctx.uow, user.id, p, code, text)
    except ProposalError as exc:
        ctx.reply("proposal_refused", key=exc.key, data=exc.data)
        if exc.key in ("proposal_reason_short", "proposal_merge_target"):
            return True  # asked again: the prompt stays
        await dialogue.end(ctx.uow, user, tell=False)
        return True
    await dialogue.end(ctx.uow, user, tell=False)
    ctx.reply(done, p=p)
    return True


# --- inline sharing -------------------------------------------------------------------------


async def inline_query(ctx: Ctx) -> None:
    """`@bot words` in any chat: the resident's own cases and their community's open proposals,
    each a card with a link that opens the proposal's support button."""
    query = ctx.update.inline_query
    assert query is not None
    words = " ".join(clean_text(query.query or "")[:INLINE_QUERY_MAX].split())
    user = ctx.user
    results: list[dict[str, Any]] = []
    if user is not None and user.erased_at is None and user.home_grid_id:
        render = ctx.uow.domain.renderer.render
        for p in await ps.own_open(ctx.uow, user, words, INLINE_RESULTS):
            link = _share_link(ctx, p)
            results.append(
                {
                    "type": "article",
                    "id": f"p{p.id}",
                    "title": render(ctx.lang, "inline_proposal_title", p=p).strip()[:100],
                    "description": p.text[:120],
                    "input_message_content": {
                        "message_text": render(ctx.lang, "inline_proposal", p=p, link=link),
                        "parse_mode": "HTML",
                    },
                    **(
                        {
                            "reply_markup": {
                                "inline_keyboard": [
                                    [
                                        {
                                            "text": render(ctx.lang, "inline_open").strip()[:60],
                                            "url": link,
                                        }
                                    ]
                                ]
                            }
                        }
                        if link
                        else {}
                    ),
                }
            )
        for case in await my_cases(ctx.uow, user, INLINE_RESULTS):
            if len(results) >= INLINE_RESULTS * 2:
                break
            if (
                words
                and words.lower() not in (case.text or "").lower()
                and words.upper() not in (case.human_id or "")
            ):
                continue
            results.append(
                {
                    "type": "article",
                    "id": f"c{case.id}",
                    "title": render(ctx.lang, "inline_case_title", case=case).strip()[:100],
                    "input_message_content": {
                        "message_text": render(
                            ctx.lang,
                            "inline_case",
                            case=case,
                            page=_case_page(ctx, case),
                        ),
                        "parse_mode": "HTML",
                    },
                }
            )
    ctx.uow.outbox.answer_inline(query.id, results)


def _case_page(ctx: Ctx, case: Any) -> str:
    base = ctx.uow.settings.public_url
    return f"{base.rstrip('/')}/cases/{case.human_id}" if base and case.human_id else ""


# Read by the dispatcher (handlers/dispatch.py).
COMMANDS = {"propose": propose_command, "proposals": list_command, "proposal": show_command}
CALLBACKS = {"pr": resident_button, "pp": compose_button, "pa": committee_button}
DEEP_LINKS = {DEEP_LINK: support_link}
INLINE = inline_query
