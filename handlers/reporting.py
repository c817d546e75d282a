"""Residents' reports and cases: the draft, filing, following, answering, rating, withdrawing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.services import cases as case_service
from bot.services import messaging, reports, residents
from bot.services.case_views import CATEGORY_ORDER, OPEN, category_keyboard
from bot.services.cases import CaseActionError
from bot.services.outbox import Button, Keyboard
from bot.services.residents import is_registered, set_state, update_state
from handlers.context import Ctx, community_offices, status_label

if TYPE_CHECKING:
    from handlers.dispatch import Dispatcher


def register(d: Dispatcher) -> None:
    d.commands.update({"report": report_command, "my": my_cases, "cancel": cancel_command})
    d.callbacks.update({"d": draft_button, "r": case_button})


def draft_keyboard() -> Keyboard:
    return [
        [Button.of("btn_send_report", "d:send")],
        [Button.of("btn_elsewhere", "d:where"), Button.of("btn_discard", "d:cancel")],
    ]


def show_draft(ctx: Ctx, *, place: str | None = None, restored: bool = False) -> None:
    """The resident's draft as it stands, with its buttons (send, somewhere else, discard)."""
    assert ctx.user is not None
    extra = {"place": place} if place is not None else {}
    ctx.reply(
        "draft_saved",
        keyboard=draft_keyboard(),
        draft=reports.draft(ctx.user),
        restored=restored,
        **extra,
    )


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


async def on_message(ctx: Ctx, text: str, *, too_long: bool) -> None:
    """A registered resident's message: an answer about a case, a comment, or the report draft."""
    user = ctx.user
    message = ctx.message
    assert user is not None and message is not None
    if too_long:
        ctx.reply("text_too_long", limit=ctx.uow.settings.max_text_length)
    replied = await _replied_case(ctx)
    if user.state == "answer" or replied is not None:
        case_id = replied or int((user.state_data or {}).get("case_id", 0))
        if await _answer_case(ctx, case_id, text):
            return
    if user.state == "rate_comment":
        await _rating_comment(ctx, text)
        return
    if user.state == "reopen_reason":
        await _reopen_reason(ctx, text)
        return
    if (
        user.state == "draft"
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
        return False
    try:
        case = await case_service.get_case(ctx.uow, case_id)
    except CaseActionError:
        return False
    if case.resident_id != user.id or case.status not in OPEN:
        set_state(user, None)
        return False
    photo = ctx.message.photo[-1].file_id if ctx.message and ctx.message.photo else None
    note = text or ""
    if photo:
        from bot.store.models import CasePhoto

        ctx.uow.session.add(CasePhoto(case_id=case.id, file_id=photo, kind="report"))
    await case_service.resident_message(ctx.uow, user, case, note or "📷")
    if photo and case.owner_chat_id is not None:
        ctx.uow.outbox.photos(case.owner_chat_id, [photo], case_id=case.id)
    set_state(user, None)
    return True


async def _draft_input(ctx: Ctx, text: str) -> None:
    user = ctx.user
    message = ctx.message
    assert user is not None and message is not None
    if message.location is not None:
        lat, lon = message.location.latitude, message.location.longitude
        grid = ctx.uow.routing.locator.locate(lat, lon)
        if grid is None:
            ctx.reply("location_outside", **community_offices(ctx))
            return
        if not reports.draft(user):
            reports.start_or_extend(ctx.uow, user, "")
        reports.set_place(user, grid_id=grid.id, location=(lat, lon))
        show_draft(ctx, place=grid.name.get(ctx.lang))
        return
    if message.photo:
        photo = message.photo[-1]
        if photo.file_size and photo.file_size > ctx.uow.settings.max_photo_bytes:
            ctx.reply("photo_too_large")
            return
        if text:
            reports.start_or_extend(ctx.uow, user, text)
        current, fitted = reports.add_photo(ctx.uow, user, photo.file_id)
        if not fitted:
            ctx.reply("too_many_photos", limit=ctx.uow.settings.max_photos_per_report)
            return
        group = message.media_group_id
        if group and (user.state_data or {}).get("album") == group:
            return  # one answer per album, not one per photo
        if group:
            update_state(user, album=group)
        show_draft(ctx)
        return
    reports.start_or_extend(ctx.uow, user, text)
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
    keyboard: Keyboard = [
        [Button.literal(m.building.name.get(ctx.lang), f"d:bld:{m.building.id}")] for m in matches
    ]
    keyboard.append([Button.of("btn_none_of_these", "d:typed")])
    ctx.reply("place_choose", keyboard=keyboard, text=text)


async def draft_button(ctx: Ctx) -> None:
    user = ctx.user
    assert user is not None
    action = ctx.args[0] if ctx.args else ""
    if not is_registered(user):
        ctx.answer("consent_needed", alert=True)
        return
    if user.state != "draft" and action not in ("follow", "new", "second"):
        ctx.answer("draft_gone")
        return
    if action == "send":
        ctx.answer()
        await _submit(ctx, force_new=False)
    elif action == "new":
        ctx.answer()
        await _submit(ctx, force_new=True)
    elif action == "follow" and len(ctx.args) > 1 and ctx.args[1].isdigit():
        case = await case_service.get_case(ctx.uow, int(ctx.args[1]))
        if case.grid_id != user.home_grid_id and case.grid_id != (user.state_data or {}).get(
            "grid_id"
        ):
            ctx.answer("not_allowed")
            return
        ctx.answer()
        reports.discard(user)
        await case_service.follow(ctx.uow, user, case)
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
        reports.discard(user)
        ctx.answer()
        ctx.reply("draft_discarded")
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
    elif outcome == "similar" and case is not None:
        ctx.reply(
            "similar_found",
            keyboard=[
                [Button.of("btn_follow_case", f"d:follow:{case.id}", case_id=case.human_id)],
                [Button.of("btn_file_new", "d:new")],
            ],
            case=case,
        )


async def case_button(ctx: Ctx) -> None:
    """Buttons on a resident's case messages: rate, not solved, change category, timeline, cancel."""
    user = ctx.user
    assert user is not None
    action = ctx.args[0] if ctx.args else ""
    if len(ctx.args) < 2 or not ctx.args[1].isdigit():
        ctx.answer("not_allowed")
        return
    try:
        case = await case_service.get_case(ctx.uow, int(ctx.args[1]))
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
        if action == "rate" and len(ctx.args) > 2 and ctx.args[2].isdigit():
            await case_service.rate(ctx.uow, user, case, int(ctx.args[2]))
            set_state(user, "rate_comment", case_id=case.id)
            ctx.answer("thanks_rating")
            ctx.reply(
                "ask_rating_comment",
                case=case,
                keyboard=[[Button.of("btn_no_comment", f"r:nc:{case.id}")]],
            )
        elif action == "nc":
            set_state(user, None)
            ctx.answer("thanks_rating")
        elif action == "bad":
            if case.status != "resolved":
                raise CaseActionError("case_wrong_state", status=case.status)
            set_state(user, "reopen_reason", case_id=case.id)
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


async def _follows(ctx: Ctx, case) -> bool:  # type: ignore[no-untyped-def]
    people = await case_service.audience(ctx.uow, case)
    return any(p.id == (ctx.user.id if ctx.user else 0) for p in people)


def _views(ctx: Ctx, case) -> dict:  # type: ignore[no-untyped-def,type-arg]
    from bot.services.case_views import ownership_data

    return {"now": ctx.uow.now, **ownership_data(ctx.uow, case, ctx.lang)}


async def _rating_comment(ctx: Ctx, text: str) -> None:
    user = ctx.user
    assert user is not None
    case_id = int((user.state_data or {}).get("case_id", 0))
    set_state(user, None)
    if case_id and text:
        case = await case_service.get_case(ctx.uow, case_id)
        if case.resident_id == user.id:
            case.rating_comment = text
            await case_service.record(
                ctx.uow, case, case_service.Actor(user.id, "resident"), "rating_comment", note=text
            )
            ctx.reply("rating_comment_saved", case=case)
            return
    await _draft_input(ctx, text)


async def _reopen_reason(ctx: Ctx, text: str) -> None:
    user = ctx.user
    assert user is not None
    case_id = int((user.state_data or {}).get("case_id", 0))
    if not text:
        ctx.reply("ask_reopen_reason_text")
        return
    set_state(user, None)
    try:
        case = await case_service.get_case(ctx.uow, case_id)
        await case_service.reopen(ctx.uow, user, case, text)
    except CaseActionError as exc:
        ctx.reply("action_refused", key=exc.key, **status_label(ctx, exc.data))


async def my_cases(ctx: Ctx) -> None:
    user = ctx.user
    assert user is not None
    items = await residents.my_cases(ctx.uow, user)
    keyboard: Keyboard = [
        [Button.literal(c.human_id or str(c.id), f"r:tl:{c.id}")] for c in items[:10]
    ]
    ctx.reply("my_cases", cases=items, now=ctx.uow.now, keyboard=keyboard)


async def cancel_command(ctx: Ctx) -> None:
    user = ctx.user
    assert user is not None
    if user.state == "draft":
        reports.discard(user)
        ctx.reply("draft_discarded")
        return
    if user.state in ("answer", "rate_comment", "reopen_reason", "address"):
        set_state(user, None)
        ctx.reply("dialogue_cancelled")
        return
    items = [c for c in await residents.my_cases(ctx.uow, user) if c.status in OPEN]
    if not items:
        ctx.reply("nothing_to_cancel")
        return
    keyboard: Keyboard = [
        [Button.of("btn_withdraw", f"r:cx:{c.id}", case_id=c.human_id)] for c in items[:10]
    ]
    ctx.reply("cancel_choose", keyboard=keyboard, cases=items)
