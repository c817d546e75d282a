"""Independent verification of closures: a random, reproducible sample of closed cases is
checked by someone other than the handler — the resident ("is it still fixed?") or, with no
reachable resident, a member of another grid of the community with a photo. A failed check
reopens the case as rework; an unanswered one expires as unverified; the dashboard publishes
the verified-fix rate with its 95 % Wilson interval."""

from __future__ import annotations

import hashlib
import itertools
import math
from datetime import UTC, datetime, timedelta

import pytest
from dialogue_helpers import dispatcher, press, say
from page_helpers import get, pages
from sqlalchemy import select
from telegram import Chat, Message, PhotoSize, Update
from telegram import User as TgUser
from unit_helpers import (
    LEADER,
    MEMBER_1,
    MEMBER_2,
    MEMBER_3,
    MEMBER_4,
    buttons,
    events_of,
    file_case,
    new_resident,
    outbox,
)

from bot.clock import ManualClock
from bot.services import scheduler
from bot.services.cases import lifecycle, queues, verification
from bot.services.cases.status import Status
from bot.services.public.dashboard import Dashboard
from bot.services.shared.domain import Domain, UnitOfWork
from bot.store.models import Case, User, Verification

SEED = "verification-test-seed"
# Buildings of the four demo grids (xingfu-1 … xingfu-4) and each grid's member.
BUILDINGS = ("xf-1", "xf-7", "hp-2", "ak-1")
MEMBER_OF = {"xingfu-1": MEMBER_1, "xingfu-2": MEMBER_2, "xingfu-3": MEMBER_3, "xingfu-4": MEMBER_4}
_photo_ids = itertools.count(1)


@pytest.fixture
def domain_settings() -> dict[str, object]:
    return {
        "verify_seed": SEED,
        "verify_share": 0.10,
        "dashboard_min_cases": 10,
        "dashboard_cache": timedelta(0),
        "dashboard_window": timedelta(days=90),
    }


def drawn_by_hand(case_id: int, share: float = 0.10) -> bool:
    """The draw as the docs state it: SHA-256("seed:id"), first 8 bytes over 2^64."""
    digest = hashlib.sha256(f"{SEED}:{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = k / n
    denominator = 1 + z * z / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - spread) / denominator, (centre + spread) / denominator


async def send_photo(uow: UnitOfWork, user_id: int) -> str:
    """The person sends a photo in their private chat; returns its file id."""
    file_id = f"photo-{next(_photo_ids)}"
    chat = Chat(id=user_id, type="private")
    message = Message(
        message_id=900_000 + next(_photo_ids),
        date=datetime.now(UTC),
        chat=chat,
        from_user=TgUser(id=user_id, first_name="P", is_bot=False, language_code="zh"),
        photo=(PhotoSize(file_id=file_id, file_unique_id=file_id, width=10, height=10),),
    )
    update = Update(update_id=800_000 + next(_photo_ids), message=message)
    await dispatcher().handle(uow, update, update.to_dict())
    return file_id


async def _checks(uow: UnitOfWork) -> list[Verification]:
    return list(
        (await uow.session.execute(select(Verification).order_by(Verification.id))).scalars()
    )


def test_the_draw_is_the_stated_hash_and_hits_the_share() -> None:
    """Unbiased and reproducible: the draw is the documented hash, and over 20,000 ids it
    lands within three standard deviations of the share."""
    ids = range(1, 20_001)
    picked = [i for i in ids if verification.drawn(SEED, i, 0.10)]
    assert picked == [i for i in ids if drawn_by_hand(i)]
    sd = math.sqrt(20_000 * 0.1 * 0.9)
    assert abs(len(picked) - 2_000) <= 3 * sd
    # Another seed draws another sample: nobody can read it off the case id alone.
    other = {i for i in ids if verification.drawn("another-seed", i, 0.10)}
    assert len(other & set(picked)) < len(picked) * 0.2


async def test_a_simulation_of_400_closures_with_5_percent_false_ones(
    domain: Domain, clock: ManualClock
) -> None:
    """400 cases closed over four grids, every 20th a false closure (the problem is back).
    The sample is the hash's, about 10 %; the checks find each false closure they reach; a
    failed check reopens the case as rework against its handler; the published rate and its
    Wilson interval are the hand computation."""
    truth: dict[int, bool] = {}  # case id -> is it really fixed
    async with domain.unit() as uow:
        residents = [await new_resident(uow, building=b) for b in BUILDINGS for _ in range(5)]
        for i in range(400):
            building = BUILDINGS[i % 4]
            # Every ninth case came through Open311: no resident to ask.
            resident = None if i % 9 == 0 else residents[BUILDINGS.index(building) * 5 + i % 5]
            case = await file_case(uow, resident, building=building, as_category="facilities")
            await lifecycle.resolve(uow, case.owner_id or 0, case, "Fixed")
            truth[case.id] = i % 20 != 0
    clock.advance(uow.settings.auto_close_after + timedelta(minutes=1))
    await scheduler.run_due(domain)

    async with domain.unit() as uow:
        closed = (
            (await uow.session.execute(select(Case.id).where(Case.status == Status.CLOSED)))
            .scalars()
            .all()
        )
        assert len(closed) == 400
        checks = await _checks(uow)
    sampled = {v.case_id for v in checks}
    assert sampled == {i for i in truth if drawn_by_hand(i)}  # exactly the stated draw
    # About 10 %: within three standard deviations of 40 (the stated tolerance).
    assert abs(len(sampled) - 40) <= 3 * math.sqrt(400 * 0.1 * 0.9)
    assert all(v.outcome is None and v.asked_at is None for v in checks)
    assert all(v.handler_id == MEMBER_OF[v.grid_id] for v in checks)

    # Three days after closing the checks are asked: the resident, else another grid's member.
    clock.advance(timedelta(days=3))
    await scheduler.run_due(domain)
    async with domain.unit() as uow:
        checks = await _checks(uow)
        for v in checks:
            case = await uow.session.get(Case, v.case_id)
            assert case is not None and v.asked_at is not None
            if case.resident_id is not None:
                assert (v.way, v.checker_id) == ("resident", case.resident_id)
            else:
                assert v.way == "peer" and v.checker_id in MEMBER_OF.values()
                assert v.checker_id != MEMBER_OF[case.grid_id]  # another grid's member
        # Two checks nobody answers.
        silent = {checks[0].id, checks[1].id}
        plan = [(v.id, v.case_id, v.way, v.checker_id) for v in checks if v.id not in silent]

    for v_id, case_id, way, checker in plan:
        fixed = truth[case_id]
        async with domain.unit() as uow:
            if way == "resident":
                await press(uow, checker, f"r:vf:{case_id}:{v_id}:{'y' if fixed else 'n'}")
            else:
                await press(uow, checker, f"vp:{v_id}:{'y' if fixed else 'n'}")
        if way == "peer":
            async with domain.unit() as uow:
                await send_photo(uow, checker)

    # Unanswered checks expire after seven days as unverified.
    clock.advance(timedelta(days=7, minutes=1))
    await scheduler.run_due(domain)

    async with domain.unit() as uow:
        checks = await _checks(uow)
        outcome = {v.case_id: v.outcome for v in checks}
        for v in checks:
            if v.id in silent:
                assert v.outcome == "expired"
            else:
                assert v.outcome == ("passed" if truth[v.case_id] else "failed")
                assert v.answered_at is not None
                assert (v.photo is not None) == (v.way == "peer")
        failed = {c for c, o in outcome.items() if o == "failed"}
        false_in_sample = {c for c in sampled if not truth[c]}
        assert failed == {c for c in false_in_sample if outcome[c] != "expired"}
        assert failed, "the sample holds false closures to find"
        # Rework: reopened, back with the handler, an event on each.
        for case_id in failed:
            case = await uow.session.get(Case, case_id)
            assert case is not None and case.status in (Status.REOPENED, Status.ESCALATED)
            (rework,) = [e for e in await events_of(uow, case) if e.kind == "rework"]
            assert rework.data["new_owner"] == MEMBER_OF[case.grid_id]
            assert (rework.from_status, rework.to_status) == (Status.CLOSED, Status.REOPENED)
        for case_id in sampled - failed:
            case = await uow.session.get(Case, case_id)
            assert case is not None and case.status == Status.CLOSED
        # The assessment counts each failed closure against its handler.
        report = {r["id"]: r for r in await queues.assessment(uow, LEADER)}
        for member in MEMBER_OF.values():
            mine = [v for v in checks if v.handler_id == member]
            assert report[member]["rework"] == sum(v.outcome == "failed" for v in mine)
            assert report[member]["verified"] == sum(v.outcome == "passed" for v in mine)

    passed = sum(o == "passed" for o in outcome.values())
    n = len(outcome)
    low, high = wilson_by_hand(passed, n)
    figures = (await Dashboard(domain).community(None)).figures.verification
    assert (figures.passed, figures.checked, figures.expired) == (passed, n, 2)
    assert figures.rate == pytest.approx(passed / n)
    assert figures.interval == pytest.approx((low, high))
    client = await pages(domain)
    try:
        _, html = await get(client, "/communities/xingfu")
        assert f"{round(passed / n * 100)}%" in html
        assert f"95% interval {round(low * 100)}%–{round(high * 100)}%" in html
        _, html = await get(client, "/communities/xingfu", "zh")
        assert f"95%区间 {round(low * 100)}%–{round(high * 100)}%" in html
        # Per grid: the rate only from the minimum number of checks, never on fewer.
        for grid in MEMBER_OF:
            mine = [v for v in checks if v.grid_id == grid]
            _, html = await get(client, f"/grids/{grid}")
            block = html.split('data-figure="verified"', 1)[1].split("</div>\n</div>", 1)[0]
            if len(mine) < 10:
                assert "too few cases" in block and "95% interval" not in block
            else:
                k = sum(v.outcome == "passed" for v in mine)
                g_low, g_high = wilson_by_hand(k, len(mine))
                assert f"95% interval {round(g_low * 100)}%–{round(g_high * 100)}%" in block
        print(
            f"\nsample {len(sampled)} of 400; false closures in it {len(false_in_sample)}; "
            f"found {len(failed)}; rate {passed}/{n} = {passed / n:.3f}, "
            f"95% Wilson [{low:.3f}, {high:.3f}]; per grid "
            + str({g: sum(v.grid_id == g for v in checks) for g in MEMBER_OF})
        )
    finally:
        await client.close()


async def _one_check(domain: Domain, clock: ManualClock, *, resident: bool = True) -> Verification:
    """A closed case drawn for a check, its check asked (the first case id the seed draws)."""
    async with domain.unit() as uow:
        person = await new_resident(uow) if resident else None
        while True:
            case = await file_case(uow, person, as_category="facilities")
            if drawn_by_hand(case.id):
                break
            await lifecycle.cancel(uow, person, case) if person else await lifecycle.reject(
                uow, MEMBER_1, case, "not this one"
            )
        await lifecycle.resolve(uow, MEMBER_1, case, "Fixed")
    clock.advance(timedelta(days=3, minutes=1))
    await scheduler.run_due(domain)
    clock.advance(timedelta(days=3, minutes=1))
    await scheduler.run_due(domain)
    async with domain.unit() as uow:
        (v,) = await _checks(uow)
        assert v.asked_at is not None
        return v


async def test_the_resident_is_asked_neutrally_and_answers_once(
    domain: Domain, clock: ManualClock
) -> None:
    v = await _one_check(domain, clock)
    async with domain.unit() as uow:
        case = await uow.session.get(Case, v.case_id)
        assert case is not None and case.resident_id is not None
        question = (await outbox(uow, case.resident_id))[-1]
        assert "Is the problem still fixed?" in question.payload["text"]
        assert [d for _, d in buttons(question)] == [
            f"r:vf:{case.id}:{v.id}:y",
            f"r:vf:{case.id}:{v.id}:n",
        ]
        resident_id = case.resident_id
        stranger = await new_resident(uow)
    # Forged: someone else presses; the resident presses another check's id or a bad answer.
    async with domain.unit() as uow:
        await press(uow, stranger.id, f"r:vf:{v.case_id}:{v.id}:n")
        await press(uow, resident_id, f"r:vf:{v.case_id}:{v.id + 1}:n")
        await press(uow, resident_id, f"r:vf:{v.case_id}:{v.id}:maybe")
    async with domain.unit() as uow:
        check = await uow.session.get(Verification, v.id)
        assert check is not None and check.outcome is None
    # The answer, then the same press again (a replay) and the opposite one: nothing changes.
    for answer in ("y", "y", "n"):
        async with domain.unit() as uow:
            await press(uow, resident_id, f"r:vf:{v.case_id}:{v.id}:{answer}")
    async with domain.unit() as uow:
        check = await uow.session.get(Verification, v.id)
        case = await uow.session.get(Case, v.case_id)
        assert check is not None and case is not None
        assert check.outcome == "passed" and case.status == Status.CLOSED
        kinds = [e.kind for e in await events_of(uow, case)]
        assert kinds.count("verified") == 1 and "verification_failed" not in kinds


async def test_a_late_answer_after_expiry_changes_nothing(
    domain: Domain, clock: ManualClock
) -> None:
    v = await _one_check(domain, clock)
    clock.advance(timedelta(days=7, minutes=1))
    await scheduler.run_due(domain)
    async with domain.unit() as uow:
        case = await uow.session.get(Case, v.case_id)
        assert case is not None and case.resident_id is not None
        await press(uow, case.resident_id, f"r:vf:{v.case_id}:{v.id}:n")
    async with domain.unit() as uow:
        check = await uow.session.get(Verification, v.id)
        case = await uow.session.get(Case, v.case_id)
        assert check is not None and case is not None
        assert check.outcome == "expired" and case.status == Status.CLOSED
        toast = (await outbox(uow))[-1]
        assert toast.method == "answerCallbackQuery"
        assert "expired" in str(toast.payload.get("text", ""))


async def test_with_no_reachable_resident_another_grids_member_checks_with_a_photo(
    domain: Domain, clock: ManualClock
) -> None:
    v = await _one_check(domain, clock, resident=False)
    assert v.way == "peer" and v.checker_id in (MEMBER_2, MEMBER_3, MEMBER_4)
    checker = v.checker_id
    assert checker is not None
    async with domain.unit() as uow:
        card = (await outbox(uow, checker))[-1]
        assert [d for _, d in buttons(card)] == [f"vp:{v.id}:y", f"vp:{v.id}:n"]
    # Someone not asked presses (the handler, another member): refused, nothing armed.
    for other in (MEMBER_1, *(m for m in (MEMBER_2, MEMBER_3, MEMBER_4) if m != checker)):
        async with domain.unit() as uow:
            await press(uow, other, f"vp:{v.id}:n")
            user = await uow.session.get(User, other)
            assert user is None or user.state != "verify_photo"
    # Not fixed; words alone are not enough, the photo completes it.
    async with domain.unit() as uow:
        await press(uow, checker, f"vp:{v.id}:n")
        await say(uow, checker, "It is broken again")
    async with domain.unit() as uow:
        check = await uow.session.get(Verification, v.id)
        assert check is not None and check.outcome is None
        photo = await send_photo(uow, checker)
    async with domain.unit() as uow:
        check = await uow.session.get(Verification, v.id)
        case = await uow.session.get(Case, v.case_id)
        assert check is not None and case is not None
        assert (check.outcome, check.photo) == ("failed", photo)
        assert case.status == Status.REOPENED and case.owner_id == MEMBER_1
        assert case.reopen_count == 1
        told = "\n".join(str(m.payload.get("text", "")) for m in await outbox(uow, MEMBER_1))
        assert "rework" in told or "返工" in told  # the handler learns it is back as rework
    # The check is answered once: a second round changes nothing.
    async with domain.unit() as uow:
        await press(uow, checker, f"vp:{v.id}:y")
        await send_photo(uow, checker)
    async with domain.unit() as uow:
        check = await uow.session.get(Verification, v.id)
        case = await uow.session.get(Case, v.case_id)
        assert check is not None and case is not None
        assert check.outcome == "failed" and case.status == Status.REOPENED
        assert [e.kind for e in await events_of(uow, case)].count("rework") == 1


async def test_a_case_is_not_drawn_twice_and_the_follow_up_skips_drawn_cases(
    domain: Domain, clock: ManualClock
) -> None:
    v = await _one_check(domain, clock)
    async with domain.unit() as uow:
        case = await uow.session.get(Case, v.case_id)
        assert case is not None and case.resident_id is not None
        await press(uow, case.resident_id, f"r:vf:{v.case_id}:{v.id}:n")
    async with domain.unit() as uow:
        case = await uow.session.get(Case, v.case_id)
        assert case is not None and case.status == Status.REOPENED
        await lifecycle.accept(uow, MEMBER_1, case)
        await lifecycle.resolve(uow, MEMBER_1, case, "Fixed properly")
    clock.advance(timedelta(days=20))
    await scheduler.run_due(domain)
    await scheduler.run_due(domain)
    async with domain.unit() as uow:
        case = await uow.session.get(Case, v.case_id)
        assert case is not None and case.status == Status.CLOSED
        assert len(await _checks(uow)) == 1
        assert "follow_up_sent" not in [e.kind for e in await events_of(uow, case)]
