"""Joint handling and summons (吹哨报到): co-handlers with tasks of their own, each on a card of
their own; the lead resolves only once every task is done or waived with a reason; the resident
sees one case; a summoned party signs in and makes first contact in time, or the miss escalates
and is counted; forged and stale presses change nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from dialogue_helpers import press, say
from unit_helpers import (
    LEADER,
    MEMBER_1,
    MEMBER_2,
    POLICE_CHAT,
    PROPERTY_CHAT,
    PROPERTY_STAFF,
    buttons,
    events_of,
    file_case,
    last_outbox_id,
    new_resident,
    outbox,
    texts_to,
)

from bot.clock import ManualClock
from bot.services import scheduler
from bot.services.cases import actions, joint, lifecycle, queues, views
from bot.services.cases.actions import Where
from bot.services.cases.lifecycle import CaseActionError
from bot.services.shared.domain import Domain, UnitOfWork
from bot.store.models import Case, CaseTask

COHANDLER = actions.BY_NAME["cohandler"]
SUMMON = actions.BY_NAME["summon"]
RESOLVE = actions.BY_NAME["resolve"]
WORDS = "The lamp by the gate of building 1 flickers all night, my name is Wang, call 13900001111"


def _codes(keyboard: list[Any]) -> list[str]:
    return [b.data for row in keyboard for b in row]


async def _task(uow: UnitOfWork, task_id: int) -> CaseTask:
    task = await uow.session.get(CaseTask, task_id)
    assert task is not None
    await uow.session.refresh(task)
    return task


async def _answers(uow: UnitOfWork, after: int) -> list[str]:
    return [
        str(m.payload.get("text", ""))
        for m in await outbox(uow, after=after)
        if m.method == "answerCallbackQuery"
    ]


async def test_a_joint_case_with_two_co_handlers(domain: Domain) -> None:
    """The lead adds two co-handlers (one through the card and its prompt); each gets a card of
    their own with the task and nothing of the resident; the lead cannot resolve until one is
    done and the other waived with a reason; the resident hears of neither."""
    async with domain.unit() as uow:
        resident = await new_resident(uow)
        case = await file_case(uow, resident, WORDS, as_category="facilities")
        assert case.owner_id == MEMBER_1
        case_id, version = case.id, case.version
        assert any(
            c.startswith("c:coh:") for c in _codes(await views.staff_keyboard(uow, case, MEMBER_1))
        )
        mark = await last_outbox_id(uow)

    # Through the chat: Co-handler on the lead's card, the property company, then its task.
    async with domain.unit() as uow:
        await press(uow, MEMBER_1, f"c:coh:{case_id}:{version}")
        card = (await outbox(uow, MEMBER_1, after=mark))[-1]
        offered = [d for _, d in buttons(card) if d.startswith("c:cht:")]
        assert f"c:cht:{case_id}:{version}:p:xingfu-wuye" in offered
        assert not any(d.endswith(f":m:{MEMBER_1}") for d in offered)  # never the lead
        await press(uow, MEMBER_1, f"c:cht:{case_id}:{version}:p:xingfu-wuye")
        await say(uow, MEMBER_1, "Check the wiring of the gate lamp")
    async with domain.unit() as uow:
        case = await uow.session.get(Case, case_id)
        assert case is not None
        first = (await joint.tasks_of(uow, case))[0]
        assert (first.party_id, first.kind, first.status) == ("xingfu-wuye", "joint", "open")
        assert first.task == "Check the wiring of the gate lamp"
        assert first.due_at == first.added_at + uow.settings.task_within
        # The party's own card, in its group (the map's staff language): the task, the case's
        # category and place, a Done button — never the resident's words, name or number.
        (party_card,) = [m for m in await outbox(uow, PROPERTY_CHAT, after=mark)]
        text = party_card.payload["text"]
        assert "协办" in text and "Check the wiring of the gate lamp" in text
        assert case.human_id in text
        assert "Wang" not in text and "13900001111" not in text and "flickers" not in text
        assert [d for _, d in buttons(party_card)] == [f"j:{first.id}:1:d"]
        # A second co-handler at the desk's entry point: the police station.
        second = await actions.perform(
            uow, MEMBER_1, case, COHANDLER, "p:heping-police", "Patrol the gate at night"
        )
        assert await texts_to(uow, POLICE_CHAT, after=mark)
        # The lead cannot resolve: not offered, and refused with the reason.
        assert RESOLVE not in await actions.offered(Where(uow, case, chat_id=MEMBER_1))
        with pytest.raises(CaseActionError) as refused:
            await actions.perform(uow, MEMBER_1, case, RESOLVE, "Fixed", None)
        assert refused.value.key == "tasks_open"
        with pytest.raises(CaseActionError):
            await lifecycle.resolve(uow, MEMBER_1, case, "Fixed")  # the chat's photo step too
        first_id, second_id, version = first.id, second.id, case.version

    # The property company's staff press Done; the lead waives the police's task with a reason.
    async with domain.unit() as uow:
        mark2 = await last_outbox_id(uow)
        await press(uow, PROPERTY_STAFF, f"j:{first_id}:1:d")
        assert (await _task(uow, first_id)).status == "done"
        case = await uow.session.get(Case, case_id)
        assert case is not None
        assert RESOLVE not in await actions.offered(Where(uow, case, chat_id=MEMBER_1))
        await press(uow, MEMBER_1, f"j:{second_id}:1:w")
        await say(uow, MEMBER_1, "   ")  # an empty reason waives nothing
    async with domain.unit() as uow:
        assert (await _task(uow, second_id)).status == "open"
        await press(uow, MEMBER_1, f"j:{second_id}:1:w")
        await say(uow, MEMBER_1, "The police patrol there anyway")
    async with domain.unit() as uow:
        waived = await _task(uow, second_id)
        assert (waived.status, waived.waive_reason) == ("waived", "The police patrol there anyway")
        case = await uow.session.get(Case, case_id)
        assert case is not None
        assert RESOLVE in await actions.offered(Where(uow, case, chat_id=MEMBER_1))
        assert "✅" in "\n".join(await texts_to(uow, MEMBER_1, after=mark2))  # the lead is told
        await actions.perform(uow, MEMBER_1, case, RESOLVE, "Fixed the lamp", None)
        kinds = [e.kind for e in await events_of(uow, case)]
        assert kinds.count("cohandler_added") == 2
        assert kinds.index("task_done") < kinds.index("task_waived") < kinds.index("resolved")
        # The resident saw one case: filed, then resolved — no word of the co-handlers.
        told = await texts_to(uow, resident.id, after=mark)
        assert len(told) == 1 and "Fixed the lamp" in told[0]
        # Their timeline too: one case, no step among staff; the lead's lists every step.
        mark3 = await last_outbox_id(uow)
        await say(uow, resident.id, f"/case {case.human_id}")
        await say(uow, MEMBER_1, f"/case {case.human_id}", lang="en")
        (mine,) = await texts_to(uow, resident.id, after=mark3)
        assert "resolved" in mine.lower()
        assert "co-handler" not in mine and "waived" not in mine and "police" not in mine
        staff_view = (await texts_to(uow, MEMBER_1, after=mark3))[0]
        assert "co-handler" in staff_view and "waived" in staff_view


async def test_forged_and_stale_presses_change_nothing(uow: UnitOfWork) -> None:
    case = await file_case(uow, await new_resident(uow), as_category="facilities")
    task = await actions.perform(
        uow, MEMBER_1, case, COHANDLER, "p:xingfu-wuye", "Check the wiring"
    )
    # Targets the card could not offer: an unknown party, another grid's member, the lead.
    for forged in ("p:nobody", f"m:{MEMBER_2}", f"m:{MEMBER_1}", "p:xingfu-wuye"):
        with pytest.raises(CaseActionError):
            await actions.perform(uow, MEMBER_1, case, COHANDLER, forged, "x")
    # Another grid's member may not add to someone else's case at all.
    with pytest.raises(CaseActionError):
        await actions.perform(uow, MEMBER_2, case, COHANDLER, "p:urban-mgmt", "x")
    # Only the co-handler's own staff answer; the lead and a stranger are refused.
    for stranger in (MEMBER_1, MEMBER_2, LEADER):
        with pytest.raises(CaseActionError) as refused:
            await lifecycle.answer_task(uow, stranger, task.id, 1, "done")
        assert refused.value.key == "not_allowed"
    # The co-handler cannot waive their own task; a made-up step is refused.
    with pytest.raises(CaseActionError):
        await lifecycle.waive_task(uow, PROPERTY_STAFF, task.id, 1, "Not ours")
    with pytest.raises(CaseActionError):
        await lifecycle.answer_task(uow, PROPERTY_STAFF, task.id, 1, "approve")
    # A joint task has no sign-in; Done once; a replay or a stale press changes nothing.
    with pytest.raises(CaseActionError):
        await lifecycle.answer_task(uow, PROPERTY_STAFF, task.id, 1, "sign")
    await lifecycle.answer_task(uow, PROPERTY_STAFF, task.id, 1, "done")
    closed_at = task.closed_at
    for version in (1, 2):
        with pytest.raises(CaseActionError) as again:
            await lifecycle.answer_task(uow, PROPERTY_STAFF, task.id, version, "done")
        assert again.value.key == "task_closed"
        with pytest.raises(CaseActionError):
            await lifecycle.waive_task(uow, MEMBER_1, task.id, version, "late")
    assert (task.status, task.closed_at) == ("done", closed_at)
    assert [e.kind for e in await events_of(uow, case)].count("task_done") == 1


async def test_forged_presses_through_the_chat(uow: UnitOfWork) -> None:
    case = await file_case(uow, await new_resident(uow), as_category="facilities")
    task = await actions.perform(uow, LEADER, case, SUMMON, "p:xingfu-wuye", "Come and look")
    mark = await last_outbox_id(uow)
    await press(uow, MEMBER_2, f"j:{task.id}:1:s")  # a stranger
    await press(uow, PROPERTY_STAFF, f"j:{task.id}:7:s")  # a stale version
    await press(uow, PROPERTY_STAFF, f"j:{task.id}:1:x")  # no such step
    await press(uow, PROPERTY_STAFF, "j:notanumber:1:s")
    await press(uow, MEMBER_1, f"c:cht:{case.id}:{case.version}:p:nobody")  # a forged target
    await press(uow, MEMBER_2, f"c:smt:{case.id}:{case.version}:p:urban-mgmt")  # not theirs
    answers = await _answers(uow, mark)
    assert len(answers) == 6 and all(answers), answers
    assert task.signed_at is None and task.version == 1
    assert len(await joint.tasks_of(uow, case)) == 1
    # The right press, in English: signed in.
    await press(uow, PROPERTY_STAFF, f"j:{task.id}:1:s", lang="en")
    assert task.signed_at is not None
    assert (await _answers(uow, mark))[-1] == "Signed in."


async def test_a_summons_signed_and_contacted_on_time(domain: Domain, clock: ManualClock) -> None:
    async with domain.unit() as uow:
        case = await file_case(uow, await new_resident(uow), as_category="facilities")
        # A member or leader summons; a party's staff never does.
        assert SUMMON in await actions.offered(Where(uow, case, user_id=LEADER))
        assert SUMMON in await actions.offered(Where(uow, case, chat_id=MEMBER_1))
        task = await actions.perform(
            uow, LEADER, case, SUMMON, "p:xingfu-wuye", "Gate lamp: the wiring is yours"
        )
        assert task.sign_by == task.added_at + timedelta(hours=1)
        assert task.contact_by == task.added_at + timedelta(hours=24)
        card = (await outbox(uow, PROPERTY_CHAT))[-1]
        assert [d for _, d in buttons(card)] == [f"j:{task.id}:1:s", f"j:{task.id}:1:d"]
        assert "报到" in card.payload["text"]
        task_id = task.id
        party_case = await file_case(uow, await new_resident(uow), as_category="property")
        assert SUMMON not in await actions.offered(Where(uow, party_case, user_id=PROPERTY_STAFF))
        with pytest.raises(CaseActionError):
            await lifecycle.summon(uow, PROPERTY_STAFF, party_case, "p:urban-mgmt", "x")
    clock.advance(timedelta(minutes=40))
    async with domain.unit() as uow:
        task = await lifecycle.answer_task(uow, PROPERTY_STAFF, task_id, 1, "sign")
        card = (await outbox(uow, PROPERTY_CHAT))[-1]
        assert [d for _, d in buttons(card)] == [f"j:{task_id}:2:c", f"j:{task_id}:2:d"]
    clock.advance(timedelta(hours=5))
    async with domain.unit() as uow:
        await lifecycle.answer_task(uow, PROPERTY_STAFF, task_id, 2, "contact")
    clock.advance(timedelta(hours=30))
    await scheduler.run_due(domain)
    async with domain.unit() as uow:
        task = await _task(uow, task_id)
        assert task.sign_missed_at is None and task.contact_missed_at is None
        assert task.overdue_at is None  # 3 days not over yet
        (row,) = await queues.task_assessment(uow, LEADER)
        assert (row["kind"], row["id"]) == ("party", "xingfu-wuye")
        assert {
            k: row[k] for k in ("summons", "signed_on_time", "contacted_on_time", "missed")
        } == {
            "summons": 1,
            "signed_on_time": 1,
            "contacted_on_time": 1,
            "missed": 0,
        }


async def test_a_summons_missed_escalates_once_and_is_counted(
    domain: Domain, clock: ManualClock
) -> None:
    async with domain.unit() as uow:
        case = await file_case(uow, await new_resident(uow), as_category="facilities")
        task = await actions.perform(uow, MEMBER_1, case, SUMMON, "p:xingfu-wuye", "Come by")
        task_id, case_id = task.id, case.id
        mark = await last_outbox_id(uow)
    clock.advance(timedelta(hours=1, minutes=1))
    assert await scheduler.run_due(domain) >= 1
    assert await scheduler.run_due(domain) == 0  # counted once
    async with domain.unit() as uow:
        task = await _task(uow, task_id)
        assert task.sign_missed_at is not None and task.contact_missed_at is None
        case = await uow.session.get(Case, case_id)
        assert case is not None
        kinds = [e.kind for e in await events_of(uow, case)]
        assert kinds.count("task_missed_sign") == 1
        # Up the party's ladder (the grid's leader), and the lead and the party are told.
        for chat in (LEADER, MEMBER_1, PROPERTY_CHAT):
            told = "\n".join(await texts_to(uow, chat, after=mark))
            assert "报到" in told and case.human_id in told, chat
        # Signing late still counts as missed; no contact by 24 hours, then the task overdue.
        await lifecycle.answer_task(uow, PROPERTY_STAFF, task_id, 1, "sign")
    clock.advance(timedelta(days=3))
    await scheduler.run_due(domain)
    async with domain.unit() as uow:
        task = await _task(uow, task_id)
        assert task.contact_missed_at is not None and task.overdue_at is not None
        (row,) = await queues.task_assessment(uow, LEADER)
        assert (row["summons"], row["signed_on_time"], row["missed"]) == (1, 0, 1)
        assert (row["tasks"], row["done_on_time"], row["overdue"]) == (1, 0, 1)
        # /stats shows it, in both languages.
        for lang, words in (("en", "missed 1"), ("zh", "超时 1")):
            text = uow.domain.renderer.render(
                lang, "stats", report=[], helpers=[row], days=30, ignored=None, max_days=365
            )
            assert words in text and row["name"].get(lang) in text, text


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_the_co_handlers_card_reads_in_both_languages(uow: UnitOfWork, lang: str) -> None:
    case = await file_case(uow, await new_resident(uow), WORDS, as_category="facilities")
    task = await actions.perform(uow, MEMBER_1, case, SUMMON, "p:urban-mgmt", "Move the bins")
    text = uow.domain.renderer.render(
        lang, "task_card", case=case, t=task, place="Building 1", lead="王芳"
    )
    assert "Move the bins" in text and case.human_id in text and "Wang" not in text
    assert ("Sign in" if lang == "en" else "报到") in text
    label = uow.domain.renderer.label(lang, "tasks_open")
    assert label and label != "tasks_open"


async def _desk(client: Any, domain: Domain, staff_id: int) -> str:
    """Sign `staff_id` in at the desk (a session as a `/web` link opens one); its CSRF token."""
    from bot.services.people import desk_auth

    async with domain.unit() as uow:
        token, signed = await desk_auth.open_session(uow, staff_id, "link")
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({"gv_desk": token})
    return signed.csrf


async def test_at_the_desk_a_party_answers_its_task_and_the_lead_waives(domain: Domain) -> None:
    from page_helpers import pages

    async with domain.unit() as uow:
        case = await file_case(uow, await new_resident(uow), WORDS, as_category="facilities")
        summoned = await actions.perform(uow, LEADER, case, SUMMON, "p:xingfu-wuye", "Come by")
        helping = await actions.perform(uow, MEMBER_1, case, COHANDLER, "p:urban-mgmt", "Bins")
        human_id, summoned_id, helping_id = case.human_id, summoned.id, helping.id
    client = await pages(domain)
    try:
        # The property company's staff: their own tasks, the card's facts, not the resident.
        csrf = await _desk(client, domain, PROPERTY_STAFF)
        async with client.get("/desk/tasks", headers={"Accept-Language": "zh"}) as r:
            html = await r.text()
        assert r.status == 200 and f'id="task-{summoned_id}"' in html and "Come by" in html
        assert f'id="task-{helping_id}"' not in html  # the urban team's, not theirs
        assert "Wang" not in html and "13900001111" not in html and "报到" in html
        form = {"csrf": csrf, "version": "1"}
        async with client.post(
            f"/desk/tasks/{summoned_id}/sign", data=form, allow_redirects=False
        ) as r:
            assert r.status == 303
        async with client.post(f"/desk/tasks/{summoned_id}/sign", data=form) as r:
            assert r.status == 403  # a replay: the page was drawn for version 1
        async with client.post(f"/desk/tasks/{helping_id}/done", data=form) as r:
            assert r.status == 403  # not their task
        # The lead: the case page lists both; Waive needs a reason; resolve waits for both.
        csrf = await _desk(client, domain, MEMBER_1)
        async with client.get(f"/desk/cases/{human_id}") as r:
            html = await r.text()
        assert 'id="tasks"' in html and f'action="/desk/tasks/{helping_id}/waive"' in html
        assert f'action="/desk/cases/{human_id}/resolve"' not in html
        form = {"csrf": csrf, "version": "1", "reason": " ", "back": "case"}
        async with client.post(f"/desk/tasks/{helping_id}/waive", data=form) as r:
            assert r.status == 400
        for task_id in (helping_id, summoned_id):
            version = "1" if task_id == helping_id else "2"
            form = {"csrf": csrf, "version": version, "reason": "Not needed now", "back": "case"}
            async with client.post(
                f"/desk/tasks/{task_id}/waive", data=form, allow_redirects=False
            ) as r:
                assert r.status == 303 and r.headers["Location"].endswith("#tasks")
        async with client.get(f"/desk/cases/{human_id}") as r:
            html = await r.text()
        assert f'action="/desk/cases/{human_id}/resolve"' in html
        assert html.count("Waived: Not needed now") == 2
    finally:
        await client.close()


async def test_the_dashboard_counts_summons_from_the_minimum(
    domain: Domain, clock: ManualClock
) -> None:
    """A community's page counts the period's summons and tasks (never who or what), with the
    outcomes only from `dashboard_min_cases`; /about/numbers defines them in both languages."""
    from page_helpers import get, pages

    async with domain.unit() as uow:
        for n in range(uow.settings.dashboard_min_cases):
            case = await file_case(uow, await new_resident(uow), as_category="facilities")
            task = await actions.perform(
                uow, MEMBER_1, case, SUMMON, "p:xingfu-wuye", f"Secret task {n}"
            )
            if n == 0:
                await lifecycle.answer_task(uow, PROPERTY_STAFF, task.id, 1, "sign")
    clock.advance(timedelta(hours=2))
    await scheduler.run_due(domain)  # every other one missed its sign-in
    client = await pages(domain)
    try:
        status, html = await get(client, "/communities/xingfu")
        assert status == 200
        card = html.split('data-figure="summons"', 1)[1].split("</div>\n  </div>", 1)[0]
        minimum = domain.settings.dashboard_min_cases
        assert "1 signed in on time" in card and f"{minimum - 1} missed" in card, card
        assert "Secret task" not in html and "幸福物业" not in html
        for lang, term in (("en", "Summons and co-handling"), ("zh", "吹哨报到与协办")):
            status, html = await get(client, "/about/numbers", lang)
            assert status == 200 and 'id="summons"' in html and term in html
    finally:
        await client.close()


def test_the_times_are_set_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.config import Settings

    default = Settings.from_env()
    assert (default.summons_sign, default.summons_contact) == (
        timedelta(hours=1),
        timedelta(hours=24),
    )
    monkeypatch.setenv("GRIDVOICE_SUMMONS_SIGN_MINUTES", "30")
    monkeypatch.setenv("GRIDVOICE_SUMMONS_CONTACT_HOURS", "12")
    monkeypatch.setenv("GRIDVOICE_TASK_DAYS", "0")  # never shorter than a minute
    s = Settings.from_env()
    assert s.summons_sign == timedelta(minutes=30) and s.summons_contact == timedelta(hours=12)
    assert s.task_within == timedelta(minutes=1)


async def test_a_declined_case_s_tasks_wait_for_nobody(domain: Domain, clock: ManualClock) -> None:
    async with domain.unit() as uow:
        case = await file_case(uow, await new_resident(uow), as_category="facilities")
        task = await actions.perform(uow, MEMBER_1, case, SUMMON, "p:xingfu-wuye", "Come by")
        await lifecycle.reject(uow, MEMBER_1, case, "Not a grid matter")
        with pytest.raises(CaseActionError) as refused:
            await lifecycle.answer_task(uow, PROPERTY_STAFF, task.id, 1, "sign")
        assert refused.value.key == "case_wrong_state"
        task_id = task.id
    clock.advance(timedelta(days=4))
    assert await scheduler.run_due(domain) == 0
    async with domain.unit() as uow:
        task = await _task(uow, task_id)
        assert task.sign_missed_at is None and task.overdue_at is None


async def test_the_desk_report_has_a_row_per_co_handler(domain: Domain) -> None:
    from page_helpers import pages

    async with domain.unit() as uow:
        case = await file_case(uow, await new_resident(uow), as_category="facilities")
        task = await actions.perform(uow, MEMBER_1, case, SUMMON, "p:xingfu-wuye", "Come by")
        await lifecycle.answer_task(uow, PROPERTY_STAFF, task.id, 1, "sign")
        month = uow.now.strftime("%Y-%m")
    client = await pages(domain)
    try:
        await _desk(client, domain, LEADER)
        async with client.get(f"/desk/reports.csv?month={month}") as r:
            body = (await r.read()).decode("utf-8-sig")
        header, *rows = body.splitlines()
        assert header.endswith(
            "summons,signed_on_time,contacted_on_time,missed,tasks,done_on_time,overdue"
        )
        (helper,) = [row for row in rows if ",helper_party," in row]
        assert "xingfu-wuye" in helper and helper.endswith(",1,1,0,0,1,0,0")
        async with client.get(
            f"/desk/reports?month={month}", headers={"Accept-Language": "zh"}
        ) as r:
            html = await r.text()
        table = html.split('id="report-helpers"', 1)[1].split("</table>", 1)[0]
        assert "幸福物业" in table and "按时报到" in table
    finally:
        await client.close()
