"""Paired comparison of experiment arms: per-seed differences with their mean and 95% interval.

A thin caller of `jaxnas.analysis` (`jaxnas compare` is the command-line version for users).
Each arm is a folder of `seed<S>.final.json` reports (`experiments/run_paired.sh`). For every
seed present in both the baseline and an arm, the metrics are recomputed on the cells both
reports scored (so landmarks, which an arm excludes from its evaluation set, are dropped from the
baseline's too), then differenced. The interval is Student's t over seeds. `--within-space`
keeps only the cells of the space each arm's run ended in (the last `angle_space` of its
`seed<S>.jsonl`, after ABS shrinking): the ranking inside the space a search then explores.

    python experiments/paired_diff.py experiments/results/paired/spos \
        experiments/results/paired/landmark --out experiments/results/paired/landmark_vs_spos.md
"""

import argparse
import json
from pathlib import Path

from jaxnas.analysis import arms, paired, plots
from jaxnas.analysis.stats import diff_row, format_ci, mean_ci  # noqa: F401  (other scripts')
from jaxnas.evaluate.groundtruth import load_table

METRICS = paired.METRICS
scores = arms.scores  # a report's per-cell scores (eval_noise.py)


def load(folder):
    """seed -> {index: score} of an arm's final reports."""
    return {s: arms.cell_scores(seed.final) for s, seed in arms.load(folder).items()
            if seed.final is not None}


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
        keep = ({s: arms.space_cells(seed.log) for s, seed in arms.load(folder).items()}
                if args.within_space else None)
        rows, summary = paired.compare(base, arm, truth, keep)
        text.append(paired.markdown(folder.name, args.base.name, rows, summary))
        data[folder.name] = {"rows": rows, "summary": summary}
    print("\n".join(text))
    if args.out:
        args.out.write_text("\n".join(text))
        args.out.with_suffix(".json").write_text(json.dumps(data, indent=1))
    if args.plot:
        plots.paired(args.base.name, data, args.plot)


if __name__ == "__main__":
    main()
