"""`gridvoice model train --jsonl`: figures, the install rule, --force, the model file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.cli import model as model_cli
from bot.config import Settings
from routing.linear import LinearModel

ROWS = [
    ("the bluebox is full again", "sanitation"),
    ("bluebox not emptied since friday", "sanitation"),
    ("bluebox overflowing onto the path", "sanitation"),
    ("bluebox lid broken and it stinks", "sanitation"),
    ("cats tearing open bags at the bluebox", "sanitation"),
    ("the moonpole is off again tonight", "facilities"),
    ("moonpole flickering near the square", "facilities"),
    ("moonpole dark since monday", "facilities"),
    ("moonpole buzzing and blinking", "facilities"),
    ("moonpole not working, square pitch dark", "facilities"),
]


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "cases.jsonl"
    lines = [json.dumps({"text": t, "category": c}) for t, c in ROWS]
    path.write_text("\n".join(lines) + "\nnot json\n", encoding="utf-8")
    return path


def test_train_from_jsonl_prints_figures_and_writes_a_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "m.npz"
    code = main(
        ["model", "train", "--jsonl", str(_write(tmp_path)), "--output", str(out), "--folds", "2"]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "packaged model:" in printed and "new model (2-fold CV):" in printed
    assert "accuracy" in printed and "precision" in printed and "coverage" in printed
    model = LinearModel.load(out)
    assert model.info["local_rows"] == len(ROWS)
    assert any(f.startswith("moonpol") for f in model.index)  # a stem of the local word
    capsys.readouterr()
    assert main(["classify", "--model", str(out), "the moonpole is dark again tonight"]) == 0
    assert capsys.readouterr().out.startswith("facilities\t")


def test_a_worse_model_is_not_installed_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a model that abstains on every held-out case scores worse than the packaged one
    monkeypatch.setattr(model_cli, "cross_validate", lambda rows, fixed, fit, k: [None] * len(rows))
    path, out = _write(tmp_path), tmp_path / "m.npz"
    args = ["model", "train", "--jsonl", str(path), "--output", str(out), "--folds", "2"]
    assert main(args) == 1
    assert "not installed" in capsys.readouterr().out and not out.exists()
    assert main([*args, "--force"]) == 0
    assert out.exists()


def test_too_few_labelled_messages_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "few.jsonl"
    path.write_text('{"text": "bluebox full", "category": "sanitation"}\n', encoding="utf-8")
    assert main(["model", "train", "--jsonl", str(path), "--output", str(tmp_path / "m")]) == 2
    assert "need at least" in capsys.readouterr().err


def test_model_file_lives_next_to_the_sqlite_database_unless_set() -> None:
    s = Settings(database_url="sqlite+aiosqlite:////srv/gv/gridvoice.db")
    assert s.category_model_file() == Path("/srv/gv/category_model.npz")
    assert Settings(model_path="/etc/gv/m.npz").category_model_file() == Path("/etc/gv/m.npz")
    pg = Settings(database_url="postgresql+asyncpg://db/gv")
    assert pg.category_model_file().name == "category_model.npz"


def test_model_file_carries_the_cases_for_the_voter_and_classify_jsonl_file_uses_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.voters import real_voter

    voter = real_voter()
    out = tmp_path / "m.npz"
    args = ["model", "train", "--jsonl", str(_write(tmp_path)), "--output", str(out)]
    assert main([*args, "--folds", "2", "--force"]) == 0
    assert "with the second voter" in capsys.readouterr().out
    model = LinearModel.load(out)
    assert model.neighbours is not None and model.neighbours.encoder == voter.name
    assert model.neighbours.labels == [c for _, c in ROWS]
    # `--jsonl FILE` (the labelled file's own lines, "gold" kept) with the trained model
    probe = tmp_path / "probe.jsonl"
    probe.write_text(
        json.dumps({"text": "the moonpole by the square is out", "gold": ["facilities"]}) + "\n",
        encoding="utf-8",
    )
    assert main(["classify", "--jsonl", str(probe), "--model", str(out)]) == 0
    (row,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert row["gold"] == ["facilities"] and row["category"] == "facilities"
    assert list(row["probabilities"])[0] == "facilities" and len(row["probabilities"]) == 3
    assert main(["classify", "--jsonl", str(tmp_path / "missing.jsonl")]) == 2
