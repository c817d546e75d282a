"""The processor's bookkeeping statements on the driver's connection, without SQLAlchemy:
SQLite's, and asyncpg's on PostgreSQL once the transaction has begun.

What a person relies on: an update stored this way is the same row SQLAlchemy would store (the
inbox loop, a restart and the desk read it back), the per-minute count of their messages is
kept the same way, a duplicate delivery is still recognised, a failed statement fails as
SQLAlchemy's would, and everywhere else (a transaction that is not the processor's) nothing
changes. The language a card is written in is still the member's own,
read without loading their whole row.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.exc import IntegrityError

from bot.config import Settings
from bot.runtime.processor import _WAITING
from bot.services.shared import ratelimit
from bot.services.shared.domain import Domain
from bot.services.shared.languages import chat_language
from bot.store.db import PEOPLE, hot_add, hot_get, hot_rows
from bot.store.models import Case, CaseEvent, User
from bot.store.upserts import RATE_WINDOW_COUNT, inbox_insert
from tests.support.database import fresh_database

AT = datetime(2026, 12, 5, 9, 30, 15, 250000, tzinfo=UTC)


@pytest.fixture
async def domain(tmp_path: Path) -> Domain:
    """A SQLite file, or the suite's PostgreSQL database (emptied) where it runs on one."""
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite+aiosqlite:///{tmp_path / 'hot.db'}"
    settings = Settings(token="1:x", database_url=url)
    await fresh_database(url)
    made = Domain(settings)
    yield made
    await made.dispose()


class _Seen(list):
    callback: Any


def _through_sqlalchemy(domain: Domain) -> _Seen:
    """The statements SQLAlchemy hands to the driver from now on (BEGIN and COMMIT aside)."""
    seen = _Seen()

    @event.listens_for(domain.engine.sync_engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if not statement.startswith(("BEGIN", "COMMIT")):
            seen.append(" ".join(statement.split()))

    seen.callback = _seen
    return seen


def _update(update_id: int, user_id: int, status: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "payload": {"message": {"text": "лифт 电梯 lift", "date": 1764927015}},
        "user_id": user_id,
        "received_at": AT,
        "status": status,
        "attempts": 1,
        "processed_at": AT,
    }


def _person(person_id: int, **values: Any) -> dict[str, Any]:
    """A person's row as stored: who has talked to the bot, and nothing more unless given."""
    return {
        "id": person_id,
        "language": "en",
        "pseudonym": f"R-{person_id}",
        "created_at": AT,
        "state_data": {},
        "unreachable": False,
        **values,
    }


async def _store_people(domain: Domain, *rows: dict[str, Any]) -> None:
    async with domain.unit() as uow:
        await uow.session.execute(insert(User.__table__), list(rows))


async def _stored_inbox(domain: Domain) -> dict[int, tuple]:
    async with domain.engine.connect() as conn:
        found = await conn.execute(
            text(
                "SELECT update_id, payload, user_id, received_at, status, attempts,"
                " processed_at FROM inbox"
            )
        )
        return {row[0]: tuple(row[1:]) for row in found}


async def test_an_update_stored_here_is_the_row_sqlalchemy_stores(domain: Domain) -> None:
    seen = _through_sqlalchemy(domain)
    async with domain.unit(hot=True) as uow:
        inserted = await hot_rows(
            uow.session, *inbox_insert([_update(1, 7, "done")], returning=True)
        )
        again = await hot_rows(uow.session, *inbox_insert([_update(1, 7, "done")], returning=True))
        await hot_rows(uow.session, *inbox_insert([_update(3, 8, "pending")], returning=True))
        waiting = await hot_rows(uow.session, _WAITING, {"people": [7, 8, 9]})
        nobody = await hot_rows(uow.session, _WAITING, {"people": []})
    # none of it went through SQLAlchemy (the first statement neither: the transaction began
    # on the driver), but on PostgreSQL the empty list, which SQLAlchemy writes with the
    # column's type
    assert len(seen) == (0 if domain.sqlite else 1)
    assert [r[0] for r in inserted] == [1]
    assert again == []  # a duplicate delivery: not stored twice
    assert [r[0] for r in waiting] == [8]
    assert nobody == []
    async with domain.unit() as uow:  # the same row through the session, for comparison
        await uow.session.execute(*inbox_insert([_update(2, 7, "done")], returning=True))
    assert seen  # a transaction that is not hot goes through SQLAlchemy, as before
    stored = await _stored_inbox(domain)
    assert stored[1] == stored[2]
    assert stored[1][0] == stored[2][0]  # the payload's JSON, character for character


async def test_the_message_count_is_kept_alike_on_both_paths(domain: Domain) -> None:
    counts = []
    for hot in (True, True, False, True):
        async with domain.unit(hot=hot) as uow:
            uow.now = AT
            counts.append(await ratelimit.allow(uow, 7))
            found = await hot_rows(
                uow.session,
                RATE_WINDOW_COUNT,
                {"user_id": 8, "now": AT, "since": AT - ratelimit.WINDOW, "no": False},
            )
            counts.append(found[0][0])
    assert counts == [True, 1, True, 2, True, 3, True, 4]
    async with domain.unit(hot=True) as uow:  # a minute later the window starts again
        later = AT + timedelta(minutes=1, seconds=1)
        found = await hot_rows(
            uow.session,
            RATE_WINDOW_COUNT,
            {"user_id": 8, "now": later, "since": later - ratelimit.WINDOW, "no": False},
        )
    assert found == [(1,)]


async def test_a_failed_statement_fails_as_sqlalchemy_would(domain: Domain) -> None:
    plain = text(
        "INSERT INTO inbox (update_id, payload, user_id, received_at, status, attempts)"
        " VALUES (:update_id, '{}', 5, '2026-12-05 09:30:15', 'done', 1)"
    )
    async with domain.unit() as uow:
        await uow.session.execute(plain, {"update_id": 9})
    with pytest.raises(IntegrityError):
        async with domain.unit(hot=True) as uow:
            await hot_rows(uow.session, *inbox_insert([_update(4, 5, "done")], returning=True))
            await hot_rows(uow.session, plain, {"update_id": 9})  # stored already
    assert 4 not in await _stored_inbox(domain)  # the transaction left nothing behind
    async with domain.unit(hot=True) as uow:  # and the next one goes through
        assert await hot_rows(uow.session, *inbox_insert([_update(4, 5, "done")], returning=True))


async def test_a_card_is_written_in_the_members_language_without_their_row(
    domain: Domain,
) -> None:
    await _store_people(domain, _person(10001, language="zh", unreachable=True), _person(10002))
    for hot in (True, False):
        async with domain.unit(hot=hot) as uow:
            assert await chat_language(uow, 10001) == "zh"
            assert not uow.session.sync_session.identity_map  # no row loaded for it
            # what the outbox asks when it writes to them: they blocked the bot
            assert uow.session.info[PEOPLE][10001].unreachable is True
            # a row this transaction changed and has not written yet is the one read
            member = await uow.session.get(User, 10002)
            member.language = "zh"
            assert await chat_language(uow, 10002) == "zh"
            member.language = "en"
            assert await chat_language(uow, 4242) == domain.settings.default_language


async def test_what_the_transaction_changed_is_written_before_a_read_of_its_table(
    domain: Domain,
) -> None:
    await _store_people(domain, _person(7))
    reach = select(User.__table__.c.language).where(User.__table__.c.id == 7)
    for hot in (True, False):
        seen = _through_sqlalchemy(domain)
        async with domain.unit(hot=hot) as uow:
            person = await uow.session.get(User, 7)
            person.language = "zh" if hot else "en"
            # on the driver, a read of another table leaves the change for later (it needs
            # no write; the session writes everything first) ...
            assert await hot_rows(uow.session, _WAITING, {"people": [7]}) == []
            assert (person in uow.session.dirty) == hot
            # ... one of its own table sees it, as through the session
            assert await hot_rows(uow.session, reach, {}) == [("zh" if hot else "en",)]
            assert person not in uow.session.dirty
            person.first_name = f"Lin {hot}"  # changed again: written once more, before the commit
        event.remove(domain.engine.sync_engine, "before_cursor_execute", seen.callback)
        updates = [s for s in seen if s.startswith("UPDATE users")]
        # in a hot transaction both writes went to the driver, not through the ORM's flush
        assert len(updates) == (0 if hot else 2)
        async with domain.unit() as uow:
            stored = await uow.session.get(User, 7)
            assert (stored.language, stored.first_name) == ("zh" if hot else "en", f"Lin {hot}")


async def test_a_persons_row_read_and_attached_is_the_row_the_orm_loads(domain: Domain) -> None:
    await _store_people(
        domain,
        _person(
            7,
            language="zh",
            consent_at=AT,
            state="draft",
            state_data={"text": "电梯 lift"},
            home_grid_id="G1",
            verified=True,
        ),
    )
    columns = [c.key for c in User.__mapper__.column_attrs]
    async with domain.unit() as uow:
        loaded = await uow.session.get(User, 7)
        expected = {name: getattr(loaded, name) for name in columns}
    for hot in (True, False):
        seen = _through_sqlalchemy(domain)
        async with domain.unit(hot=hot) as uow:
            person = await hot_get(uow.session, User, 7)
            if hot:  # read on the driver (on PostgreSQL too: the transaction began there)
                assert seen == []
            assert {name: getattr(person, name) for name in columns} == expected
            assert person in uow.session and person not in uow.session.dirty
            assert await hot_get(uow.session, User, 7) is person  # held: the same row
            assert await uow.session.get(User, 7) is person
            assert await hot_get(uow.session, User, 4242) is None
            person.state_data = {"text": f"lift broken {hot}"}  # changed as any loaded row
            expected["state_data"] = person.state_data
        event.remove(domain.engine.sync_engine, "before_cursor_execute", seen.callback)
        updates = [s for s in seen if s.startswith("UPDATE users")]
        if hot:  # only the changed column, written on the driver before the commit
            assert updates == []
        elif domain.sqlite:  # only the changed column, written by the ORM's flush
            assert updates == ["UPDATE users SET state_data=? WHERE users.id = ?"]
        async with domain.unit() as uow:
            stored = await uow.session.get(User, 7)
            assert {name: getattr(stored, name) for name in columns} == expected


async def test_the_dialogue_state_an_update_changed_is_written_once_and_only_if_it_commits(
    domain: Domain,
) -> None:
    """Every update changes a person's dialogue state: a hot transaction writes the changed
    columns of each person on the driver before its commit, and its flush then writes none of
    them again; a transaction that fails writes nothing."""
    await _store_people(domain, _person(7), _person(8, language="zh"))
    seen = _through_sqlalchemy(domain)
    async with domain.unit(hot=True) as uow:
        resident = await hot_get(uow.session, User, 7)
        member = await hot_get(uow.session, User, 8)
        resident.state, resident.state_data = "draft", {"text": "电梯 lift broken"}
        member.state_data = {"case": 12}
    assert not [s for s in seen if s.startswith("UPDATE users")]  # none through the ORM
    with pytest.raises(RuntimeError):
        async with domain.unit(hot=True) as uow:
            (await hot_get(uow.session, User, 7)).state = "lost"
            raise RuntimeError("the handler failed")
    event.remove(domain.engine.sync_engine, "before_cursor_execute", seen.callback)
    async with domain.unit() as uow:
        resident = await uow.session.get(User, 7)
        member = await uow.session.get(User, 8)
        assert (resident.state, resident.state_data) == ("draft", {"text": "电梯 lift broken"})
        assert (member.state, member.state_data, member.language) == (None, {"case": 12}, "zh")


def _new_case(text_: str) -> Case:
    """A new case as a report makes it: the columns its filing gives, the rest defaulted."""
    return Case(
        resident_id=7,
        text=text_,
        category="lift",
        confidence=0.875,
        matched=["电梯", "lift"],
        grid_id="G1",
        status="assigned",
        created_at=AT,
        updated_at=AT,
        version=0,
        reopen_count=0,
        escalation_count=0,
    )


def _first_event(case_id: int) -> CaseEvent:
    """A new case's first event, as filing writes it."""
    return CaseEvent(
        case_id=case_id,
        at=AT,
        actor_id=7,
        actor_role="resident",
        kind="created",
        to_status="assigned",
        data={"confidence": 0.875},
    )


async def test_a_case_and_its_event_added_here_are_the_rows_the_flush_stores(
    domain: Domain,
) -> None:
    """A report filed in the processor's transaction: the new case and its first event are
    written on the driver, none of it through SQLAlchemy, and stored exactly as the ORM's
    flush stores them (defaults included); the rows stay loaded, every column known, and a
    later change (its public number) is written as any loaded row's."""
    await _store_people(domain, _person(7))
    columns = [c.key for c in Case.__mapper__.column_attrs if c.key not in ("id", "text")]
    seen = _through_sqlalchemy(domain)
    async with domain.unit(hot=True) as uow:
        case = _new_case("电梯 lift stuck, hot")
        assert await hot_add(uow.session, case)
        assert case.id is not None and case in uow.session
        assert case not in uow.session.dirty and case not in uow.session.new
        assert {k for k in columns if k not in case.__dict__} == set()  # every column known
        case.human_id = f"GV-2026-{case.id:06d}"
        event_ = _first_event(case.id)
        assert await hot_add(uow.session, event_)
        hot_id, hot_event = case.id, event_.id
    event.remove(domain.engine.sync_engine, "before_cursor_execute", seen.callback)
    assert not [s for s in seen if s.startswith(("INSERT INTO cases", "INSERT INTO case_events"))]
    async with domain.unit() as uow:  # the same through the ORM's flush, for comparison
        assert not await hot_add(uow.session, _new_case("not hot"))  # not hot: nothing done
        case = _new_case("电梯 lift stuck, flushed")
        uow.session.add(case)
        await uow.session.flush()
        case.human_id = f"GV-2026-{case.id:06d}"
        uow.session.add(_first_event(case.id))
        await uow.session.flush()
        flushed_id = case.id
    async with domain.unit() as uow:
        hot = await uow.session.get(Case, hot_id)
        flushed = await uow.session.get(Case, flushed_id)
        assert hot.human_id == f"GV-2026-{hot_id:06d}"
        assert {k: getattr(hot, k) for k in columns if k != "human_id"} == {
            k: getattr(flushed, k) for k in columns if k != "human_id"
        }
        events = (await uow.session.execute(select(CaseEvent).order_by(CaseEvent.id))).scalars()
        (first, second) = [
            (e.id, e.case_id, e.at, e.kind, e.note, e.from_status, e.data) for e in events
        ]
        assert first == (hot_event, hot_id, AT, "created", None, None, {"confidence": 0.875})
        assert second[1:] == (flushed_id, *first[2:])
