"""Run every ``bench/bench_*.py`` (or those named on the command line): ``python -m bench [name ...]``."""

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    chosen = [n for n in names if not argv or any(a in n for a in argv)]
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name}", flush=True)
        module.main()


if __name__ == "__main__":
    main(sys.argv[1:])
