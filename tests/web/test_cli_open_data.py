"""`gridvoice api-key create|list|revoke` and `gridvoice export`, as an operator runs them."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from bot.cli import main
from bot.render import LANGUAGES
from bot.web.pages import web_text_keys
from tests.support.world import DEMO_MAP, reset_database


def test_every_open311_text_exists_in_every_language() -> None:
    keys = {lang: web_text_keys(lang, name="open311") for lang in LANGUAGES}
    assert keys["en"] and all(keys[lang] == keys["en"] for lang in LANGUAGES)


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    import os

    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite+aiosqlite:///{tmp_path / 'gv.db'}"
    asyncio.run(reset_database(url))
    monkeypatch.setenv("DATABASE_URL", url)
    return url


@pytest.mark.db
def test_api_keys_are_issued_once_listed_without_secrets_and_revoked(database, capsys) -> None:
    assert main(["api-key", "create", "city-311"]) == 0
    out = capsys.readouterr().out
    key = re.search(r"gv_[\w-]+", out)
    assert key and "key 1 for city-311" in out
    assert main(["api-key", "list"]) == 0
    listed = capsys.readouterr().out
    assert "city-311" in listed and "active" in listed and key.group(0) not in listed
    assert main(["api-key", "revoke", "1"]) == 0
    assert main(["api-key", "list"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["api-key", "revoke", "99"]) == 1
    assert main(["api-key", "create", "   "]) == 1


@pytest.mark.db
def test_export_needs_a_map_and_a_real_month(database, tmp_path: Path, capsys) -> None:
    assert main(["export", "--out", str(tmp_path / "o"), "--month", "2026-13"]) == 2
    assert main(["export", "--out", str(tmp_path / "o")]) == 1  # no grid map yet
    assert "no grid map" in capsys.readouterr().out
    assert main(["grids", "load", str(DEMO_MAP)]) == 0
    assert main(["export", "--out", str(tmp_path / "o"), "--month", "2026-11"]) == 0
    names = {p.name for p in (tmp_path / "o").iterdir()}
    assert names == {
        "cases-2026-11.csv", "cases.geojson", "grid-months.csv", "grids.geojson",
        "datapackage.json", "proposals.csv",
    }  # fmt: skip
