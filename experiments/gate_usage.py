"""How a trained CLOSE supernet's GATE assigns GLOW blocks: does the assignment depend on the cell?

    python experiments/gate_usage.py /tmp/runs/close_mini/seed0 [...] \
        --out experiments/results/close_mini/gate_usage.json

A thin caller of `jaxnas.analysis.gate.usage` (its docstring says what is measured).
"""

import argparse
import json
from pathlib import Path

from jaxnas.analysis.gate import usage


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("workdirs", nargs="+", type=Path, help="`jaxnas train` runs with close")
    p.add_argument("--num-archs", type=int, default=200)
    p.add_argument("--pair-archs", type=int, default=2000,
                   help="uniform sample of cells for the sharing-by-distance pairs")
    p.add_argument("--out", help="also write the results as JSON here")
    args = p.parse_args()
    results = [usage(w, args.num_archs, args.pair_archs) for w in args.workdirs]
    text = json.dumps(results, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
