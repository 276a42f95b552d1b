"""Search strategies on the same supernets: the cell each finds, paired by seed.

Reads `<folder>/<prefix>seed<S>.<strategy>.json` (`jaxnas search --out`) for every seed and
strategy present; prints per seed the found cell's NB201 test accuracy and rank, the cells
scored (unique) and the search's wall time, then each strategy's paired difference against
`--base` (mean and 95% interval over seeds).

    python experiments/search_table.py experiments/results/search_strategies --prefix spos_ \
        --base random --out experiments/results/search_strategies/table.md
"""

import argparse
import json
import re
from pathlib import Path

import paired_diff  # same folder


def load(folder, prefix):
    """strategy -> seed -> search result."""
    found = {}
    for path in sorted(Path(folder).glob(f"{prefix}seed*.*.json")):
        m = re.fullmatch(rf"{re.escape(prefix)}seed(\d+)\.(\w+)\.json", path.name)
        if m:
            found.setdefault(m.group(2), {})[int(m.group(1))] = json.loads(path.read_text())
    return found


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder")
    p.add_argument("--prefix", default="")
    p.add_argument("--base", default="random")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    runs = load(args.folder, args.prefix)
    lines = ["| strategy | seed | found cell test acc (rank) | scored (unique) | search s |",
             "|---|---|---|---|---|"]
    for strategy, seeds in runs.items():
        for seed, r in sorted(seeds.items()):
            f = r["found"]
            lines.append(f"| {strategy} | {seed} | {f['test_acc']:.2f} ({f['rank_test']}) | "
                         f"{r['evaluated']} ({r.get('evaluated_unique', r['evaluated'])}) | "
                         f"{r['seconds']:.0f} |")
    lines += ["", f"| strategy - {args.base} | seeds | test acc diff per seed | mean, 95% CI |",
              "|---|---|---|---|"]
    found = {strategy: {s: r["found"]["test_acc"] for s, r in seeds.items()}
             for strategy, seeds in runs.items()}
    rows = (paired_diff.diff_row(strategy, found[strategy], found.get(args.base, {}))
            for strategy in found if strategy != args.base)
    lines += [r for r in rows if r]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
