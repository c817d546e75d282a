"""Learning lexicon suggestions from corrections, and the `gridvoice lexicon` command."""

from __future__ import annotations

import argparse
import json
import sys
import types
from pathlib import Path

import pytest
import yaml

from bot.cli import classify as classify_cli
from bot.cli import lexicon as lexicon_cli
from routing.corrections import Suggestion, suggest_entries, suggestions_yaml
from routing.lexicon import load_lexicon

CORRECTIONS = [
    ("the tuk-tuk drivers idle at the corner all day", None, "traffic"),
    ("tuk-tuk drivers idle outside the school", "environment", "traffic"),
    ("three tuk-tuk drivers idle by the gate", None, "traffic"),
    ("窨井盖板翘起来了 小区门口", None, "facilities"),
    ("盖板翘起 绊倒了人", "property", "facilities"),
    ("lift broken", "property", "property"),
    ("lift broken again", "property", "property"),
]


def cli(argv: list[str]) -> int:
    """Run a `gridvoice` sub-command of this part (independent of other sub-command modules)."""
    parser = argparse.ArgumentParser(prog="gridvoice")
    sub = parser.add_subparsers(dest="command")
    classify_cli.register(sub)
    lexicon_cli.register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def test_suggests_frequent_new_terms() -> None:
    lex = load_lexicon()
    out = suggest_entries(CORRECTIONS, lex, min_support=2)
    assert all(isinstance(s, Suggestion) for s in out)
    terms = {(s.category, s.lang, s.term) for s in out}
    assert ("traffic", "en", "tuk tuk") in terms
    assert ("traffic", "en", "drivers idle") in terms  # "idle" alone is shadowed by the phrase
    assert ("facilities", "zh", "盖板翘") in terms  # trigram kept, its bigrams are redundant
    assert ("facilities", "zh", "盖板") not in terms
    # "lift" and "broken" are already in the property lexicon
    assert not any(s.category == "property" and s.term in {"lift", "broken"} for s in out)
    top = out[0]
    assert top.support >= 2 and top.example
    assert out == sorted(out, key=lambda s: -s.score)


def test_min_support_and_distinctiveness() -> None:
    lex = load_lexicon()
    assert not any(
        s.term == "school"
        for s in suggest_entries(CORRECTIONS, lex, min_support=1)
        if s.category != "traffic"
    )
    assert suggest_entries(CORRECTIONS, lex, min_support=4) == []
    shared = [("blorp one", None, "traffic"), ("blorp two", None, "safety")] * 2
    assert suggest_entries(shared, lex) == []  # "blorp" is not distinctive


def test_yaml_snippet_is_valid_yaml() -> None:
    out = suggest_entries(CORRECTIONS, load_lexicon())
    data = yaml.safe_load(suggestions_yaml(out))
    assert "traffic" in data["categories"]
    assert all(v == 1 for v in data["categories"]["traffic"]["en"].values())


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "corr.jsonl"
    lines = [
        json.dumps({"text": t, "predicted": p, "corrected": c}, ensure_ascii=False)
        for t, p, c in CORRECTIONS
    ]
    path.write_text("\n".join(lines + ["not json", ""]) + "\n", encoding="utf-8")
    return path


def test_cli_suggest_from_jsonl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["lexicon", "suggest", "--from-jsonl", str(_write(tmp_path))]) == 0
    out, err = capsys.readouterr()
    assert "traffic" in out and "drivers idle" in out
    assert "skipped 1" in err
    assert cli(["lexicon", "suggest", "--from-jsonl", str(_write(tmp_path)), "--yaml"]) == 0
    assert "categories" in yaml.safe_load(capsys.readouterr().out)


def test_cli_suggest_from_database(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mod = types.ModuleType("bot.services.cases.corrections")

    async def list_corrections() -> list[tuple[str, str | None, str]]:
        return CORRECTIONS

    mod.list_corrections = list_corrections  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bot.services.cases.corrections", mod)
    assert cli(["lexicon", "suggest", "--min-support", "3"]) == 0
    assert "idle" in capsys.readouterr().out


def test_cli_suggest_without_database_service(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "bot.services.cases.corrections", None)  # import fails
    assert cli(["lexicon", "suggest"]) == 2
    assert "--from-jsonl" in capsys.readouterr().err


def test_cli_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["lexicon", "check"]) == 0
    assert "11 categories" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ncategories: {a: {en: {x: heavy}}}\n", encoding="utf-8")
    assert cli(["lexicon", "check", str(bad)]) == 1
    assert "weight must be a number" in capsys.readouterr().err
