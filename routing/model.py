"""A small trained model for the category classifier: binarised multinomial Naive Bayes.

Pure Python, no I/O except :func:`load_training`, deterministic, trained in well under a second
on ~1,000 messages (so it is trained at load time from ``routing/training.jsonl``; nothing
precomputed is shipped).  See docs/lexicon.md, "The trained model".

Features of a message (each counts once per message):

* English: lower-case light stems (``routing.text.stem``) of words that are not stop words, and
  stem bigrams of adjacent words (stop words included, so ``fire lane`` and ``no water`` stay
  whole); a bigram is written ``"w1 w2"``.
* Chinese: character 1-, 2- and 3-grams of every run of Chinese characters.

``log P(category | features)`` is the usual NB sum; :meth:`NaiveBayes.scores` returns the
per-category log-likelihood sums and the features that were known to the model, and
:meth:`NaiveBayes.top_features` names the features that pushed the winner above the runner-up
(the ``matched`` evidence).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

from routing.text import cjk_runs, english_tokens, stem

TRAINING_PATH = Path(__file__).with_name("training.jsonl")

#: Chosen by 5-fold cross-validation on tests/data/tune.jsonl (benchmarks/classify_cv.py).
ALPHA = 0.1  # additive smoothing
TEMPERATURE = 4.0  # English: NB log-likelihood sums are divided by this (NB is over-confident)
TEMPERATURE_ZH = 8.0  # messages with Chinese characters (many more n-gram features)

_STOP = frozenset(
    """a an the and or but if of to in on at by for from with without into onto about as is are
    was were be been being am do does did doing have has had having it its it's this that these
    those there here i me my we our us you your he him his she her they them their what which who
    whom when where why how all any both each few more most other some such only own same so than
    too very can will just should would could now then again also up down out off over under
    very s t don't didn't doesn't isn't wasn't aren't can't won't im i'm pls please""".split()
)
_STOP_STEMS = frozenset(stem(w) for w in _STOP)
#: Stems of the stop words: never evidence on their own or inside a bigram.
STOP_STEMS = _STOP_STEMS


def text_features(norm: str) -> set[str]:
    """Word/n-gram features of already-normalised text (see the module docstring)."""
    feats: set[str] = set()
    tokens = english_tokens(norm)
    if tokens:
        stems = [stem(t) for t in tokens]
        prev = None
        for st in stems:
            if st not in _STOP_STEMS and not st.isdigit():
                feats.add(st)
            if prev is not None:
                feats.add(f"{prev} {st}")
            prev = st
    for _, run in cjk_runs(norm):
        n = len(run)
        for i in range(n):
            feats.add(run[i])
            if i + 2 <= n:
                feats.add(run[i : i + 2])
                if i + 3 <= n:
                    feats.add(run[i : i + 3])
    return feats


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


class NaiveBayes:
    """Binarised multinomial NB over feature sets; ``categories`` fixes the output order."""

    def __init__(
        self,
        docs: Iterable[tuple[Iterable[str], str]],
        categories: Sequence[str],
        *,
        alpha: float = ALPHA,
    ) -> None:
        self.categories = tuple(categories)
        index = {c: i for i, c in enumerate(self.categories)}
        k = len(self.categories)
        counts: dict[str, list[float]] = {}
        totals = [0.0] * k
        ndocs = [0] * k
        for feats, cat in docs:
            ci = index.get(cat)
            if ci is None:
                continue  # a category the lexicon does not have
            ndocs[ci] += 1
            for f in set(feats):
                row = counts.get(f)
                if row is None:
                    row = counts[f] = [0.0] * k
                row[ci] += 1.0
                totals[ci] += 1.0
        vocab = len(counts)
        n = sum(ndocs)
        # Uniform-ish prior: the corpus is balanced by design and deployments should not learn
        # "most reports are X" from whatever they happened to append.
        self.log_prior = tuple(math.log((d + 1) / (n + k)) for d in ndocs)
        denom = [math.log(t + alpha * vocab) if t + vocab else 0.0 for t in totals]
        self.weights: dict[str, tuple[float, ...]] = {
            f: tuple(math.log(row[i] + alpha) - denom[i] for i in range(k))
            for f, row in sorted(counts.items())
        }
        self.n_docs = n

    def scores(self, feats: Iterable[str]) -> tuple[list[float], list[str]]:
        """Per-category log-likelihood sums (prior excluded) and the known features used."""
        weights = self.weights
        total = [0.0] * len(self.categories)
        used = []
        for f in feats:
            w = weights.get(f)
            if w is not None:
                used.append(f)
                total = [a + b for a, b in zip(total, w, strict=True)]
        return total, used

    def top_features(self, used: Iterable[str], win: int, other: int, n: int = 4) -> list[str]:
        """The ``n`` features that most favour category ``win`` over ``other`` (positive only)."""
        weights = self.weights
        scored = sorted(
            ((weights[f][win] - weights[f][other], f) for f in used), key=lambda t: (-t[0], t[1])
        )
        return [f for d, f in scored[:n] if d > 0]
