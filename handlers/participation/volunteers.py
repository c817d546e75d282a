"""Volunteers and organisations in the chat.

Residents: `/volunteer` (skills, times, area, and whether to be thanked in public — the
`volunteer` prompt), `/unvolunteer`, `/tasks` with one-tap *Claim* and *Withdraw*. Grid
members and organisations: `/newtask` (the `task_post` prompt: title, capacity, hours) and
`/mytasks`, where the organiser confirms who came. The committee: `/orginvite <name>`; the
organisation's contact accepts with the link (`/start org_<code>`) and writes its public
profile (the `org_profile` prompt).

Buttons are `vt:c:<task>` claim, `vt:w:<task>` withdraw, `vt:a:<claim>` confirm attendance,
`vt:ty`/`vt:tn` thanks in public or not; every id is read with `bot.bounds`, and the service
decides again, so a forged, stale or repeated press changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.bounds import parse_float, parse_id, parse_int
from bot.services.participation import volunteers as vol
from bot.services.people.policy import Capability
from bot.services.shared import dialogue
from bot.services.shared.dialogue import Prompt
from bot.services.shared.outbox import Button, Keyboard
from handlers.context import Ctx, may
from handlers.message import message_text

if TYPE_CHECKING:
    from bot.store.models import User, VolunteerTask

TASKS_SHOWN = 10


def _community(ctx: Ctx, user: User) -> str | None:
    grid = ctx.uow.routing.gridmap.grids.get(user.home_grid_id or "")
    if grid is not None:
        return grid.community_id
    return vol.staff_community(ctx.uow, user.id)


def _place(ctx: Ctx, task: VolunteerTask) -> str:
    grid = ctx.uow.routing.gridmap.grids.get(task.grid_id or "")
    if task.place:
        return task.place
    if grid is not None:
        return grid.name.get(ctx.lang)
    community = ctx.uow.routing.gridmap.communities.get(task.community_id)
    return community.name.get(ctx.lang) if community else ""


def _task_keyboard(task: VolunteerTask, state: str | None) -> Keyboard:
    if state == "claimed":
        return [[Button.of("btn_vol_withdraw", f"vt:w:{task.id}")]]
    if state == "attended" or task.claimed >= task.capacity:
        return []
    return [[Button.of("btn_vol_claim", f"vt:c:{task.id}")]]


def _show_task(ctx: Ctx, task: VolunteerTask, state: str | None) -> None:
    ctx.reply(
        "volunteer",
        what="task",
        task=task,
        place=_place(ctx, task),
        state=state,
        keyboard=_task_keyboard(task, state),
    )


# --- residents ---------------------------------------------------------------------------------


async def volunteer_command(ctx: Ctx) -> None:
    user = ctx.user
    assert user is not None
    if not user.consent_at:
        ctx.reply("volunteer", what="register")
        return
    row = await vol.volunteer_of(ctx.uow, user.id)
    if row is not None:
        hours = await vol.hours_of(ctx.uow, user.id)
        ctx.reply("volunteer", what="profile", volunteer=row, hours=hours)
        return
    dialogue.arm(ctx.uow, user, Prompt.VOLUNTEER, step="skills")
    ctx.reply("volunteer", what="ask_skills")


async def volunteer_message(ctx: Ctx) -> bool:
    """The dialogue table's reader for `volunteer`: skills, then times, then area."""
    user = ctx.user
    assert user is not None
    text, _ = message_text(ctx)
    data = dialogue.own_data(user)
    step = data.get("step")
    if not text or step not in ("skills", "times", "area"):
        ctx.reply(
            "volunteer", what=f"ask_{step if step in ('skills', 'times', 'area') else 'thanks'}"
        )
        return True
    data[step] = text[: vol.FIELD_MAX]
    following = {"skills": "times", "times": "area", "area": "thanks"}[step]
    data["step"] = following
    dialogue.put(user, Prompt.VOLUNTEER, data, ctx.uow.now)
    keyboard: Keyboard | None = None
    if following == "thanks":
        keyboard = [
            [Button.of("btn_vol_thanks_yes", "vt:ty")],
            [Button.of("btn_vol_thanks_no", "vt:tn")],
        ]
    ctx.reply("volunteer", what=f"ask_{following}", keyboard=keyboard)
    return True


async def _thanks_button(ctx: Ctx, thank: bool) -> None:
    user = ctx.user
    assert user is not None
    data = dialogue.own_data(user)
    if user.state != Prompt.VOLUNTEER or data.get("step") != "thanks":
        ctx.answer("vol_stale")
        return
    ctx.answer()
    row = await vol.opt_in(
        ctx.uow,
        user,
        skills=str(data.get("skills") or ""),
        times=str(data.get("times") or ""),
        area=str(data.get("area") or ""),
        thank_publicly=thank,
    )
    await dialogue.end(ctx.uow, user)
    ctx.reply("volunteer", what="joined", volunteer=row)


async def unvolunteer_command(ctx: Ctx) -> None:
    user = ctx.user
    assert user is not None
    if await vol.volunteer_of(ctx.uow, user.id) is None:
        ctx.reply("volunteer", what="not_volunteer")
        return
    withdrawn = await vol.opt_out(ctx.uow, user.id)
    ctx.reply("volunteer", what="left", count=withdrawn)


async def tasks_command(ctx: Ctx) -> None:
    user = ctx.user
    assert user is not None
    if await vol.volunteer_of(ctx.uow, user.id) is None:
        ctx.reply("volunteer", what="not_volunteer")
        return
    tasks = await vol.open_tasks(ctx.uow, _community(ctx, user))
    if not tasks:
        ctx.reply("volunteer", what="none")
        return
    mine = await vol.my_claims(ctx.uow, user.id)
    for task in tasks[:TASKS_SHOWN]:
        _show_task(ctx, task, mine.get(task.id))


async def _claim_button(ctx: Ctx, claim: bool) -> None:
    user = ctx.user
    assert user is not None
    task_id = parse_id(ctx.args[1] if len(ctx.args) > 1 else None)
    if task_id is None:
        ctx.answer("not_allowed", alert=True)
        return
    if claim:
        outcome = await vol.claim(ctx.uow, user.id, task_id)
    else:
        outcome = await vol.withdraw(ctx.uow, user.id, task_id)
    ctx.answer(f"vol_{outcome}", alert=outcome not in ("claimed", "withdrawn"))
    if outcome in ("claimed", "withdrawn"):
        task = await vol.get_task(ctx.uow, task_id)
        if task is not None:
            _show_task(ctx, task, "claimed" if outcome == "claimed" else None)


# --- organisers --------------------------------------------------------------------------------


async def _may_organise(ctx: Ctx) -> bool:
    user_id = ctx.user.id if ctx.user else 0
    return vol.may_post_as_staff(ctx.uow, user_id) or (
        await vol.organisation_of(ctx.uow, user_id) is not None
    )


async def newtask_command(ctx: Ctx) -> None:
    user = ctx.user
    assert user is not None
    if not await _may_organise(ctx):
        ctx.reply("volunteer", what="not_organiser")
        return
    dialogue.arm(ctx.uow, user, Prompt.TASK_POST, step="title")
    ctx.reply("volunteer", what="ask_title")


async def task_message(ctx: Ctx) -> bool:
    """The dialogue table's reader for `task_post`: title, capacity, hours; then it posts."""
    user = ctx.user
    assert user is not None
    if not await _may_organise(ctx):
        await dialogue.end(ctx.uow, user)
        return False
    text, _ = message_text(ctx)
    data = dialogue.own_data(user)
    step = data.get("step")
    if step == "title":
        if not text:
            ctx.reply("volunteer", what="ask_title")
            return True
        data.update(step="capacity", title=text[: vol.TITLE_MAX])
        dialogue.put(user, Prompt.TASK_POST, data, ctx.uow.now)
        ctx.reply("volunteer", what="ask_capacity")
        return True
    if step == "capacity":
        capacity = parse_int(text, low=1, high=vol.MAX_CAPACITY)
        if capacity is None:
            ctx.reply("volunteer", what="bad_number", high=vol.MAX_CAPACITY)
            return True
        data.update(step="hours", capacity=capacity)
        dialogue.put(user, Prompt.TASK_POST, data, ctx.uow.now)
        ctx.reply("volunteer", what="ask_hours")
        return True
    hours = parse_float(text, low=0.25, high=vol.MAX_HOURS)
    if hours is None:
        ctx.reply("volunteer", what="bad_number", high=int(vol.MAX_HOURS))
        return True
    staff = ctx.uow.routing.gridmap.staff.get(user.id)
    grid_id = staff.grid_ids[0] if staff is not None and staff.grid_ids else None
    try:
        task = await vol.post_task(
            ctx.uow,
            user.id,
            title=str(data.get("title") or ""),
            capacity=int(data.get("capacity") or 0),
            hours=hours,
            grid_id=grid_id,
        )
    except vol.VolunteerError as exc:
        await dialogue.end(ctx.uow, user)
        ctx.reply("volunteer", what="refused", key=exc.key)
        return True
    await dialogue.end(ctx.uow, user)
    ctx.reply("volunteer", what="posted", task=task, place=_place(ctx, task))
    return True


async def mytasks_command(ctx: Ctx) -> None:
    user = ctx.user
    assert user is not None
    tasks = await vol.organiser_tasks(ctx.uow, user.id)
    org = await vol.organisation_of(ctx.uow, user.id)
    if org is not None:
        tasks += [
            t
            for t in await vol.open_tasks(ctx.uow, org.community_id)
            if t.organisation_id == org.id and t.organiser_id != user.id
        ]
    if not tasks:
        ctx.reply("volunteer", what="no_own_tasks")
        return
    for task in tasks[:TASKS_SHOWN]:
        claims = await vol.claims_of(ctx.uow, task.id)
        keyboard: Keyboard = [
            [Button.of("btn_vol_confirm", f"vt:a:{claim.id}", name=name)]
            for claim, name in claims
            if claim.state == "claimed"
        ]
        ctx.reply(
            "volunteer",
            what="organiser",
            task=task,
            place=_place(ctx, task),
            claims=[(c.state, name) for c, name in claims],
            keyboard=keyboard,
        )


async def _confirm_button(ctx: Ctx) -> None:
    user = ctx.user
    assert user is not None
    claim_id = parse_id(ctx.args[1] if len(ctx.args) > 1 else None)
    if claim_id is None:
        ctx.answer("not_allowed", alert=True)
        return
    outcome, claim = await vol.confirm(ctx.uow, user.id, claim_id)
    ctx.answer(f"vol_{outcome}", alert=outcome == "not_allowed")
    if outcome == "confirmed" and claim is not None:
        volunteer, task = await vol.attendee(ctx.uow, claim)
        if volunteer is not None and task is not None:
            total = await vol.hours_of(ctx.uow, volunteer.id)
            ctx.tell(
                volunteer.id,
                volunteer.language,
                "volunteer",
                what="attended",
                task=task,
                hours=total,
            )


async def volunteer_button(ctx: Ctx) -> None:
    action = ctx.args[0] if ctx.args else ""
    if action in ("c", "w"):
        await _claim_button(ctx, action == "c")
    elif action == "a":
        await _confirm_button(ctx)
    elif action in ("ty", "tn"):
        await _thanks_button(ctx, action == "ty")
    else:
        ctx.answer("not_allowed", alert=True)


# --- organisations -----------------------------------------------------------------------------


async def orginvite_command(ctx: Ctx) -> None:
    user = ctx.user
    assert user is not None
    name = " ".join(ctx.args).strip()
    if not may(ctx, Capability.COMMITTEE):
        ctx.reply("volunteer", what="refused", key="not_allowed")
        return
    community = vol.staff_community(ctx.uow, user.id)
    if not name or community is None:
        ctx.reply("volunteer", what="invite_usage")
        return
    code = await vol.invite_organisation(ctx.uow, user.id, community, name)
    ctx.reply(
        "volunteer",
        what="invited",
        org_name=name[:128],
        code=f"{vol.INVITE_PREFIX}{code}",
        bot=ctx.uow.domain.bot_username or "",
    )


async def org_deep_link(ctx: Ctx, rest: str) -> None:
    user = ctx.user
    assert user is not None
    org = await vol.accept_invitation(ctx.uow, user.id, rest)
    if org is None:
        ctx.reply("volunteer", what="bad_code")
        return
    dialogue.arm(ctx.uow, user, Prompt.ORG_PROFILE, step="about", org_id=org.id)
    ctx.reply("volunteer", what="org_joined", org_name=org.name)


async def org_profile_message(ctx: Ctx) -> bool:
    """The dialogue table's reader for `org_profile`: what the organisation does, then where."""
    user = ctx.user
    assert user is not None
    org = await vol.organisation_of(ctx.uow, user.id)
    if org is None:
        await dialogue.end(ctx.uow, user)
        return False
    text, _ = message_text(ctx)
    data = dialogue.own_data(user)
    if not text:
        ctx.reply(
            "volunteer", what="org_ask_" + ("area" if data.get("step") == "area" else "about")
        )
        return True
    if data.get("step") != "area":
        data.update(step="area", about=text[: vol.ABOUT_MAX])
        dialogue.put(user, Prompt.ORG_PROFILE, data, ctx.uow.now)
        ctx.reply("volunteer", what="org_ask_area")
        return True
    await vol.set_profile(ctx.uow, org, str(data.get("about") or ""), text)
    await dialogue.end(ctx.uow, user)
    ctx.reply("volunteer", what="org_done", org_name=org.name)
    return True


# Read by the dispatcher (handlers/dispatch.py).
COMMANDS = {
    "volunteer": volunteer_command,
    "unvolunteer": unvolunteer_command,
    "tasks": tasks_command,
    "newtask": newtask_command,
    "mytasks": mytasks_command,
    "orginvite": orginvite_command,
}
CALLBACKS = {"vt": volunteer_button}
DEEP_LINKS = {vol.INVITE_PREFIX: org_deep_link}
