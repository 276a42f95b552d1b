"""One table of every method's paired mini runs: ranking quality and the cell each one finds.

A thin caller of `jaxnas.analysis.tables`. For each arm folder (`experiments/results/paired/
<arm>/`, written by `run_paired.sh`), per seed: Kendall's tau, sparse tau and P@top-5% of the
final supernet on its 1,000 scored cells; the cell the method finds, with its ground-truth
cifar10-valid test accuracy and rank among the 15,625; train time (the epochs' wall time from
the metrics log) and the search's time. The found cell is the arm's `seed<S>.search.json` when
there is one (a `jaxnas search` result, e.g. a search of an ABS-shrunk space; an arm with only
searches has no ranking columns), else the best-scored of the 1,000 cells the final evaluation
scored: random search over a seeded non-isomorphic sample with a budget of 1,000, the same
sample for every arm. Mean ± std over seeds, per-seed values in the JSON.

    python experiments/report_table.py spos close close_structure abs_shrink \
        --out experiments/results/paired/report.md
"""

import argparse
import json
from pathlib import Path

from jaxnas.analysis import arms, tables

ROOT = Path(__file__).parent / "results" / "paired"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("arms", nargs="+", help="arm folder names under results/paired (or paths)")
    p.add_argument("--base", help="also the paired found-cell differences against this arm")
    p.add_argument("--out", type=Path, help="markdown table here, JSON beside it")
    args = p.parse_args()
    table = {}
    for arm in args.arms:
        folder = Path(arm) if Path(arm).is_dir() else ROOT / arm
        rows = tables.arm_rows(arms.load(folder))
        if rows:
            table[folder.name] = rows
    text = tables.method_table(table)
    if args.base:
        text += "\n" + tables.found_vs(table, args.base)
    print(text)
    if args.out:
        args.out.write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
