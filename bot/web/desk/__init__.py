"""The grid centre's desk: a staff web console at /desk/ with Telegram login.

`session` resolves who is signed in and checks CSRF; `auth` signs in with a /web link or the
Mini App's initData; `board`, `case` and `reports` are the pages; `live` streams changes.
Every page and action is authorised by bot/services/people/access.py, as chat buttons are.
"""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    from bot.web.desk import auth, board, case, intake, live, reports

    for area in (auth, board, case, intake, reports, live):
        area.setup(app)
