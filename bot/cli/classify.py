"""`gridvoice classify`: run the category classifier on texts or on a JSON Lines stream.

* ``gridvoice classify TEXT...`` prints one line per text: category (or ``(abstain)``),
  confidence and the matched evidence.
* ``gridvoice classify --jsonl [FILE]`` reads JSON objects from FILE (or stdin), one per line,
  each with a ``"text"`` field (other fields, e.g. ``"gold"``, ``"lang"``, are kept), and writes one JSON object per input line to stdout, in the same order: the
  input's fields unchanged plus ``"category"`` (id or null), ``"confidence"`` and ``"matched"``.
  Blank lines are skipped.  A line that is not a JSON object with a string ``"text"`` produces
  ``{"line": N, "input": "<the raw line>", "error": "..."}`` and processing continues; the exit
  code is then 1 (0 when every line was classified).
* ``--lexicon PATH`` uses an edited lexicon instead of the packaged one; ``--model PATH`` a
  model trained by ``gridvoice model train`` instead of the packaged model (with the
  embeddings of its training cases, which vote as a deployment's settled cases do).
* The second voter (sentence-embedding neighbours, docs/classifier.md) votes when it can load;
  ``--no-voter`` leaves it out.  ``"probabilities"`` in the JSON output are the top three
  categories with their shares.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from routing.classifier import Classifier, top_categories
from routing.lexicon import load_lexicon


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "classify",
        help="guess the category of resident messages",
        description="Guess the category of resident messages (see docs/lexicon.md).",
    )
    p.add_argument("texts", nargs="*", metavar="TEXT", help="message text(s) to classify")
    p.add_argument(
        "--jsonl",
        nargs="?",
        const="-",
        metavar="FILE",
        help='read {"text": ...} objects from FILE (default: stdin), write them back with '
        "category/confidence/matched",
    )
    p.add_argument(
        "--lexicon", metavar="PATH", help="lexicon YAML to use instead of the packaged one"
    )
    p.add_argument(
        "--threshold", type=float, help="override the lexicon's abstain threshold (0..1)"
    )
    p.add_argument("--model", metavar="PATH", help="a trained model file (gridvoice model train)")
    p.add_argument(
        "--no-voter",
        action="store_true",
        help="without the second voter (sentence-embedding neighbours)",
    )
    p.set_defaults(func=_run)


def build_classifier(
    path: str | None,
    threshold: float | None = None,
    model: str | None = None,
    voter: bool = False,
) -> Classifier:
    if path is None and threshold is None and model is None and not voter:
        return Classifier.default()
    classifier = Classifier(load_lexicon(path), threshold=threshold, model=model)
    if voter:
        classifier.attach_voter()  # when it cannot load: one warning, the classifier as before
    return classifier


def _utf8(stream: TextIO) -> TextIO:
    """Switch a standard stream to UTF-8 when it supports it (StringIO etc. are left alone)."""
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None and encoding != "utf8":
        reconfigure(encoding="utf-8", errors="replace")
    return stream


def classify_stream(classifier: Classifier, stdin: TextIO, stdout: TextIO) -> int:
    """Classify a JSON Lines stream; returns the number of malformed lines."""
    errors = 0
    for lineno, line in enumerate(stdin, start=1):
        raw = line.rstrip("\r\n")
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            out: dict[str, Any] = {
                "line": lineno,
                "input": raw,
                "error": f"invalid JSON: {exc.msg}",
            }
        else:
            if not isinstance(obj, dict):
                out = {"line": lineno, "input": raw, "error": "expected a JSON object"}
            elif not isinstance(obj.get("text"), str):
                out = {"line": lineno, "input": raw, "error": 'missing or non-string "text" field'}
            else:
                res = classifier.classify(obj["text"])
                out = dict(obj)
                out.update(
                    category=res.category,
                    confidence=res.confidence,
                    matched=list(res.matched),
                    probabilities=dict(top_categories(res, 3)),
                )
        if "error" in out:
            errors += 1
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    stdout.flush()
    return errors


def _run(args: argparse.Namespace) -> int:
    try:
        classifier = build_classifier(
            args.lexicon,
            args.threshold,
            getattr(args, "model", None),
            voter=not getattr(args, "no_voter", False),
        )
    except ValueError as exc:  # a bad lexicon (LexiconError) or model file
        print(f"gridvoice classify: {exc}", file=sys.stderr)
        return 2
    stdout = _utf8(sys.stdout)
    if args.jsonl:
        if args.texts:
            print("gridvoice classify: give TEXT arguments or --jsonl, not both", file=sys.stderr)
            return 2
        if args.jsonl == "-":
            errors = classify_stream(classifier, _utf8(sys.stdin), stdout)
        else:
            try:
                with open(args.jsonl, encoding="utf-8", errors="replace") as stream:
                    errors = classify_stream(classifier, stream, stdout)
            except OSError as exc:
                print(f"gridvoice classify: {args.jsonl}: {exc.strerror}", file=sys.stderr)
                return 2
        return 1 if errors else 0
    if not args.texts:
        print("gridvoice classify: nothing to classify (give TEXT... or --jsonl)", file=sys.stderr)
        return 2
    for text in args.texts:
        res = classifier.classify(text)
        label = res.category or "(abstain)"
        matched = ", ".join(res.matched) or "-"
        stdout.write(f"{label}\t{res.confidence:.2f}\t{matched}\t{text}\n")
    stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``classify`` on its own (``python -m bot.cli.classify ...``)."""
    parser = argparse.ArgumentParser(prog="gridvoice")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["classify", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
