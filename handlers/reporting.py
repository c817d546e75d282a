"""Residents' reports and cases: the draft, filing, following, answering, rating, withdrawing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.bounds import arg, parse_id, parse_int
from bot.services.cases import lifecycle as case_service
from bot.services.cases.lifecycle import CaseActionError
from bot.services.cases.views import CATEGORY_ORDER, OPEN, case_place, category_keyboard
from bot.services.people import residents
from bot.services.people.residents import is_registered, update_state
from bot.services.reports import drafts as reports
from bot.services.shared import dialogue, messaging, ratelimit
from bot.services.shared.dialogue import Prompt
from bot.services.shared.outbox import Button, Keyboard, as_document
from handlers.context import Ctx, community_offices, status_label

if TYPE_CHECKING:
    from telegram import Message

    from handlers.dispatch import Dispatcher


def register(d: Dispatcher) -> None:
    d.commands.update({"report": report_command, "my": my_cases, "cancel": cancel_command})
    d.callbacks.update({"d": draft_button, "r": case_button})


def draft_keyboard() -> Keyboard:
    return dialogue.draft_keyboard()


def show_draft(
    ctx: Ctx, *, place: str | None = None, restored: bool = False, ref: str | None = None
) -> None:
    """The resident's draft as it stands, with its buttons (send, somewhere else, discard).

    With `ref`, the echo is remembered under that name (an album's echo, edited as photos come).
    """
    assert ctx.user is not None
    extra: dict[str, object] = {"place": place} if place is not None else {}
    if ref is not None:
        extra["ref"] = ref
    ctx.reply(
        "draft_saved",
        keyboard=draft_keyboard(),
        draft=reports.draft(ctx.user),
        restored=restored,
        **extra,
    )


async def echo_draft(ctx: Ctx, *, place: str | None = None) -> None:
    """Answer draft input once per burst: nothing while more is already waiting behind this
    message (the last one answers for all), and one echo per album, edited as photos come."""
    user = ctx.user
    assert user is not None
    if await reports.more_on_the_way(ctx.uow, user.id, ctx.update_id):
        return
    message = ctx.message
    group = message.media_group_id if message is not None else None
    if not group:
        show_draft(ctx, place=place)
        return
    ref = f"draft:{user.id}:{group}"[:64]
    if (user.state_data or {}).get("album_echo") == group:
        extra: dict[str, object] = {"place": place} if place is not None else {}
        ctx.uow.outbox.edit(
            ref,
            ctx.chat_id,
            ctx.lang,
            "draft_saved",
            keyboard=draft_keyboard(),
            draft=reports.draft(user),
            restored=False,
            **extra,
        )
        return
    update_state(user, album_echo=group)
    show_draft(ctx, place=place, ref=ref)


async def report_command(ctx: Ctx) -> None:
    user = ctx.user
    assert user is not None
    if not is_registered(user):
        from handlers.resident import start

        await start(ctx)
        return
    text = " ".join(ctx.args).strip()
    if text:
        reports.start_or_extend(ctx.uow, user, text)
        show_draft(ctx)
    else:
        ctx.reply("report_how")


def message_text(ctx: Ctx) -> tuple[str, bool]:
    """The message's words (text or caption), cut to the limit, and whether they were cut."""
    message = ctx.message
    text = ((message.text or message.caption or "") if message else "").strip()
    limit = ctx.uow.settings.max_text_length
    return text[:limit], len(text) > limit


async def _resident_prompt(ctx: Ctx) -> str | None:
    """The words of a message for a resident's prompt, or None when the prompt does not take
    it: a reply to a message about a case goes to that case (read as if no prompt were
    armed), and without registration nothing is kept (the prompt ends)."""
    user = ctx.user
    assert user is not None
    if not is_registered(user):
        await dialogue.end(ctx.uow, user, tell=False)
        return None
    if await _replied_case(ctx) is not None:
        return None
    text, too_long = message_text(ctx)
    if too_long:
        ctx.reply("text_too_long", limit=ctx.uow.settings.max_text_length)
    return text


async def draft_message(ctx: Ctx) -> bool:
    """The dialogue table's reader for `draft`: more for the report, or its place."""
    user = ctx.user
    assert user is not None
    if not is_registered(user):
        return False
    text, too_long = message_text(ctx)
    await on_message(ctx, text, too_long=too_long)
    return True


async def answer_message(ctx: Ctx) -> bool:
    """The reader for `answer`: the next message answers the staff question."""
    user = ctx.user
    assert user is not None
    text = await _resident_prompt(ctx)
    if text is None:
        return False
    return await _answer_case(ctx, int(dialogue.own_data(user).get("case_id", 0) or 0), text)


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


async def on_message(ctx: Ctx, text: str, *, too_long: bool) -> None:
    """A registered resident's message with no other prompt armed: an answer about a case
    (a reply to its message), the report draft's place, or more for the draft."""
    user = ctx.user
    message = ctx.message
    assert user is not None and message is not None
    if too_long:
        ctx.reply("text_too_long", limit=ctx.uow.settings.max_text_length)
    replied = await _replied_case(ctx)
    if replied is not None and await _answer_case(ctx, replied, text):
        return
    if (
        user.state == Prompt.DRAFT
        and (user.state_data or {}).get("awaiting_place")
        and text
        and not message.photo
    ):
        await _place_input(ctx, text)
        return
    await _draft_input(ctx, text)


async def _replied_case(ctx: Ctx) -> int | None:
    """A reply to the bot's message about a case goes to that case."""
    message = ctx.message
    if message is None or message.reply_to_message is None:
        return None
    return await messaging.case_of_message(
        ctx.uow, ctx.chat_id, message.reply_to_message.message_id
    )


async def _answer_case(ctx: Ctx, case_id: int, text: str) -> bool:
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
    photo = ctx.message.photo[-1].file_id if ctx.message and ctx.message.photo else None
    note = text or ""
    if photo:
        from bot.store.models import CasePhoto

        ctx.uow.session.add(CasePhoto(case_id=case.id, file_id=photo, kind="report"))
    await case_service.resident_message(ctx.uow, user, case, note or "📷")
    if photo and case.owner_chat_id is not None:
        ctx.uow.outbox.photos(case.owner_chat_id, [photo], case_id=case.id)
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


async def _draft_input(ctx: Ctx, text: str) -> None:
    user = ctx.user
    message = ctx.message
    assert user is not None and message is not None
    if not await ratelimit.allow(ctx.uow, user.id):
        await _not_taken(ctx)
        return
    point = message_point(message)
    if point is not None:
        lat, lon = point
        grid = ctx.uow.routing.locator.locate(lat, lon)
        if grid is None:
            ctx.reply("location_outside", **community_offices(ctx))
            return
        if not reports.draft(user):
            reports.start_or_extend(ctx.uow, user, "")
        venue = venue_name(message)
        reports.set_place(user, grid_id=grid.id, location=(lat, lon), place_text=venue)
        show_draft(ctx, place=" · ".join(p for p in (venue, grid.name.get(ctx.lang)) if p))
        return
    image = message_image(message)
    if image is not None:
        file_id, size = image
        if size and size > ctx.uow.settings.max_photo_bytes:
            ctx.reply("photo_too_large")
            return
        if text:
            reports.start_or_extend(ctx.uow, user, text)
        current, fitted = reports.add_photo(ctx.uow, user, file_id)
        group = message.media_group_id
        # One warning per album, not one per photo past the limit.
        if not fitted and not (group and (user.state_data or {}).get("album_full") == group):
            if group:
                update_state(user, album_full=group)
            ctx.reply("too_many_photos", limit=ctx.uow.settings.max_photos_per_report)
        await echo_draft(ctx)
        return
    reports.start_or_extend(ctx.uow, user, text)
    await echo_draft(ctx)


def message_point(message: Message) -> tuple[float, float] | None:
    """The point a message names: a location pin, or a venue (a named place on the map)."""
    location = message.location or (message.venue.location if message.venue else None)
    if location is None:
        return None
    return location.latitude, location.longitude


def venue_name(message: Message) -> str | None:
    """A venue's title and address, as the place's words (None for a plain pin)."""
    venue = message.venue
    if venue is None:
        return None
    words = ", ".join(p.strip() for p in (venue.title, venue.address) if p and p.strip())
    return words[:256] or None


#: Image files Telegram shows as photos; sent as a file ("document"), they count as photos.
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")


def message_image(message: Message) -> tuple[str, int | None] | None:
    """The photo a message carries (its photo id and size): a photo, or an image sent as a
    file — kept as a document's id (`outbox.as_document`), which Telegram sends back only as a
    document."""
    if message.photo:
        photo = message.photo[-1]
        return photo.file_id, photo.file_size
    document = message.document
    if document is not None and (document.mime_type or "").lower() in IMAGE_TYPES:
        return as_document(document.file_id), document.file_size
    return None


async def _not_taken(ctx: Ctx) -> None:
    """Past the per-minute limit the message is not added to the draft. At the end of the
    burst the person is told how many were not taken (one notice per minute, edited as more
    come) and sees the draft as it stands."""
    user = ctx.user
    assert user is not None
    if await reports.more_on_the_way(ctx.uow, user.id, ctx.update_id):
        return
    notice = await ratelimit.drop_notice(ctx.uow, user.id)
    if notice is None:
        return
    if not notice.first:
        ctx.uow.outbox.edit(
            notice.ref, ctx.chat_id, ctx.lang, "rate_limited", dropped=notice.dropped
        )
        return
    ctx.reply("rate_limited", dropped=notice.dropped, ref=notice.ref)
    if reports.draft(user):
        show_draft(ctx)


async def _place_input(ctx: Ctx, text: str) -> None:
    user = ctx.user
    assert user is not None
    matches = residents.match_address(ctx.uow, text)
    update_state(user, awaiting_place=False, place_typed=text)
    if not matches:
        reports.set_place(user, grid_id=user.home_grid_id, place_text=text)
        show_draft(ctx, place=text)
        return
    update_state(user, place_choice=True)
    _choose_place(ctx, text, matches)


def _choose_place(ctx: Ctx, text: str, matches: list, *, before_send: bool = False) -> None:  # type: ignore[type-arg]
    keyboard: Keyboard = [
        [Button.literal(m.building.name.get(ctx.lang), f"d:bld:{m.building.id}")] for m in matches
    ]
    keyboard.append([Button.of("btn_none_of_these", "d:typed")])
    ctx.reply("place_choose", keyboard=keyboard, text=text, before_send=before_send)


async def draft_button(ctx: Ctx) -> None:
    user = ctx.user
    assert user is not None
    action = ctx.args[0] if ctx.args else ""
    if not is_registered(user):
        ctx.answer("consent_needed", alert=True)
        return
    if await dialogue.read(ctx.uow, user) != Prompt.DRAFT and action not in (
        "follow",
        "new",
        "second",
    ):
        ctx.answer("draft_gone")
        return
    if action == "send":
        ctx.answer()
        await _submit(ctx, force_new=False)
    elif action == "new":
        ctx.answer()
        await _submit(ctx, force_new=True)
    elif action == "follow" and (followed := parse_id(arg(ctx.args, 1))) is not None:
        case = await case_service.get_case(ctx.uow, followed)
        if case.grid_id != user.home_grid_id and case.grid_id != (user.state_data or {}).get(
            "grid_id"
        ):
            ctx.answer("not_allowed")
            return
        ctx.answer()
        await case_service.follow(ctx.uow, user, case)
        await reports.discard(ctx.uow, user)
    elif action == "second" and len(ctx.args) > 1 and ctx.args[1].isdigit():
        try:  # the second problem of a filed report, as a case of its own
            case = await case_service.get_case(ctx.uow, int(ctx.args[1][:12]))
            second = await reports.file_second_problem(ctx.uow, user, case)
        except CaseActionError as exc:
            ctx.answer(exc.key, alert=True)
            return
        ctx.answer(None if second is not None else "second_already_filed")
    elif action == "where":
        update_state(user, awaiting_place=True)
        ctx.answer()
        ctx.reply("ask_place")
    elif action == "bld" and len(ctx.args) > 1:
        building = ctx.uow.routing.gridmap.buildings.get(ctx.args[1])
        if building is None:
            ctx.answer("not_allowed")
            return
        reports.set_place(
            user,
            building_id=building.id,
            grid_id=building.grid_id,
            place_text=building.name.get(ctx.lang),
        )
        ctx.answer()
        show_draft(ctx, place=building.name.get(ctx.lang))
    elif action == "typed":
        typed = (user.state_data or {}).get("place_typed")
        reports.set_place(user, grid_id=user.home_grid_id, place_text=typed)
        ctx.answer()
        show_draft(ctx, place=typed)
    elif action == "cancel":
        ctx.answer()
        ctx.reply("draft_discarded")
        await reports.discard(ctx.uow, user)
    else:
        ctx.answer("not_allowed")


async def _submit(ctx: Ctx, *, force_new: bool) -> None:
    user = ctx.user
    assert user is not None
    outcome, case = await reports.submit(
        ctx.uow, user, update_id=ctx.update_id, force_new=force_new
    )
    if outcome == "empty":
        ctx.reply("draft_needs_text", keyboard=draft_keyboard())
    elif outcome == "no_place":
        ctx.reply("ask_place")
    elif outcome == "choose_place":
        typed = str((user.state_data or {}).get("place_typed") or "")
        matches = residents.match_address(ctx.uow, typed)
        if matches:
            _choose_place(ctx, typed, matches, before_send=True)
        else:  # the map changed meanwhile: keep the words as the place
            reports.set_place(user, grid_id=user.home_grid_id, place_text=typed)
            show_draft(ctx, place=typed)
    elif outcome == "already_filed" and case is not None:
        ctx.reply(
            "already_filed",
            keyboard=[
                [Button.of("btn_file_anyway", "d:new")],
                [Button.of("btn_discard", "d:cancel")],
            ],
            case=case,
        )
    elif outcome == "similar" and case is not None:
        ctx.reply(
            "similar_found",
            keyboard=[
                [Button.of("btn_follow_case", f"d:follow:{case.id}", case_id=case.human_id)],
                [Button.of("btn_file_new", "d:new")],
            ],
            case=case,
            place=case_place(ctx.uow, case, ctx.lang),
        )


async def case_button(ctx: Ctx) -> None:
    """Buttons on a resident's case messages: rate, not solved, change category, timeline, cancel."""
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
            if not case_service.may_view(ctx.uow, user.id, case) and not await _follows(ctx, case):
                raise CaseActionError("not_allowed")
            ctx.answer()
            ctx.reply(
                "timeline",
                case=case,
                events=await case_service.timeline(ctx.uow, case),
                viewer="resident",
                **_views(ctx, case),
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
        elif action == "cx":
            await case_service.cancel(ctx.uow, user, case)
            ctx.answer("case_cancelled")
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
        ctx.answer(exc.key, alert=True, **status_label(ctx, exc.data))


def _pressed_id(ctx: Ctx) -> int | None:
    query = ctx.update.callback_query
    return query.message.message_id if query is not None and query.message is not None else None


def _edit_pressed(ctx: Ctx, keyboard: Keyboard | None) -> None:
    """Replace the buttons of the message just pressed (None: remove them)."""
    message_id = _pressed_id(ctx)
    if message_id is not None:
        ctx.uow.outbox.edit_markup(ctx.chat_id, message_id, ctx.lang, keyboard)


async def _follows(ctx: Ctx, case) -> bool:  # type: ignore[no-untyped-def]
    people = await case_service.audience(ctx.uow, case)
    return any(p.id == (ctx.user.id if ctx.user else 0) for p in people)


def _views(ctx: Ctx, case) -> dict:  # type: ignore[no-untyped-def,type-arg]
    from bot.services.cases.views import ownership_data

    return {"now": ctx.uow.now, **ownership_data(ctx.uow, case, ctx.lang)}


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
    if message.photo or message.location or reports.reads_as_report(ctx.uow, text):
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


async def cancel_command(ctx: Ctx) -> None:
    """`/cancel`: the armed prompt's own answer from the dialogue table; with none, the
    resident's open cases to withdraw."""
    user = ctx.user
    assert user is not None
    from handlers.member import leave_prompt

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
