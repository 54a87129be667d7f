"""``python -m minikubelet.runtime.keeper --root-dir R``: the keeper (see the package)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from minikubelet.runtime.keeper.server import DEFAULT_LINGER, Keeper

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minikubelet.runtime.keeper")
    parser.add_argument("--root-dir", type=Path, required=True)
    parser.add_argument("--linger", type=float, default=DEFAULT_LINGER)
    options = parser.parse_args(argv)
    return Keeper(options.root_dir, linger=options.linger).run()


if __name__ == "__main__":
    sys.exit(main())
