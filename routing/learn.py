"""Training the linear category model (scikit-learn), cross-validation and figures.

Only ``gridvoice model train``, the benchmarks and the corpus build import this module, so the
bot itself starts without importing scikit-learn.  No I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from routing.linear import NOTHING, LinearModel, feature_counts
from routing.neighbours import NeighbourIndex, corpus_fingerprint
from routing.text import normalize

C = 30.0  # inverse regularisation strength of the logistic regression
MIN_DF = 2  # features seen in fewer training messages are dropped
THRESHOLD = 0.5  # probability the winner needs before the model answers

Row = tuple[str, str]


@dataclass(frozen=True)
class Figures:
    """Accuracy = right / all, precision = right / answered, coverage = answered / all."""

    n: int
    accuracy: float
    precision: float
    coverage: float

    @classmethod
    def of(cls, pairs: Sequence[tuple[str | None, str]]) -> Figures:
        n = len(pairs)
        answered = [(p, g) for p, g in pairs if p is not None]
        right = sum(p == g for p, g in answered)
        return cls(
            n,
            right / n if n else 0.0,
            right / len(answered) if answered else 1.0,
            len(answered) / n if n else 0.0,
        )

    def line(self) -> str:
        return (
            f"n={self.n}  accuracy {self.accuracy:.3f}  precision {self.precision:.3f}  "
            f"coverage {self.coverage:.3f}"
        )


def train_model(
    rows: Sequence[Row],
    categories: Sequence[str],
    *,
    c: float = C,
    min_df: int = MIN_DF,
    threshold: float = THRESHOLD,
    weights: Sequence[float] | None = None,
    info: dict[str, object] | None = None,
) -> LinearModel:
    """Fit tf-idf + multinomial logistic regression on ``(text, category)`` rows.

    Rows labelled ``NOTHING`` (messages that state no problem) train a pseudo-category that is
    appended to ``categories``; the classifier abstains when it wins.
    """
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    cats = list(categories)
    if NOTHING not in cats and any(cat == NOTHING for _, cat in rows):
        cats.append(NOTHING)
    cat_index = {c_: i for i, c_ in enumerate(cats)}
    keep = [i for i, (_, cat) in enumerate(rows) if cat in cat_index]
    docs = [feature_counts(normalize(rows[i][0])) for i in keep]
    labels = np.array([cat_index[rows[i][1]] for i in keep])
    df: dict[str, int] = {}
    for d in docs:
        for f in d:
            df[f] = df.get(f, 0) + 1
    vocab = sorted(f for f, n in df.items() if n >= min_df)
    index = {f: i for i, f in enumerate(vocab)}
    n_docs = len(docs)
    idf = np.array([math.log((1 + n_docs) / (1 + df[f])) + 1.0 for f in vocab])
    indptr, indices, data = [0], [], []
    for d in docs:
        cols = [(index[f], v) for f, v in d.items() if f in index]
        vals = [(1.0 + math.log(v)) * idf[j] for j, v in cols]
        norm = math.sqrt(sum(v * v for v in vals)) or 1.0
        indices.extend(j for j, _ in cols)
        data.extend(v / norm for v in vals)
        indptr.append(len(indices))
    x = csr_matrix((data, indices, indptr), shape=(n_docs, len(vocab)))
    present = sorted(set(labels.tolist()))
    # saga converges on this sparse problem several times faster than lbfgs, same accuracy
    lr = LogisticRegression(C=c, solver="saga", tol=1e-3, max_iter=1000, random_state=0)
    sample_weight = None if weights is None else np.array([weights[i] for i in keep])
    lr.fit(x, labels, sample_weight=sample_weight)
    w = np.zeros((len(vocab), len(cats)))
    b = np.full(len(cats), -30.0)  # a category with no training rows is never chosen
    coef = lr.coef_ if len(present) > 2 else np.vstack([-lr.coef_[0], lr.coef_[0]])
    icpt = lr.intercept_ if len(present) > 2 else np.array([-lr.intercept_[0], lr.intercept_[0]])
    for k, ci in enumerate(present):
        w[:, ci] = coef[k]
        b[ci] = icpt[k]
    meta = {"rows": n_docs, "features": len(vocab), "c": c, "min_df": min_df}
    meta.update(info or {})
    return LinearModel(cats, vocab, idf, w, b, threshold=threshold, info=meta)


def folds_of(rows: Sequence[Row], k: int) -> list[int]:
    """Deterministic fold of each row, stratified by category; equal texts share a fold."""
    counters: dict[str, int] = {}
    seen: dict[str, int] = {}
    out = []
    for text, cat in rows:
        fold = seen.get(text)
        if fold is None:
            n = counters.get(cat, 0)
            fold = seen[text] = n % k
            counters[cat] = n + 1
        out.append(fold)
    return out


def cross_validate(
    rows: Sequence[Row],
    fixed: Sequence[Row],
    fit: Callable[[list[Row]], Callable[[str], str | None]],
    k: int = 5,
) -> list[str | None]:
    """Predictions for each of ``rows`` from a model fitted on the other folds plus ``fixed``.

    ``fixed`` (e.g. the packaged corpus) is always in the training part; ``fit`` returns a
    ``text -> category or None`` function.
    """
    folds = folds_of(rows, k)
    preds: list[str | None] = [None] * len(rows)
    for f in range(min(k, len(rows))):
        train = [r for r, g in zip(rows, folds, strict=True) if g != f] + list(fixed)
        predict = fit(train)
        for i, g in enumerate(folds):
            if g == f:
                preds[i] = predict(rows[i][0])
    return preds


def embed_rows(rows: Sequence[Row], voter: object, batch: int = 64) -> NeighbourIndex:
    """The embeddings of ``(text, category)`` rows as a neighbour index (``voter``: a
    ``routing.voter.Voter``); about 15 s for the packaged corpus on one core."""
    texts = [t for t, _ in rows]
    parts = [voter.embed(texts[i : i + batch]) for i in range(0, len(texts), batch)]  # type: ignore[attr-defined]
    vectors = np.vstack(parts) if parts else np.zeros((0, 0), dtype=np.float32)
    return NeighbourIndex(
        vectors,
        [c for _, c in rows],
        encoder=voter.name,  # type: ignore[attr-defined]
        info={"rows": len(rows), "corpus": corpus_fingerprint(rows)},
    )
