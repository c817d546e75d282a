"""A hot statement's values as the driver takes them (`DriverForm.row`) are the values
SQLAlchemy would send: what the bot writes on its fast path is read back the same way by the
desk, the reports and a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import bindparam, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import InvalidRequestError

from bot.services.shared.ratelimit import RATE_WINDOW_COUNT, WINDOW
from bot.store.db import DriverForm
from bot.store.models import Case, User, UTCDateTime

NOW = datetime(2026, 12, 6, 8, 30, 15, 250_000, tzinfo=UTC)
DIALECTS = [sqlite.dialect(), postgresql.asyncpg.dialect()]


def _sqlalchemys_row(form: DriverForm, params: dict[str, Any]) -> tuple:
    """What SQLAlchemy's own compiled form gives: `construct_params`, each through its type."""
    compiled = form._compiled
    dialect = compiled.dialect
    full = compiled.construct_params(params)
    out = []
    for name in compiled.positiontup or ():
        process = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        out.append(full[name] if process is None else process(full[name]))
    return tuple(out)


def _form(statement: Any, dialect: Any) -> DriverForm:
    return DriverForm(statement, dialect)


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_a_parameter_the_sql_repeats_gets_the_same_value_everywhere(dialect: Any) -> None:
    form = _form(RATE_WINDOW_COUNT, dialect)
    params = {"user_id": 7, "now": NOW, "since": NOW - WINDOW, "no": False}
    assert form.row(params) == _sqlalchemys_row(form, params)
    assert len(form.row(params)) == len(form._compiled.positiontup or ())


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_literal_and_computed_values_are_the_statements_own(dialect: Any) -> None:
    statement = (
        update(Case)
        .where(Case.id == bindparam("case_id"), Case.status != literal("closed"))
        .values(updated_at=bindparam("at"), reopen_count=bindparam("n", callable_=lambda: 42))
    )
    form = _form(statement, dialect)
    params = {"case_id": "C-1", "at": NOW}
    assert form.row(params) == _sqlalchemys_row(form, params)
    assert "closed" in form.row(params) and 42 in form.row(params)
    given = {**params, "n": 3}  # a value given for it wins, as in SQLAlchemy
    assert form.row(given) == _sqlalchemys_row(form, given) and 42 not in form.row(given)


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_a_missing_value_is_refused_as_sqlalchemy_refuses_it(dialect: Any) -> None:
    form = _form(select(User.id).where(User.id == bindparam("user_id")), dialect)
    with pytest.raises(InvalidRequestError, match="user_id"):
        form.row({})


@pytest.mark.parametrize(
    "value",
    [
        NOW,
        NOW.replace(microsecond=0),
        datetime(5, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2026, 12, 6, 16, 30, tzinfo=timezone(timedelta(hours=8))),
        datetime(2026, 12, 6, 8, 30),  # naive: taken as UTC
        datetime(2026, 12, 6, 8, 30, tzinfo=timezone(timedelta(0))),  # UTC, another object
        None,
    ],
)
def test_a_datetime_is_written_to_sqlite_as_the_dialect_writes_it(value: Any) -> None:
    dialect = sqlite.dialect()
    kind = UTCDateTime()
    fast = kind.dialect_impl(dialect).bind_processor(dialect)
    inner = kind.impl_instance.dialect_impl(dialect).bind_processor(dialect)
    expected = inner(kind.process_bind_param(value, dialect))
    assert fast(value) == expected
