"""The classifier's training corpus and its packaged model file (reading only, no training).

* ``routing/training.jsonl`` — short chat-style messages (the tuning corpus and more);
* ``routing/corpus/chat.jsonl`` — very short chat, mixed Chinese/English, typos (hand-written);
* ``routing/corpus/nothing.jsonl`` — messages that state no problem (greetings, thanks, vague
  follow-ups), the pseudo-category ``nothing`` that makes the classifier abstain (hand-written);
* ``routing/corpus/letters_zh.jsonl``, ``routing/corpus/requests_en.jsonl`` — long letters to a
  mailbox and 311-style requests, composed from our own phrase banks
  (``python -m routing.corpus.compose``);
* ``routing/category_model.npz`` — the linear model trained offline on all of them
  (``gridvoice model build``), loaded at start-up; see docs/classifier.md;
* ``routing/corpus_vectors.npz`` — their sentence embeddings for the second voter's neighbour
  vote (``routing.neighbours``), written by the same build.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRAINING_PATH = HERE / "training.jsonl"
CORPUS_PATHS = (
    TRAINING_PATH,
    HERE / "corpus" / "chat.jsonl",
    HERE / "corpus" / "nothing.jsonl",
    HERE / "corpus" / "framed.jsonl",
    HERE / "corpus" / "letters_zh.jsonl",
    HERE / "corpus" / "requests_en.jsonl",
)
PACKAGED_MODEL = HERE / "category_model.npz"
#: The packaged corpus's sentence embeddings for the second voter's neighbour vote
#: (``routing.neighbours``), written with the packaged model by ``gridvoice model build``.
PACKAGED_VECTORS = HERE / "corpus_vectors.npz"


def load_training(path: str | Path | None = None) -> list[tuple[str, str]]:
    """``(text, category)`` rows of a JSON Lines training file (``{"text", "category"}``)."""
    p = Path(path) if path is not None else TRAINING_PATH
    rows = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        obj = json.loads(line)
        text, cat = obj.get("text"), obj.get("category")
        if not isinstance(text, str) or not isinstance(cat, str):
            raise ValueError(f"{p}:{n}: each line needs string 'text' and 'category'")
        rows.append((text, cat))
    return rows


def load_corpus() -> list[tuple[str, str]]:
    """Every packaged training row: chat messages, letters and requests."""
    rows: list[tuple[str, str]] = []
    for path in CORPUS_PATHS:
        rows.extend(load_training(path))
    return rows
