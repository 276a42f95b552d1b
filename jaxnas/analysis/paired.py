"""Paired comparison of arms: per-seed differences of ranking metrics on common cells.

For every seed of both the baseline and an arm, the metrics are recomputed on the cells both
reports scored (landmarks, which an arm excludes from its evaluation set, leave the baseline's
too), then differenced; the summary is the mean and 95% Student-t interval over seeds
(`stats.mean_ci`). `check_pairing` refuses what is not a paired experiment: different seeds,
different evaluation sets (beyond the cells an arm excludes), image counts or ground truths.
"""

import numpy as np

from jaxnas.analysis import arms as arms_lib
from jaxnas.analysis.stats import format_ci, mean_ci
from jaxnas.errors import UsageError
from jaxnas.evaluate.ranking import ranking_report

METRICS = ("kendall_tau", "sparse_kendall_tau", "p_at_top_5")
ALL_METRICS = ("kendall_tau", "sparse_kendall_tau", "spearman_rho", "p_at_top_5",
               "p_at_top_10")
_SAME = ("archs", "seed", "images_per_arch", "gt", "metric", "protocol", "dataset", "space",
         "gt_table")


def metrics(scores, cells, truth):
    """`ranking_report` of `{cell: score}` on `cells` against `truth`: the `[15625]` NB201
    column (cells are indices) or `{cell: value}` of a stand-alone table."""
    return ranking_report(np.array([scores[c] for c in cells]),
                          np.array([truth[c] for c in cells], np.float64))


def compare(base, arm, truth, keep=None, names=METRICS):
    """Per-seed metrics of both arms (`{seed: {cell: score}}`) on their common cells (those of
    `keep[seed]` when given) and the paired differences: `(rows, {metric: mean_ci})`."""
    rows = []
    for seed in sorted(set(base) & set(arm)):
        common = set(base[seed]) & set(arm[seed])
        if keep:
            common &= keep[seed]
        if len(common) < 3:
            raise UsageError(f"seed {seed}: the arms scored {len(common)} cell(s) in common "
                             f"with a ground truth; a ranking needs at least 3")
        common = np.array(sorted(common))
        b, a = metrics(base[seed], common, truth), metrics(arm[seed], common, truth)
        rows.append({"seed": seed, "cells": int(common.size),
                     **{f"base_{m}": b[m] for m in names}, **{f"arm_{m}": a[m] for m in names},
                     **{f"diff_{m}": a[m] - b[m] for m in names}})
    if not rows:
        raise UsageError("the arms share no seed: nothing to pair")
    return rows, {m: mean_ci([r[f"diff_{m}"] for r in rows]) for m in names}


def check_pairing(base_name, base, arm_name, arm, *, common_seeds=False):
    """Raise a one-line UsageError unless `arm` (`{seed: Seed}`) pairs with `base`: the same
    seeds (or, with `common_seeds`, at least two in common), and per seed reports drawn from
    the same evaluation set (cells differ only by those a report excludes, e.g. landmarks, and
    what replaced them) on as many images against the same ground truth. Returns the paired
    seeds."""
    b, a = set(base), set(arm)
    if b != a and not common_seeds:
        raise UsageError(f"unpaired seeds: {base_name} has {sorted(b)}, {arm_name} has "
                         f"{sorted(a)} (pass --common-seeds to compare seeds {sorted(a & b)})")
    seeds = sorted(a & b)
    if len(seeds) < 2:
        raise UsageError(f"{arm_name} and {base_name} share {len(seeds)} seed(s) {seeds}; a "
                         "paired interval needs at least 2")
    for seed in seeds:
        rb, ra = base[seed].final, arm[seed].final
        if rb is None or ra is None:
            which = base_name if rb is None else arm_name
            raise UsageError(f"{which} seed {seed} has no ranking report (only a search)")
        for key in _SAME:
            if key in rb and key in ra and rb[key] != ra[key]:
                raise UsageError(f"seed {seed}: {arm_name} has {key}={ra[key]!r}, {base_name} "
                                 f"{key}={rb[key]!r}: not the same evaluation")
        ib, ia = set(arms_lib.cell_keys(rb)), set(arms_lib.cell_keys(ra))
        extra = len(ib | ia) - len(ib & ia)  # an excluded cell, and its replacement if any
        if extra > 2 * (rb.get("excluded", 0) + ra.get("excluded", 0)):
            raise UsageError(f"seed {seed}: {arm_name} and {base_name} scored different cell "
                             f"sets ({len(ib & ia)} in common of {len(ib)} and {len(ia)})")
    return seeds


def found_rows(base, arm, truth, seeds):
    """Per seed: the found cell of each arm (`arms.found_index`), its ground truth and the
    difference; `(rows, mean_ci of the differences)`."""
    rows = []
    for seed in seeds:
        bi, ai = arms_lib.found_index(base[seed])[0], arms_lib.found_index(arm[seed])[0]
        rows.append({"seed": seed, "base_index": bi, "arm_index": ai,
                     "base_truth": float(truth[bi]), "arm_truth": float(truth[ai]),
                     "diff": float(truth[ai] - truth[bi])})
    return rows, mean_ci([r["diff"] for r in rows])


def markdown(name, base_name, rows, summary):
    """The per-seed table of `compare` with the paired difference as its last row."""
    names = list(summary)
    lines = [f"### {name} vs {base_name} ({len(rows)} paired seeds)", "",
             "| seed | cells | " + " | ".join(f"{m} base / arm / diff" for m in names) + " |",
             "|---|---|" + "---|" * len(names)]
    for r in rows:
        cells = [f"{r[f'base_{m}']:.3f} / {r[f'arm_{m}']:.3f} / {r[f'diff_{m}']:+.3f}"
                 for m in names]
        lines.append(f"| {r['seed']} | {r['cells']} | " + " | ".join(cells) + " |")
    cells = [f"mean {s['mean']:+.3f}, 95% CI [{s['ci95'][0]:+.3f}, {s['ci95'][1]:+.3f}]"
             + (" (includes 0)" if s["includes_zero"] else "")
             + (" (every seed equal)" if s.get("all_equal") else "") for s in summary.values()]
    lines.append("| **paired difference** | | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def found_markdown(name, base_name, rows, ci, truth_name):
    """Per seed: both arms' found cells and the difference of their ground truth."""
    lines = [f"Found cell ({truth_name}), {name} - {base_name}, paired by seed:", "",
             "| seed | base cell | base | arm cell | arm | diff |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['seed']} | {r['base_index']} | {r['base_truth']:.2f} | {r['arm_index']} | "
              f"{r['arm_truth']:.2f} | {r['diff']:+.2f} |" for r in rows]
    lines.append(f"| **paired difference** | | | | | {format_ci(ci, 2)} |")
    return "\n".join(lines) + "\n"
