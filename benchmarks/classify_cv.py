"""K-fold cross-validation of the classifier (lexicon + linear model) on the packaged corpus.

    /work/venv/bin/python benchmarks/classify_cv.py [--folds 5] [--c 30]

For every fold the linear model is trained on the other folds of the packaged corpus
(``routing.model.load_corpus``) and the held-out fold is classified by ``Classifier.classify``.
Prints accuracy / precision / coverage per language.  The corpus is our own writing, so these
figures are optimistic; ``benchmarks/classify_real.py FILE`` measures real messages.  Never
point anything that tunes at tests/data/holdout.jsonl.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from routing.classifier import Classifier  # noqa: E402
from routing.learn import C, Figures, cross_validate, train_model  # noqa: E402
from routing.lexicon import load_lexicon  # noqa: E402
from routing.model import load_corpus  # noqa: E402
from routing.text import has_cjk  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--c", type=float, default=C)
    args = ap.parse_args()
    lexicon = load_lexicon()
    rows = load_corpus()

    def fit(train: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
        clf = Classifier(lexicon, model=train_model(train, lexicon.categories, c=args.c))
        return lambda text: clf.classify(text).category

    t0 = time.perf_counter()
    preds = cross_validate(rows, [], fit, k=args.folds)
    took = time.perf_counter() - t0
    for lang in ("all", "en", "zh"):
        pairs = [
            (p, c)
            for p, (t, c) in zip(preds, rows, strict=True)
            if lang == "all" or (lang == "zh") == has_cjk(t)
        ]
        print(f"{args.folds}-fold CV {lang:>3}: {Figures.of(pairs).line()}")
    print(f"{took:.1f} s")


if __name__ == "__main__":
    main()
