"""Evaluation noise: one checkpoint scored twice, on two disjoint held-out image subsets.

Each pair of `jaxnas evaluate` reports (same run, same cells, `--skip-batches` apart) gives the
ranking metrics of each subset, how well the two subsets' scores agree with each other (Kendall's
tau between them), the per-cell score difference, and the metrics of the averaged scores (what
scoring on both subsets together gives). If the two subsets' taus against the ground truth
differ by as much as the effect being measured, more images per cell are needed.

    R=experiments/results
    python experiments/eval_noise.py \
        $R/eval_noise/spos_seed0_batches0-3.json,$R/eval_noise/spos_seed0_batches4-7.json \
        $R/paired/spos_2560/seed0.final.json,$R/eval_noise/spos_seed0_batches10-19.json \
        --out $R/eval_noise/summary.json

The DARTS mini SPOS arm against its stand-alone table: `$R/darts_tau/scoring_noise/`.
"""

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import stats

from jaxnas.analysis import arms
from jaxnas.analysis.paired import METRICS
from jaxnas.evaluate.groundtruth import load_table
from jaxnas.evaluate.ranking import ranking_report


def compare(a, b, truth):
    """The noise numbers of two reports `a`, `b` of one checkpoint on disjoint subsets. `truth`:
    NB201's column by cell index; a report ranked against a stand-alone table (`--gt
    TABLE.csv`, e.g. DARTS) carries its cells' truth itself and is ranked by that."""
    cells = arms.cell_keys(a)
    if cells != arms.cell_keys(b) or a.get("step") != b.get("step"):
        raise SystemExit("eval_noise: the two reports must score the same cells of one checkpoint")
    sa, sb = np.array(arms.scores(a)), np.array(arms.scores(b))
    gt = (np.array(list(arms.cell_truth(a).values())) if a.get("gt_table")
          else truth[np.array(cells)])
    per = {name: ranking_report(s, gt) for name, s in (("a", sa), ("b", sb),
                                                        ("mean", (sa + sb) / 2))}
    d = sa - sb
    return {"images_per_arch": a["images_per_arch"], "skip_batches": [a.get("skip_batches", 0),
                                                                      b.get("skip_batches", 0)],
            "cells": int(gt.size),
            **{f"{m}_{k}": float(per[k][m]) for m in METRICS for k in per},
            "tau_between_subsets": float(stats.kendalltau(sa, sb)[0]),
            "score_std_across_cells": float(sa.std()),
            "diff_mean": float(d.mean()), "diff_std": float(d.std())}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("pairs", nargs="+", help="A.json,B.json: one checkpoint, two subsets")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    truth = load_table("cifar10-valid").get("valid_acc")
    rows = []
    for pair in args.pairs:
        a, b = (json.loads(Path(x).read_text()) for x in pair.split(","))
        rows.append({"reports": pair.split(","), **compare(a, b, truth)})
    print("| images per cell | tau A | tau B | tau of both | tau A vs B | score std | diff std |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['images_per_arch']} | {r['kendall_tau_a']:.3f} | {r['kendall_tau_b']:.3f} | "
              f"{r['kendall_tau_mean']:.3f} | {r['tau_between_subsets']:.3f} | "
              f"{r['score_std_across_cells']:.2f} | {r['diff_std']:.2f} |")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
