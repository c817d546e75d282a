"""The `gridvoice` command line: one sub-command per module in this package.

Each module exposes ``register(subparsers)``, which adds its sub-command and sets
``func`` on the parser to a callable taking the parsed ``argparse.Namespace`` and
returning the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Sub-command modules, in the order `gridvoice --help` lists them.
COMMAND_MODULES = (
    "bot.cli.run",
    "bot.cli.demo",
    "bot.cli.sim",
    "bot.cli.db",
    "bot.cli.grids",
    "bot.cli.classify",
    "bot.cli.lexicon",
    "bot.cli.model",
    "bot.cli.register",
    "bot.cli.api_key",
    "bot.cli.hotline",
    "bot.cli.links",
    "bot.cli.export",
    "bot.cli.bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gridvoice", description="Residents' front door to their community grid."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # sub-command not built in this installation
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from bot.config import SettingsError

    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:  # a mistyped setting: the operator's to fix, not a crash
        print(f"gridvoice: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
