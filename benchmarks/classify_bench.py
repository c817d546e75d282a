"""Classifier throughput: messages per second on one core, English and Chinese mixed.

    /work/venv/bin/python benchmarks/classify_bench.py [--seconds 3] [--lexicon PATH]

Uses the tuning corpus plus variations of it (random casing, suffixes, typos) so the typo cache
does not make every message a repeat.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from routing.classifier import Classifier  # noqa: E402
from routing.lexicon import load_lexicon  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "tune.jsonl"
SUFFIXES = [
    "",
    " pls help",
    "!!!",
    " 谢谢",
    " since monday",
    "，麻烦尽快处理",
    " bldg 7 unit 2",
    "。",
]


def _messages(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    base = [
        json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines() if line
    ]
    out = []
    for i in range(n):
        text = base[i % len(base)]
        if rng.random() < 0.3 and len(text) > 6:  # drop a character: a fresh typo
            k = rng.randrange(len(text))
            text = text[:k] + text[k + 1 :]
        if rng.random() < 0.2:
            text = text.upper()
        out.append(text + rng.choice(SUFFIXES))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--lexicon", default=None)
    args = ap.parse_args()
    t0 = time.perf_counter()
    clf = Classifier(load_lexicon(args.lexicon))
    build = time.perf_counter() - t0
    msgs = _messages(args.messages)
    cold_t = time.perf_counter()
    for m in msgs:  # first pass: typo cache cold
        clf.classify(m)
    cold = len(msgs) / (time.perf_counter() - cold_t)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        for m in msgs:
            clf.classify(m)
        done += len(msgs)
    warm = done / (time.perf_counter() - start)
    zh = sum(any("\u4e00" <= ch <= "\u9fff" for ch in m) for m in msgs)
    print(f"lexicon build: {build * 1000:.0f} ms; {len(msgs)} messages ({zh} Chinese)")
    print(f"cold pass: {cold:,.0f} msgs/s")
    print(f"warm:      {warm:,.0f} msgs/s")


if __name__ == "__main__":
    main()
