"""Tables and plots of ranking quality over training from `experiments/results/<run>/seed*.jsonl`.

    python experiments/summarize_ranking.py spos_mini close_mini --plot experiments/results/ranking_mini.png
    python experiments/summarize_ranking.py spos_mini close_mini --final   # + final_eval.sh table

For every run (a folder of per-seed metrics logs written by `run_seeds.sh`) prints a markdown table
of the final-epoch ranking metrics (mean +- std over seeds; the per-seed values in brackets), the
training cost (wall seconds of the training steps, excluding evaluation; trainable parameters),
and plots Kendall's tau, sparse tau and P@top-5% against the epoch (mean and per-seed).
"""

import argparse
import json
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
METRICS = (("kendall_tau", "Kendall's tau"), ("sparse_kendall_tau", "sparse tau"),
           ("p_at_top_5", "P@top-5%"), ("spearman_rho", "Spearman's rho"),
           ("top1_true_rank", "true rank of top-1"))


def load_run(name):
    """{seed: [records]} of one run folder."""
    folder = RESULTS / name
    files = sorted(folder.glob("seed*.jsonl"))
    if not files:
        raise SystemExit(f"no seed*.jsonl in {folder}")
    return {f.stem: [json.loads(line) for line in f.read_text().splitlines() if line]
            for f in files}


def evals(records):
    """(epochs, {metric: values}) of the records that carry a ranking evaluation."""
    rows = [r for r in records if "eval" in r]
    return (np.array([r["epoch"] for r in rows]),
            {m: np.array([r["eval"][m] for r in rows], float) for m, _ in METRICS})


def param_count(name):
    """Trainable parameters of the run's techniques (from the config stored with the run)."""
    command = (RESULTS / name / "command.txt").read_text().split()
    config_path = command[command.index("experiments/run_seeds.sh") + 1]
    import jax

    from jaxnas import config as config_lib
    from jaxnas.train import recipe as recipe_lib

    config = config_lib.load_config(Path(__file__).resolve().parents[1] / config_path)
    recipe = recipe_lib.from_config(config, data=False, steps_per_epoch=1)
    shapes = jax.eval_shape(lambda key: recipe.init(key).params, jax.random.key(0))
    return sum(int(np.prod(s.shape)) for s in jax.tree.leaves(shapes))


def fmt(values, digits=3):
    values = np.asarray(values, float)
    seeds = ", ".join(f"{v:.{digits}f}" for v in values)
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f} [{seeds}]"


def table(names):
    head = ["run", "epochs", *[label for _, label in METRICS], "train s/seed", "eval s/seed",
            "params"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in names:
        runs = load_run(name)
        finals = {m: [] for m, _ in METRICS}
        train_s, eval_s, epochs = [], [], []
        for records in runs.values():
            ep, vals = evals(records)
            for m in finals:
                finals[m].append(vals[m][-1])
            epochs.append(int(ep[-1]))
            train_s.append(sum(r["seconds"] for r in records))
            eval_s.append(sum(r["eval"]["seconds"] for r in records if "eval" in r))
        last = runs[sorted(runs)[0]][-1]
        extra = ""
        if "sharing" in last:
            extra = f" ({last['sharing']['active_op_params']:,} op params active at the end)"
        cells = [name, str(epochs[0]),
                 *[fmt(finals[m], 0 if m == "top1_true_rank" else 3) for m, _ in METRICS],
                 f"{np.mean(train_s):.0f}", f"{np.mean(eval_s):.0f}",
                 f"{param_count(name):,}{extra}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def final_table(names):
    """Table of the `final_eval.sh` reports (`results/final_eval/<run>_seed*.json`)."""
    head = ["run", "cells x images", *[label for _, label in METRICS], "P@top-10%"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in names:
        files = sorted((RESULTS / "final_eval").glob(f"{name}_seed*.json"))
        if not files:
            raise SystemExit(f"no final_eval/{name}_seed*.json in {RESULTS}")
        reports = [json.loads(f.read_text()) for f in files]
        cells = [name, f"{reports[0]['num_archs']} x {reports[0]['images_per_arch']}"]
        for metric in [m for m, _ in METRICS] + ["p_at_top_10"]:
            cells.append(fmt([r[metric] for r in reports], 0 if metric == "top1_true_rank" else 3))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(names, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = METRICS[:3]
    fig, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 3.8))
    for color, name in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], names):
        runs = load_run(name)
        curves = [evals(records) for records in runs.values()]
        epochs = curves[0][0]
        for ax, (metric, label) in zip(axes, shown):
            values = np.stack([c[1][metric] for c in curves])
            for seed_values in values:
                ax.plot(epochs, seed_values, color=color, alpha=0.25, lw=1)
            ax.plot(epochs, values.mean(0), color=color, lw=2,
                    label=f"{name} (mean of {len(values)} seeds)")
            ax.set_xlabel("epoch")
            ax.set_title(label)
            ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="folders under experiments/results/")
    p.add_argument("--plot", help="write the plot here (PNG)")
    p.add_argument("--final", action="store_true",
                   help="also tabulate the runs' final_eval.sh reports")
    args = p.parse_args()
    print(table(args.runs))
    if args.final:
        print()
        print(final_table(args.runs))
    if args.plot:
        plot(args.runs, args.plot)


if __name__ == "__main__":
    main()
