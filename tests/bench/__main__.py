"""``python -m tests.bench [MODULE …]``: run every benchmark module, then one summary table.

A module that is missing or crashes is reported as such in the table (never skipped
silently). The exit status is 1 when any target is missed or a module did not run, so
``make bench`` fails then; timings never go into the test suite.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from types import ModuleType

from tests.bench.common import Row, fmt_s, print_table

# Run in this order. tests.bench.http is the HTTP serving benchmark; tests.bench.api the
# API read latencies and the CLI start-up.
MODULES = ["sync", "http", "api", "resolve", "ostree_export", "ostree_compose"]
# Run only when named (`make bench-history`): tests.bench.history builds 1,000 versions,
# which takes longer than the rest together.
ON_REQUEST = ["history"]


def _load(name: str) -> ModuleType | str:
    try:
        return importlib.import_module(f"tests.bench.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"tests.bench.{name}":
            return f"not present (tests/bench/{name}.py does not exist)"
        return f"cannot be imported: {exc}"
    except Exception as exc:
        return f"cannot be imported: {type(exc).__name__}: {exc}"


def main(argv: list[str] | None = None) -> int:
    loaded = {name: _load(name) for name in MODULES + ON_REQUEST}
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument(
        "modules",
        nargs="*",
        metavar="MODULE",
        help=f"benchmark modules to run (default: all of {', '.join(MODULES)}; "
        f"on request only: {', '.join(ON_REQUEST)})",
    )
    for name, mod in loaded.items():
        if isinstance(mod, ModuleType) and hasattr(mod, "add_arguments"):
            mod.add_arguments(parser.add_argument_group(f"{name} benchmark"))
    opts = parser.parse_args(argv)
    known = MODULES + ON_REQUEST
    unknown = [m for m in opts.modules if m not in known]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(known)}")
    selected = opts.modules or MODULES

    rows: list[Row] = []
    t0 = time.perf_counter()
    for name in selected:
        mod = loaded[name]
        print(f"\n=== benchmark: {name} ===", flush=True)
        if isinstance(mod, str):
            print(f"NOT RUN: tests.bench.{name} {mod}", flush=True)
            rows.append(Row(name, "(module)", mod, "runs", False, "NOT RUN"))
            continue
        started = time.perf_counter()
        try:
            got = mod.run(opts)
        except Exception as exc:  # a benchmark that crashes is a result
            traceback.print_exc()
            crash = f"{type(exc).__name__}: {exc}"[:200]
            rows.append(Row(name, "(module)", crash, "runs", False, "CRASHED"))
            continue
        rows += got
        rows.append(Row(name, "(module run time)", fmt_s(time.perf_counter() - started)))

    print(f"\n=== summary ({fmt_s(time.perf_counter() - t0)}) ===")
    print_table(
        ["bench", "measure", "value", "target", "result"],
        [[r.bench, r.measure, r.value, r.target, r.verdict] for r in rows],
    )
    failed = sum(1 for r in rows if r.ok is False)
    passed = sum(1 for r in rows if r.ok is True)
    print(f"\n{passed} target(s) met, {failed} missed or not run.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
