"""End-to-end benchmark: `python benchmarks/run.py [options]` is `gridvoice bench [options]`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.cli.bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
