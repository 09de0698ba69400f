"""One measurement in a fresh process: ``python -m benchmarks.child SHAPE IMPL N --mode MODE``.

Prepares the case, runs it once, checks the answer, and prints one ``BENCH-RESULT {json}`` line.
The runner starts one of these per measurement; run it by hand to look at a single case.
"""

from __future__ import annotations

import argparse
import json
import sys

from .harness import MODES, RESULT_PREFIX, SHAPES, measure, shape_module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.child", description=__doc__)
    parser.add_argument("shape", choices=sorted(SHAPES))
    parser.add_argument("impl")
    parser.add_argument("n", type=int)
    parser.add_argument("--mode", choices=MODES, default="time")
    parser.add_argument("--options", default="{}", help="JSON keyword options of prepare()")
    args = parser.parse_args(argv)
    module = shape_module(args.shape)
    if args.impl in module.UNFIT:
        parser.error(f"{args.impl} does not fit {args.shape}: {module.UNFIT[args.impl]}")
    case = module.prepare(args.impl, args.n, **json.loads(args.options))
    sample = measure(case, args.mode)
    print(RESULT_PREFIX + json.dumps(sample), flush=True)
    return 0 if sample["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
