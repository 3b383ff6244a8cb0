"""Run the benchmarks: ``python -m bench`` (all) or ``python -m bench NAME [ARGS...]``.

NAME selects ``bench/bench_NAME.py`` (a substring is enough); ARGS go to that benchmark's own
command line (e.g. ``python -m bench simulate --cohort``).
"""

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    chosen = [n for n in names if not argv or argv[0] in n]
    if not chosen:
        raise SystemExit(f"no benchmark matches {argv[0]!r}; have: {', '.join(names)}")
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        sys.argv = [f"bench/{name}.py", *argv[1:]]
        print(f"== {name}", flush=True)
        module.main()


if __name__ == "__main__":
    main(sys.argv[1:])
