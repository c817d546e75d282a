"""The resident's report draft in the chat: `/report`, what they write, photos and places,
the `d:` buttons (send, somewhere else, discard, follow a similar case) and filing.

A reply to the bot's message about a case goes to that case (`handlers/cases/resident.py`);
everything else a registered resident writes with no prompt armed is for the draft.
"""

from __future__ import annotations

from bot.bounds import arg, parse_id
from bot.services.cases import lifecycle as case_service
from bot.services.cases.lifecycle import CaseActionError
from bot.services.cases.views import case_place
from bot.services.people import residents
from bot.services.people.residents import is_registered, update_state
from bot.services.reports import drafts as reports
from bot.services.shared import dialogue, ratelimit
from bot.services.shared.dialogue import Prompt
from bot.services.shared.outbox import Button, Keyboard
from handlers.cases.resident import answer_case, replied_case
from handlers.context import Ctx, community_offices
from handlers.message import message_image, message_point, message_text, venue_name
from handlers.people.onboarding import start


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
        keyboard=dialogue.draft_keyboard(),
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
            keyboard=dialogue.draft_keyboard(),
            draft=reports.draft(user),
            restored=False,
            **extra,
        )
        return
    update_state(user, album_echo=group)
    show_draft(ctx, place=place, ref=ref)


async def held_report(ctx: Ctx, text: str) -> None:
    """Once registered, what the resident wrote before (if it names a problem) is a draft."""
    assert ctx.user is not None
    reports.start_or_extend(ctx.uow, ctx.user, text)
    show_draft(ctx, restored=True)


async def report_command(ctx: Ctx) -> None:
    user = ctx.user
    assert user is not None
    if not is_registered(user):
        await start(ctx)
        return
    text = " ".join(ctx.args).strip()
    if text:
        reports.start_or_extend(ctx.uow, user, text)
        show_draft(ctx)
    else:
        ctx.reply("report_how")


async def draft_message(ctx: Ctx) -> bool:
    """The dialogue table's reader for `draft`: more for the report, or its place."""
    user = ctx.user
    assert user is not None
    if not is_registered(user):
        return False
    await resident_message(ctx)
    return True


async def resident_message(ctx: Ctx) -> None:
    """A registered resident's message with no other prompt armed: an answer about a case
    (a reply to its message), the report draft's place, or more for the draft."""
    user = ctx.user
    message = ctx.message
    assert user is not None and message is not None
    text, too_long = message_text(ctx)
    if too_long:
        ctx.reply("text_too_long", limit=ctx.uow.settings.max_text_length)
    replied = await replied_case(ctx)
    if replied is not None and await answer_case(ctx, replied, text):
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
        ctx.reply("draft_needs_text", keyboard=dialogue.draft_keyboard())
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


# Read by the dispatcher (handlers/dispatch.py).
COMMANDS = {"report": report_command}
CALLBACKS = {"d": draft_button}
ON_REGISTERED = held_report
