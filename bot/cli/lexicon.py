"""`gridvoice lexicon`: inspect, validate and improve the classifier lexicon.

* ``gridvoice lexicon check [PATH]`` validates a lexicon file (default: the packaged one).
* ``gridvoice lexicon path`` prints where the packaged lexicon lives (copy it to edit).
* ``gridvoice lexicon suggest [--from-jsonl FILE] [--min-support N] [--yaml] [--lexicon PATH]``
  proposes new terms from corrections: ``{"text", "predicted", "corrected"}`` JSON lines from
  FILE, or else the corrections stored in the database
  (``bot.services.cases.corrections.list_corrections``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from routing.corrections import suggest_entries, suggestions_yaml
from routing.lexicon import DEFAULT_PATH, LexiconError, load_lexicon

Correction = tuple[str, str | None, str]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "lexicon", help="validate the classifier lexicon or suggest new terms"
    )
    sub = p.add_subparsers(dest="lexicon_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    check = sub.add_parser("check", help="validate a lexicon file")
    check.add_argument("path", nargs="?", help="lexicon YAML (default: the packaged one)")
    check.set_defaults(func=_check)

    path = sub.add_parser("path", help="print the path of the packaged lexicon")
    path.set_defaults(func=lambda args: (print(DEFAULT_PATH), 0)[1])

    sug = sub.add_parser("suggest", help="propose lexicon terms learnt from corrections")
    sug.add_argument(
        "--from-jsonl", metavar="FILE", help='corrections as {"text","predicted","corrected"} lines'
    )
    sug.add_argument(
        "--min-support", type=int, default=2, metavar="N", help="minimum texts per term (2)"
    )
    sug.add_argument(
        "--yaml", action="store_true", help="print a YAML snippet to paste into the lexicon"
    )
    sug.add_argument(
        "--lexicon", metavar="PATH", help="lexicon to compare against (default: packaged)"
    )
    sug.set_defaults(func=_suggest)


def _check(args: argparse.Namespace) -> int:
    try:
        lex = load_lexicon(args.path)
    except LexiconError as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    n_terms = sum(len(t) for by_lang in lex.terms.values() for t in by_lang.values())
    print(
        f"ok: {lex.source}: {len(lex.categories)} categories, {n_terms} terms, "
        f"{len(lex.patterns)} patterns, threshold {lex.threshold:g}"
    )
    return 0


def read_corrections_jsonl(path: str) -> tuple[list[Correction], int]:
    """Read corrections from a JSONL file; returns (corrections, number of skipped lines)."""
    rows: list[Correction] = []
    skipped = 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                text, corrected = obj["text"], obj["corrected"]
                predicted = obj.get("predicted")
            except (json.JSONDecodeError, KeyError, TypeError):
                skipped += 1
                continue
            if isinstance(text, str) and isinstance(corrected, str):
                rows.append((text, predicted if isinstance(predicted, str) else None, corrected))
            else:
                skipped += 1
    return rows, skipped


def _from_database() -> list[Correction] | None:
    try:
        from bot.services.cases.corrections import list_corrections  # noqa: PLC0415 - optional
    except ImportError as exc:
        print(
            "gridvoice lexicon suggest: cannot read corrections from the database "
            f"(bot.services.cases.corrections.list_corrections is not available: {exc}); "
            "use --from-jsonl FILE",
            file=sys.stderr,
        )
        return None
    return [(t, p, c) for t, p, c in asyncio.run(list_corrections())]


def _suggest(args: argparse.Namespace) -> int:
    try:
        lex = load_lexicon(args.lexicon)
    except LexiconError as exc:
        print(f"gridvoice lexicon suggest: {exc}", file=sys.stderr)
        return 2
    if args.from_jsonl:
        try:
            corrections, skipped = read_corrections_jsonl(args.from_jsonl)
        except OSError as exc:
            print(f"gridvoice lexicon suggest: {exc}", file=sys.stderr)
            return 2
        if skipped:
            print(f"skipped {skipped} malformed line(s)", file=sys.stderr)
    else:
        loaded = _from_database()
        if loaded is None:
            return 2
        corrections = loaded
    suggestions = suggest_entries(corrections, lex, min_support=max(1, args.min_support))
    if args.yaml:
        sys.stdout.write(suggestions_yaml(suggestions) if suggestions else "# no suggestions\n")
        return 0
    if not suggestions:
        print(f"no suggestions from {len(corrections)} correction(s)")
        return 0
    print(f"{'category':<13}{'lang':<5}{'support':>8}{'distinct':>9}  term  (example)")
    for s in suggestions:
        print(
            f"{s.category:<13}{s.lang:<5}{s.support:>8}{s.distinctiveness:>9.2f}  {s.term}  ({s.example[:50]})"
        )
    return 0
