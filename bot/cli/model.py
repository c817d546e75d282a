"""`gridvoice model`: train the category model, on the packaged corpus or on a deployment's cases.

* ``gridvoice model train [--jsonl FILE] [--output PATH] [--force] [--folds N]`` trains on the
  categories the deployment's cases ended in once staff handled them
  (``bot.services.cases.labels``), or on ``{"text", "category"}`` lines of FILE, plus the
  packaged corpus.  It prints k-fold cross-validated accuracy / precision / coverage of the new
  model next to the packaged model's on the same cases, and writes the model where the bot
  loads it at start (``Settings.category_model_file()``: next to the SQLite database, or
  ``GRIDVOICE_MODEL``).  A model that scores worse than the packaged one is not written unless
  ``--force``; exit code 1 then.  With the second voter (``routing.voter``; ``--no-voter``
  leaves it out) the file also carries the cases' embeddings and categories, which vote as
  the deployment's settled cases do, and both figures are with the voter.
* ``gridvoice model build [--output PATH]`` retrains the packaged model
  (``routing/category_model.npz``) from the packaged corpus; for developers.

See docs/classifier.md (how often to retrain, what it costs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from routing.classifier import Classifier
from routing.learn import Figures, cross_validate, embed_rows, train_model
from routing.lexicon import LexiconError, load_lexicon
from routing.linear import LinearModel
from routing.model import PACKAGED_MODEL, PACKAGED_VECTORS, load_corpus
from routing.neighbours import NeighbourIndex
from routing.voter import load_voter

#: A deployment's own cases weigh more than the packaged corpus: they are its real vocabulary.
LOCAL_WEIGHT = 2.0
# A retrained linear part is written only when it beats the packaged one with the messages as
# neighbours by this much in cross-validation: on real letters from other cities (two halves of
# a labelled file, each way) the retrained part scored 1-2.5 points lower on the unseen half.
RETRAIN_MARGIN = 0.02
MIN_CASES = 10


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("model", help="train the category model on this deployment's cases")
    sub = p.add_subparsers(dest="model_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    train = sub.add_parser("train", help="train on the stored cases (or a labelled file)")
    train.add_argument("--jsonl", metavar="FILE", help='labelled {"text", "category"} lines')
    train.add_argument("--output", metavar="PATH", help="model file (default: from settings)")
    train.add_argument("--force", action="store_true", help="install even if it scores worse")
    train.add_argument("--folds", type=int, default=5, help="cross-validation folds (5)")
    train.add_argument("--lexicon", metavar="PATH", help="lexicon YAML (default: settings)")
    train.add_argument("--database-url", default=None)
    train.add_argument(
        "--no-voter",
        action="store_true",
        help="without the second voter: the model file carries no case embeddings",
    )
    train.set_defaults(func=_train)

    build = sub.add_parser("build", help="retrain the packaged model from the packaged corpus")
    build.add_argument("--output", metavar="PATH", default=str(PACKAGED_MODEL))
    build.add_argument(
        "--vectors",
        metavar="PATH",
        default=str(PACKAGED_VECTORS),
        help="where the corpus's sentence embeddings go (the second voter's neighbours)",
    )
    build.set_defaults(func=_build)


def read_labelled_jsonl(path: str) -> list[tuple[str, str]]:
    """Rows of ``{"text", "category"}`` (or ``"gold": [main, ...]``); bad lines are skipped."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(obj, dict):
            continue
        cat = obj.get("category") or (obj.get("gold") or [None])[0]
        if isinstance(obj.get("text"), str) and isinstance(cat, str):
            rows.append((obj["text"], cat))
    return rows


def _train(args: argparse.Namespace) -> int:
    from bot.config import Settings

    settings = Settings.from_env(database_url=args.database_url, lexicon_path=args.lexicon)
    try:
        lexicon = load_lexicon(settings.lexicon_path)
    except LexiconError as exc:
        print(f"gridvoice model train: {exc}", file=sys.stderr)
        return 2
    if args.jsonl:
        local = read_labelled_jsonl(args.jsonl)
        source = args.jsonl
    else:
        from bot.services.cases.labels import labelled_cases

        local = asyncio.run(labelled_cases(settings))
        source = "the stored cases"
    local = [(t, c) for t, c in local if c in lexicon.categories]
    if len(local) < MIN_CASES:
        print(
            f"gridvoice model train: {len(local)} labelled messages in {source}; "
            f"need at least {MIN_CASES}",
            file=sys.stderr,
        )
        return 2
    started = time.perf_counter()
    corpus = load_corpus()
    voter = None if args.no_voter else load_voter()
    packaged = Classifier(lexicon)
    if voter is not None:
        packaged.attach_voter(voter)
    before = Figures.of([(packaged.classify(t).category, c) for t, c in local])
    # the local cases' embeddings, once: each fold's model carries those of its training part
    vectors = embed_rows(local, voter) if voter is not None else None
    where = {text: i for i, (text, _) in enumerate(local)}

    def fit(rows: list[tuple[str, str]]) -> Any:
        model = train_model(rows, lexicon.categories, weights=_weights(rows, len(corpus)))
        if vectors is not None:
            model.neighbours = _subset(vectors, [where[t] for t, _ in rows[: -len(corpus)]])
        classifier = Classifier(lexicon, model=model)
        if voter is not None:
            classifier.attach_voter(voter)
        return lambda text: classifier.classify(text).category

    def kept(rows: list[tuple[str, str]]) -> Any:
        """The packaged linear part as it is; the messages vote only as neighbours."""
        model = LinearModel.load(PACKAGED_MODEL)
        model.neighbours = _subset(vectors, [where[t] for t, _ in rows[: -len(corpus)]])  # type: ignore[arg-type]
        classifier = Classifier(lexicon, model=model)
        classifier.attach_voter(voter)  # type: ignore[arg-type]
        return lambda text: classifier.classify(text).category

    folds = max(2, min(args.folds, len(local)))
    truth = [c for _, c in local]
    # the packaged corpus goes last so that _weights can tell local rows from it
    after = Figures.of(list(zip(cross_validate(local, corpus, fit, k=folds), truth, strict=True)))
    voted = f"with the second voter ({voter.name})" if voter is not None else "without the voter"
    print(f"{len(local)} labelled messages from {source}; {len(corpus)} packaged examples; {voted}")
    print(f"packaged model:             {before.line()}")
    print(f"new model ({folds}-fold CV):     {after.line()}")
    # Messages unlike the corpus (long letters, another city's words) can pull a retrained
    # linear part away from what it knew; as neighbours they only answer where they are close.
    # Both are measured the same way and the better one is written.
    neighbours_only = None
    if vectors is not None:
        neighbours_only = Figures.of(
            list(zip(cross_validate(local, corpus, kept, k=folds), truth, strict=True))
        )
        print(f"packaged + neighbours (CV): {neighbours_only.line()}")
    best = after
    if neighbours_only is not None and neighbours_only.accuracy >= after.accuracy - RETRAIN_MARGIN:
        best = neighbours_only
    if best.accuracy < before.accuracy and not args.force:
        print("not installed: the new model scores worse than the packaged one (--force to)")
        return 1
    info = {"source": source, "local_rows": len(local), "trained_at": time.time()}
    if best is neighbours_only:
        model = LinearModel.load(PACKAGED_MODEL)
        model.info = {**model.info, **info, "linear": "packaged"}
        print("kept the packaged linear part; the messages vote as neighbours")
    else:
        rows = local + corpus
        model = train_model(
            rows, lexicon.categories, weights=_weights(rows, len(corpus)), info=info
        )
    model.neighbours = vectors  # the cases vote as settled cases do (routing.neighbours)
    out = Path(args.output) if args.output else settings.category_model_file()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    model.save(tmp)
    os.replace(tmp, out)  # atomic: a starting bot never reads half a file
    took = time.perf_counter() - started
    print(f"wrote {out} ({took:.1f} s); restart the bot to use it")
    return 0


def _subset(index: NeighbourIndex, rows: list[int]) -> NeighbourIndex:
    return NeighbourIndex(
        index.vectors[rows], [index.labels[i] for i in rows], encoder=index.encoder
    )


def _weights(rows: list[tuple[str, str]], n_corpus: int) -> list[float]:
    """Local rows (first) weigh LOCAL_WEIGHT, the packaged corpus (last ``n_corpus``) 1."""
    n_local = len(rows) - n_corpus
    return [LOCAL_WEIGHT] * n_local + [1.0] * n_corpus


def _build(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    lexicon = load_lexicon()
    rows = load_corpus()
    model = train_model(rows, lexicon.categories, info={"source": "packaged corpus"})
    model.save(args.output)
    took = time.perf_counter() - started
    print(
        f"wrote {args.output}: {len(rows)} examples, {len(model.vocabulary)} features, {took:.1f} s"
    )
    voter = load_voter()
    if voter is None:
        print("corpus vectors not written: the second voter cannot load", file=sys.stderr)
        return 0
    started = time.perf_counter()
    embed_rows(rows, voter).save(args.vectors)
    took = time.perf_counter() - started
    print(f"wrote {args.vectors}: {len(rows)} embeddings ({voter.name}), {took:.1f} s")
    return 0
