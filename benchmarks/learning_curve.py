"""Learning at once: a labelled file replayed as a deployment's stream of messages.

    python benchmarks/learning_curve.py FILE.jsonl [--block 50] [--shuffle SEED] [--model PATH]

Each message is classified with what the deployment knows so far, then settled with its label
(``gold``'s first id, or ``category``): it joins the deployment's neighbours, as a case does
when a person resolves or corrects it (``bot.services.cases.neighbours``).  Per block of
``--block`` messages it prints accuracy (any ``gold`` id counts) / precision when answering /
coverage of

* ``packaged``: the packaged classifier alone (lexicon + linear model), no second voter;
* ``voter``: with the second voter, the packaged corpus's neighbours voting;
* ``learning``: with the second voter and the settled messages voting too.

and the totals, per language too.  ``--shuffle SEED`` replays in a random order (the file's
order may group its sources).  Nothing is embedded here: the file is an argument.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from routing.classifier import Classifier  # noqa: E402
from routing.lexicon import load_lexicon  # noqa: E402
from routing.neighbours import DeploymentIndex  # noqa: E402
from routing.text import has_cjk  # noqa: E402

Row = dict[str, object]


def load_rows(path: Path) -> list[Row]:
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


def figures(pairs: list[tuple[str | None, list[str]]]) -> str:
    n = len(pairs)
    answered = [(p, g) for p, g in pairs if p is not None]
    right = sum(p in g for p, g in answered)
    acc = right / n if n else 0.0
    prec = right / len(answered) if answered else 1.0
    cov = len(answered) / n if n else 0.0
    return f"{acc:.3f} / {prec:.3f} / {cov:.3f}"


def replay(rows: list[Row], model: str | None) -> dict[str, list[str | None]]:
    lexicon = load_lexicon()
    packaged = Classifier(lexicon, model=model)
    voting = Classifier(lexicon, model=model)
    if not voting.attach_voter():
        raise SystemExit("the second voter cannot load here")
    voter = voting.voter
    assert voter is not None
    deployment = DeploymentIndex(voter.name)
    out: dict[str, list[str | None]] = {"packaged": [], "voter": [], "learning": []}
    for n, row in enumerate(rows):
        text = str(row["text"])
        vector = voter.embed_one(text)
        out["packaged"].append(packaged.classify(text).category)
        out["voter"].append(voting.classify(text, vector=vector).category)
        out["learning"].append(voting.classify(text, deployment.index(), vector=vector).category)
        deployment.put(n, vector, list(row["gold"])[0])  # type: ignore[call-overload]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", type=Path)
    ap.add_argument("--block", type=int, default=50)
    ap.add_argument("--shuffle", type=int, default=None, metavar="SEED")
    ap.add_argument("--model", help="a trained model file (default: the packaged model)")
    args = ap.parse_args(argv)
    rows = load_rows(args.path)
    if args.shuffle is not None:
        random.Random(args.shuffle).shuffle(rows)
    preds = replay(rows, args.model)
    golds = [list(r["gold"]) for r in rows]  # type: ignore[call-overload]
    names = list(preds)
    print("accuracy / precision when answering / coverage per block")
    print(f"{'messages':>10}  " + "  ".join(f"{name:^23}" for name in names))
    for start in range(0, len(rows), args.block):
        end = min(start + args.block, len(rows))
        cells = [
            figures(list(zip(preds[name][start:end], golds[start:end], strict=True)))
            for name in names
        ]
        print(f"{start + 1:>4}-{end:<5}  " + "  ".join(cells))
    for group in ("all", "en", "zh"):
        idx = [i for i, r in enumerate(rows) if group == "all" or r["lang"] == group]
        if not idx:
            continue
        cells = [figures([(preds[name][i], golds[i]) for i in idx]) for name in names]
        print(f"{group + ' (' + str(len(idx)) + ')':>10}  " + "  ".join(cells))
    half = len(rows) // 2
    late = [figures([(preds[name][i], golds[i]) for i in range(half, len(rows))]) for name in names]
    print(f"{'2nd half':>10}  " + "  ".join(late))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
