"""Tables and plots of ranking quality over training from `experiments/results/<run>/seed*.jsonl`.

A thin caller of `jaxnas.analysis` (`tables.epoch_table`, `tables.final_table`,
`plots.over_epochs`).

    python experiments/summarize_ranking.py spos_mini close_mini \
        --plot experiments/results/ranking_mini.png
    python experiments/summarize_ranking.py spos_mini close_mini --final   # + final_eval.sh table

For every run (a folder of per-seed metrics logs written by `run_seeds.sh`) prints a markdown table
of the final-epoch ranking metrics (mean +- std over seeds; the per-seed values in brackets), the
training cost (wall seconds of the training steps, excluding evaluation; trainable parameters),
and plots Kendall's tau, sparse tau and P@top-5% against the epoch (mean and per-seed).
"""

import argparse
import json
from pathlib import Path

import jax
import numpy as np

from jaxnas import config as config_lib
from jaxnas.analysis import plots, tables
from jaxnas.train import recipe as recipe_lib

RESULTS = Path(__file__).resolve().parent / "results"


def load_run(name):
    """{seed: [records]} of one run folder."""
    folder = RESULTS / name
    files = sorted(folder.glob("seed*.jsonl"))
    if not files:
        raise SystemExit(f"no seed*.jsonl in {folder}")
    return {f.stem: [json.loads(line) for line in f.read_text().splitlines() if line]
            for f in files}


def param_count(name):
    """Trainable parameters of the run's techniques (from the config stored with the run)."""
    command = (RESULTS / name / "command.txt").read_text().split()
    config_path = command[command.index("experiments/run_seeds.sh") + 1]
    config = config_lib.load_config(Path(__file__).resolve().parents[1] / config_path)
    recipe = recipe_lib.from_config(config, data=False, steps_per_epoch=1)
    shapes = jax.eval_shape(lambda key: recipe.init(key).params, jax.random.key(0))
    return sum(int(np.prod(s.shape)) for s in jax.tree.leaves(shapes))


def params_text(name, logs):
    last = logs[sorted(logs)[0]][-1]
    extra = ""
    if "sharing" in last:
        extra = f" ({last['sharing']['active_op_params']:,} op params active at the end)"
    return f"{param_count(name):,}{extra}"


def final_reports(name):
    files = sorted((RESULTS / "final_eval").glob(f"{name}_seed*.json"))
    if not files:
        raise SystemExit(f"no final_eval/{name}_seed*.json in {RESULTS}")
    return [json.loads(f.read_text()) for f in files]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="folders under experiments/results/")
    p.add_argument("--plot", help="write the plot here (PNG)")
    p.add_argument("--final", action="store_true",
                   help="also tabulate the runs' final_eval.sh reports")
    args = p.parse_args()
    runs = {name: load_run(name) for name in args.runs}
    print(tables.epoch_table(runs, {n: params_text(n, logs) for n, logs in runs.items()}))
    if args.final:
        print()
        print(tables.final_table({name: final_reports(name) for name in args.runs}))
    if args.plot:
        plots.over_epochs(runs, args.plot)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
