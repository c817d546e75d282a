"""Compose the letter-style training corpus from our own phrase banks (deterministic).

    /work/venv/bin/python -m routing.corpus.compose [--per-category 260]

Writes ``routing/corpus/letters_zh.jsonl`` (letters to a mailbox: subject line, greeting,
the main complaint, details, sometimes a passing mention of another problem, an appeal and a
sign-off) and ``routing/corpus/requests_en.jsonl`` (311-style summaries and descriptions, some
lower-cased or with typos).  The label is always the main complaint's category, so the model
learns that the subject line and the first sentences outweigh a passing mention.  Not imported
by the bot; the generated files are package data read by ``routing.model.load_corpus``.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from routing.corpus import phrases_en, phrases_zh

HERE = Path(__file__).resolve().parent


def _lines(block: str) -> list[str]:
    return [s.strip() for s in block.splitlines() if s.strip()]


def _typo(rng: random.Random, text: str) -> str:
    words = text.split(" ")
    for _ in range(rng.randint(1, 2)):
        i = rng.randrange(len(words))
        w = words[i]
        if len(w) > 4:
            k = rng.randrange(1, len(w) - 1)
            words[i] = w[:k] + w[k + 1 :] if rng.random() < 0.6 else w[:k] + w[k] + w[k:]
    return " ".join(words)


def _zh_letter(rng: random.Random, cat: str) -> str:
    bank = phrases_zh.BANK
    b = bank[cat]
    place = rng.choice(phrases_zh.PLACES)
    core = rng.choice(_lines(b["core"])).format(p=place)
    if rng.random() < 0.2:  # a short chat message
        short = core if rng.random() < 0.6 else rng.choice(_lines(b["title"]))
        return short + rng.choice(["", "！", "！！", "，快来人管管", "，谁管？", "。"])
    parts: list[str] = []
    if rng.random() < 0.55:
        parts.append(rng.choice(_lines(b["title"])) + rng.choice(["。", "！", " ", "，"]))
    if rng.random() < 0.4:
        parts.append(rng.choice(phrases_zh.GREETINGS))
    if rng.random() < 0.35:
        parts.append(rng.choice(phrases_zh.OPENERS).format(p=place))
    parts.append(core + "，")
    for d in rng.sample(_lines(b["detail"]), k=rng.randint(0, 2)):
        parts.append(d + "，")
    if rng.random() < 0.4:
        parts.append(rng.choice(phrases_zh.DURATIONS) + "。")
    if rng.random() < 0.3:  # who was told already: no clue to the category
        parts.append(rng.choice(phrases_zh.WITNESSES) + "，")
    if rng.random() < 0.25:
        other = rng.choice([c for c in bank if c != cat])
        aside = rng.choice(_lines(bank[other]["core"])).format(p=rng.choice(phrases_zh.PLACES))
        parts.append(rng.choice(phrases_zh.SECONDARY) + aside + "。")
    if rng.random() < 0.6:
        parts.append(rng.choice(phrases_zh.APPEALS) + "！")
    if rng.random() < 0.3:
        parts.append(rng.choice(phrases_zh.CLOSINGS))
    return "".join(parts).rstrip("，")


def _en_request(rng: random.Random, cat: str) -> str:
    bank = phrases_en.BANK
    b = bank[cat]
    place = rng.choice(phrases_en.PLACES)
    core = rng.choice(_lines(b["core"])).format(p=place)
    parts: list[str] = []
    if rng.random() < 0.15:  # a short chat message
        text = rng.choice(_lines(b["title"])) + rng.choice(["", "!!", " again", " pls", "?"])
        parts.append(text + (" " + place if rng.random() < 0.5 else ""))
    else:
        if rng.random() < 0.6:
            parts.append(rng.choice(_lines(b["title"])) + rng.choice([". ", " - ", ": ", " "]))
        if rng.random() < 0.2:
            parts.append(rng.choice(phrases_en.OPENERS) + " ")
        parts.append(core + rng.choice([". ", "! ", ", "]))
        for d in rng.sample(_lines(b["detail"]), k=rng.randint(0, 2)):
            parts.append(d + ". ")
        if rng.random() < 0.3:  # who was told already: no clue to the category
            parts.append(rng.choice(phrases_en.WITNESSES) + ". ")
        if rng.random() < 0.2:
            other = rng.choice([c for c in bank if c != cat])
            aside = rng.choice(_lines(bank[other]["core"])).format(p=rng.choice(phrases_en.PLACES))
            first = aside[0].lower() + aside[1:]
            parts.append(rng.choice(phrases_en.SECONDARY) + first + ". ")
        if rng.random() < 0.3:
            parts.append(rng.choice(phrases_en.CLOSINGS))
    text = "".join(parts).strip()
    if rng.random() < 0.15:
        text = _typo(rng, text)
    if rng.random() < 0.25:
        text = text.lower().replace(".", "")
    return text


def compose(per_category: int, seed: int = 20261203) -> dict[str, list[dict[str, str]]]:
    """The generated rows per output file name."""
    rng = random.Random(seed)
    out: dict[str, list[dict[str, str]]] = {"letters_zh.jsonl": [], "requests_en.jsonl": []}
    for name, lang, make in (
        ("letters_zh.jsonl", "zh", _zh_letter),
        ("requests_en.jsonl", "en", _en_request),
    ):
        seen: set[str] = set()
        for cat in phrases_zh.BANK:
            made = tries = 0
            while made < per_category and tries < per_category * 5:
                tries += 1
                text = make(rng, cat)
                if text in seen:
                    continue
                seen.add(text)
                out[name].append({"text": text, "category": cat, "lang": lang})
                made += 1
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-category", type=int, default=260)
    args = ap.parse_args(argv)
    for name, rows in compose(args.per_category).items():
        with (HERE / name).open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{name}: {len(rows)} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
