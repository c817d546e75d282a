"""Classifier speed on one core: short messages, real-length letters, and start-up.

    python benchmarks/classify_bench.py [--seconds 3] [--model PATH] [--voter]

* short: the tuning corpus plus variations (random casing, suffixes, dropped characters),
  English and Chinese mixed;
* letters: ~225-character Chinese letters and long English requests, made by joining two
  messages of the packaged letter corpus with a greeting and a sign-off;
* start-up: a fresh interpreter importing the bot and building the classifier the bot uses
  (packaged model, or ``--model``), then classifying one message; with ``--voter`` also the
  time until the second voter votes (the bot loads it in the background) and the peak memory
  of both.

``--voter``: the rates with the second voter (sentence-embedding neighbours) voting.

Rates are messages per CPU second of this process (``time.process_time``), so a busy machine
does not make the classifier look slower than it is; wall-clock rates are printed too.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

from routing.classifier import Classifier  # noqa: E402
from routing.lexicon import load_lexicon  # noqa: E402
from routing.model import HERE as ROUTING  # noqa: E402

TUNE = ROOT / "tests" / "data" / "tune.jsonl"
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


def _texts(path: Path) -> list[str]:
    return [json.loads(x)["text"] for x in path.read_text(encoding="utf-8").splitlines() if x]


def short_messages(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    base = _texts(TUNE)
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


def letters(n: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    zh = _texts(ROUTING / "corpus" / "letters_zh.jsonl")
    en = _texts(ROUTING / "corpus" / "requests_en.jsonl")
    out = []
    for i in range(n):
        if i % 2:
            text = "尊敬的领导您好：" + "。".join(rng.choice(zh) for _ in range(4))
            out.append(text[:215] + "。望尽快处理，谢谢！")
        else:
            out.append(
                "Hello, " + rng.choice(en) + " " + rng.choice(en) + " Thank you for your help."
            )
    return out


def rate(classify: Callable[[str], object], msgs: list[str], seconds: float) -> tuple[float, float]:
    """(messages per CPU second, messages per wall second)."""
    for m in msgs[:200]:
        classify(m)
    done, cpu, wall = 0, time.process_time(), time.perf_counter()
    while time.perf_counter() - wall < seconds:
        for m in msgs:
            classify(m)
        done += len(msgs)
    return done / (time.process_time() - cpu), done / (time.perf_counter() - wall)


def start_up(model: str | None, voter: bool = False) -> tuple[float, float, float]:
    """(seconds to a classifier, seconds until the voter votes or 0, peak memory in MB)."""
    code = (
        "import time, resource; t = time.perf_counter();"
        "import bot.runtime.app;"
        "from bot.config import Settings;"
        "from bot.services.shared.domain import build_classifier;"
        f"c = build_classifier(Settings(model_path={model!r}));"
        "c.classify('电梯坏了');"
        "ready = time.perf_counter() - t;"
        f"voted = c.attach_voter() if {voter!r} else False;"
        "c.classify('电梯坏了，好几天没人修');"
        "done = time.perf_counter() - t if voted else 0.0;"
        "print(ready, done, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    ready, done, rss = out.stdout.strip().splitlines()[-1].split()
    return float(ready), float(done), float(rss)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--model", default=None, help="a trained model file")
    ap.add_argument("--voter", action="store_true", help="with the second voter")
    args = ap.parse_args()
    t0 = time.perf_counter()
    clf = Classifier(load_lexicon(), model=args.model) if args.model else Classifier.default()
    build = time.perf_counter() - t0
    if args.voter:
        t0 = time.perf_counter()
        if not clf.attach_voter():
            raise SystemExit("the second voter cannot load here")
        print(f"second voter load (encoder + corpus vectors): {time.perf_counter() - t0:.2f} s")
    short = short_messages(5000)
    long = letters(1000)
    zh_len = sum(len(m) for m in long[1::2]) / len(long[1::2])
    en_len = sum(len(m) for m in long[::2]) / len(long[::2])
    print(f"classifier load (lexicon + model): {build * 1000:.0f} ms")
    cpu, wall = rate(clf.classify, short, args.seconds)
    print(f"short messages, mixed en/zh: {cpu:,.0f} msgs/s per core ({wall:,.0f}/s wall)")
    cpu, wall = rate(clf.classify, long, args.seconds)
    print(
        f"letters (zh ~{zh_len:.0f} chars, en ~{en_len:.0f} chars): "
        f"{cpu:,.0f} msgs/s per core ({wall:,.0f}/s wall)"
    )
    runs = sorted(start_up(args.model) for _ in range(3))
    print(
        f"start-up (import the bot, load lexicon + model, classify one): {runs[1][0]:.2f} s, "
        f"peak memory {runs[1][2]:.0f} MB"
    )
    if args.voter:
        runs = sorted((start_up(args.model, voter=True) for _ in range(3)), key=lambda r: r[1])
        print(
            f"start-up with the second voter: classifier {runs[1][0]:.2f} s, voting from "
            f"{runs[1][1]:.2f} s, peak memory {runs[1][2]:.0f} MB"
        )


if __name__ == "__main__":
    main()
