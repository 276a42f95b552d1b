"""Paired comparison of experiment arms: per-seed differences with their mean and 95% interval.

Each arm is a folder of `seed<S>.final.json` reports (`experiments/run_paired.sh`). For every
seed present in both the baseline and an arm, the metrics are recomputed on the cells both
reports scored (so landmarks, which an arm excludes from its evaluation set, are dropped from the
baseline's too), then differenced. The interval is Student's t over seeds. `--within-space`
keeps only the cells of the space each arm's run ended in (the last `angle_space` of its
`seed<S>.jsonl`, after ABS shrinking): the ranking inside the space a search then explores.

    python experiments/paired_diff.py experiments/results/paired/spos experiments/results/paired/landmark \
        --out experiments/results/paired/landmark_vs_spos.md
"""

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import stats

from jaxnas.evaluate.groundtruth import load_table
from jaxnas.evaluate.ranking import ranking_report

METRICS = ("kendall_tau", "sparse_kendall_tau", "p_at_top_5")


def load(folder):
    """seed -> {index: score} of an arm's final reports."""
    arms = {}
    for path in sorted(Path(folder).glob("seed*.final.json")):
        report = json.loads(path.read_text())
        arms[int(path.name[4:].split(".")[0])] = dict(zip(report["indices"], scores(report)))
    return arms


def scores(report):
    """A `jaxnas evaluate` report's per-cell scores (`supernet_acc` in older reports)."""
    return report.get("scores", report.get("supernet_acc"))


def metrics(scores, indices, truth):
    return ranking_report(np.array([scores[i] for i in indices]), truth[indices])


def space_cells(folder, seed):
    """NB201 indices of the space the run of `folder`'s seed ended in (all cells without ABS)."""
    from jaxnas.spaces.nb201 import space_archs, str_to_mask
    from jaxnas.spaces.nb201 import NUM_ARCHS, archs_to_indices

    log = [json.loads(line) for line in (folder / f"seed{seed}.jsonl").read_text().splitlines()]
    space = [e["angle_space"] for e in log if "angle_space" in e]
    if not space:
        return set(range(NUM_ARCHS))
    return set(archs_to_indices(space_archs(str_to_mask(space[-1]))).tolist())


def compare(base, arm, truth, keep=None):
    """Per-seed metrics of both arms on their common cells (those of `keep[seed]` when given),
    and the paired differences."""
    rows = []
    for seed in sorted(set(base) & set(arm)):
        common = set(base[seed]) & set(arm[seed])
        if keep:
            common &= keep[seed]
        common = np.array(sorted(common))
        b, a = metrics(base[seed], common, truth), metrics(arm[seed], common, truth)
        rows.append({"seed": seed, "cells": int(common.size),
                     **{f"base_{m}": b[m] for m in METRICS}, **{f"arm_{m}": a[m] for m in METRICS},
                     **{f"diff_{m}": a[m] - b[m] for m in METRICS}})
    return rows, {m: mean_ci([r[f"diff_{m}"] for r in rows]) for m in METRICS}


def mean_ci(diffs):
    """Mean of per-seed differences, its 95% Student-t interval, and whether it holds zero."""
    d = np.asarray(diffs, float)
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 \
        else float("nan")
    return {"mean": float(d.mean()), "ci95": [float(d.mean() - half), float(d.mean() + half)],
            "includes_zero": bool(d.mean() - half <= 0 <= d.mean() + half)}


def format_ci(ci, digits=3):
    """`+m [lo, hi]` of a `mean_ci` result, marked when the interval holds zero."""
    return (f"{ci['mean']:+.{digits}f} [{ci['ci95'][0]:+.{digits}f}, {ci['ci95'][1]:+.{digits}f}]"
            + (" (includes 0)" if ci["includes_zero"] else ""))


def diff_row(name, arm, base, digits=2):
    """A markdown row `| name | seeds | per-seed arm - base | mean [95% CI] |` over the seeds
    of both `{seed: value}` dicts; None with fewer than two."""
    seeds = sorted(set(arm) & set(base))
    if len(seeds) < 2:
        return None
    d = [arm[s] - base[s] for s in seeds]
    return (f"| {name} | {','.join(map(str, seeds))} | "
            f"{', '.join(f'{x:+.{digits}f}' for x in d)} | {format_ci(mean_ci(d), digits)} |")


def markdown(name, base_name, rows, summary):
    lines = [f"### {name} vs {base_name} ({len(rows)} paired seeds)", "",
             "| seed | cells | " + " | ".join(f"{m} base / arm / diff" for m in METRICS) + " |",
             "|---|---|" + "---|" * len(METRICS)]
    for r in rows:
        cells = [f"{r[f'base_{m}']:.3f} / {r[f'arm_{m}']:.3f} / {r[f'diff_{m}']:+.3f}"
                 for m in METRICS]
        lines.append(f"| {r['seed']} | {r['cells']} | " + " | ".join(cells) + " |")
    cells = [f"mean {s['mean']:+.3f}, 95% CI [{s['ci95'][0]:+.3f}, {s['ci95'][1]:+.3f}]"
             + (" (includes 0)" if s["includes_zero"] else "") for s in summary.values()]
    lines.append("| **paired difference** | | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(base_name, data, path, metric="kendall_tau"):
    """One panel per arm: each seed's `metric`, baseline to arm, joined by a line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(data), figsize=(3.2 * len(data), 3.4), sharey=True,
                             squeeze=False)
    for ax, (name, d) in zip(axes[0], data.items()):
        for r in d["rows"]:
            ax.plot([0, 1], [r[f"base_{metric}"], r[f"arm_{metric}"]], "o-", color="tab:blue")
            ax.annotate(str(r["seed"]), (1.03, r[f"arm_{metric}"]), fontsize=7, va="center")
        s = d["summary"][metric]
        ax.set_title(f"{name}\n{format_ci(s)}", fontsize=9)
        ax.set_xticks([0, 1], [base_name, name], fontsize=8)
        ax.set_xlim(-0.3, 1.3)
    axes[0][0].set_ylabel(f"{metric} (per seed)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("base", type=Path, help="baseline arm folder")
    p.add_argument("arms", type=Path, nargs="+", help="arm folders to compare with it")
    p.add_argument("--out", type=Path, help="write the markdown tables here (and .json beside)")
    p.add_argument("--plot", type=Path, help="per-seed Kendall's tau, baseline to arm (png)")
    p.add_argument("--within-space", action="store_true",
                   help="only the cells of the space each arm's run ended in (ABS shrinking)")
    args = p.parse_args()
    truth = load_table("cifar10-valid").get("valid_acc")
    base = load(args.base)
    text, data = [], {}
    for folder in args.arms:
        arm = load(folder)
        keep = {seed: space_cells(folder, seed) for seed in arm} if args.within_space else None
        rows, summary = compare(base, arm, truth, keep)
        text.append(markdown(folder.name, args.base.name, rows, summary))
        data[folder.name] = {"rows": rows, "summary": summary}
    print("\n".join(text))
    if args.out:
        args.out.write_text("\n".join(text))
        args.out.with_suffix(".json").write_text(json.dumps(data, indent=1))
    if args.plot:
        plot(args.base.name, data, args.plot)


if __name__ == "__main__":
    main()
