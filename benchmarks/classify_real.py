"""Accuracy, precision when answering and coverage of the classifier on a labelled JSONL file.

    python benchmarks/classify_real.py FILE.jsonl [--model PATH] [--voter] [--threshold T] [--errors N]

Each line is ``{"text": ..., "gold": [ids...]}`` (any listed id counts as right, the first is the
main one) or ``{"text": ..., "category": id}``; an optional ``"lang"`` groups the figures
(otherwise the language is guessed: any Chinese character makes it ``zh``).  Accuracy = right /
all messages (an abstention is not right), precision = right / answered, coverage = answered /
all.  ``--voter`` lets the second voter (sentence-embedding neighbours) vote.  Nothing is
embedded here: the file is an argument.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from routing.classifier import Classifier  # noqa: E402
from routing.lexicon import load_lexicon  # noqa: E402
from routing.text import has_cjk  # noqa: E402


def load_rows(path: Path) -> list[dict[str, object]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        gold = obj.get("gold") or [obj.get("category")]
        if isinstance(gold, str):
            gold = [gold]
        lang = obj.get("lang") or ("zh" if has_cjk(obj["text"]) else "en")
        rows.append({"text": obj["text"], "gold": list(gold), "lang": lang})
    return rows


def figures(pairs: list[tuple[str | None, list[str]]]) -> dict[str, float]:
    n = len(pairs)
    answered = [(p, g) for p, g in pairs if p is not None]
    right = sum(p in g for p, g in answered)
    return {
        "n": n,
        "accuracy": right / n if n else 0.0,
        "precision": right / len(answered) if answered else 1.0,
        "coverage": len(answered) / n if n else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", type=Path)
    ap.add_argument("--model", help="a trained model file (default: the packaged model)")
    ap.add_argument("--errors", type=int, default=0, help="print up to N wrong answers")
    ap.add_argument("--voter", action="store_true", help="with the second voter")
    ap.add_argument("--threshold", type=float, help="the share the winner needs")
    args = ap.parse_args(argv)
    rows = load_rows(args.path)
    if args.model or args.voter or args.threshold is not None:
        clf = Classifier(load_lexicon(), model=args.model, threshold=args.threshold)
        if args.voter and not clf.attach_voter():
            print("the second voter cannot load", file=sys.stderr)
            return 2
    else:
        clf = Classifier.default()
    t0 = time.perf_counter()
    results = [clf.classify(str(r["text"])) for r in rows]
    elapsed = time.perf_counter() - t0
    preds = [res.category for res in results]
    for group in ("all", "en", "zh"):
        pairs = [
            (p, list(r["gold"]))  # type: ignore[call-overload]
            for p, r in zip(preds, rows, strict=True)
            if group == "all" or r["lang"] == group
        ]
        if not pairs:
            continue
        f = figures(pairs)
        main_only = figures([(p, g[:1]) for p, g in pairs])
        print(
            f"{group:>3}: n={f['n']:4d}  accuracy {f['accuracy']:.3f}  "
            f"precision {f['precision']:.3f}  coverage {f['coverage']:.3f}  "
            f"(main label only: accuracy {main_only['accuracy']:.3f}, "
            f"precision {main_only['precision']:.3f})"
        )
    print(f"{len(rows) / max(elapsed, 1e-9):,.0f} messages/s")
    if args.errors:
        wrong = Counter()
        shown = 0
        for res, r in zip(results, rows, strict=True):
            gold = list(r["gold"])  # type: ignore[call-overload]
            if res.category is not None and res.category not in gold:
                wrong[(gold[0], res.category)] += 1
                if shown < args.errors:
                    shown += 1
                    text = str(r["text"])[:160].replace("\n", " ")
                    print(f"  {gold} -> {res.category} {res.confidence:.2f} {res.matched}: {text}")
        print("confusions (main gold -> answer):", wrong.most_common(12))
    return 0


if __name__ == "__main__":
    sys.exit(main())
