"""Kendall's tau of the angle, accuracy and magnitude metrics against NB201 over training epochs.

The ABS paper's ranking study (AngleNAS `exps/angle/get_angles.py`, `cal_correlation.py`): for
every stored checkpoint of one or more runs, score NB201 cells with the supernet and compute
Kendall's tau-b against the benchmark, per metric:

  * angle: all 15,625 cells (isomorphic copies included, as the reference), no data; W0 the
    initial weights (`--reference init`, the NB201 shrinking script) or the weights after epoch 1
    (`--reference epoch1`, the correlation study's `epoch-0` checkpoint), or as a control an
    unrelated random initialisation (`--reference random`: how much of the ranking is the
    construction's structural prior rather than training); with `--untrained N`, also the angle
    between N pairs of independent initialisations, no training at all;
  * accuracy: supernet top-1 on `--acc-batches` batches of `--acc-batch-size` held-out images
    (batch statistics), on a seeded sample of `--acc-archs` cells (default 1,000; `all` scores
    all 15,625, ~4-7 min per checkpoint at mini scale): tau over that sample, and the angle's tau
    on the same sample beside it for a paired comparison;
  * magnitude: log P(cell) under DARTS alpha, for runs trained with angle.magnitude.train=True.

Ground truth: the packaged NB201 cifar10-valid table, `test_acc` by default (the reference
uses the `cifar10` ori-test accuracy of networks trained on the full training set, which the
package does not ship) or `valid_acc`.

Runs need one checkpoint per epoch: train them with `train.keep_checkpoints` >= epochs. Each
call writes one JSON (per-run rows and, per group of runs, i.e. the runs' parent folder, the mean
and std of every epoch's tau); result files of earlier calls given instead of workdirs are merged,
so seeds can be analysed as their runs finish:

    jaxnas train --config configs/nb201_spos.py:mini --workdir runs/abs_tau/spos/seed0 \
        --data ../shared/data/cifar10-jpeg seed=0 train.keep_checkpoints=100 eval.every_epochs=0
    python experiments/angle_over_epochs.py runs/abs_tau/spos/seed0 \
        --data ../shared/data/cifar10-jpeg --epochs 1,2,3,4,5,7,10,15,20,25,30,35,40,45,50 \
        --out runs/aoe/spos_seed0.json
    python experiments/angle_over_epochs.py runs/aoe/spos_seed*.json \
        --out experiments/results/angle_over_epochs/mini.json \
        --plot experiments/results/angle_over_epochs/mini.png

The magnitude baseline needs runs trained with `angle.magnitude.train=True`
(configs/nb201_abs.py:mini with `angle.shrink.num_steps=0`); they are analysed the same way.
"""

import argparse
import json
import time
from pathlib import Path

import jax
import numpy as np

import jaxnas
from jaxnas.analysis import plots, tables
from jaxnas.analysis.checkpoints import epoch_states
from jaxnas.evaluate.angle import all_angles
from jaxnas.evaluate import groundtruth
from jaxnas.evaluate.ranking import kendall_tau
from jaxnas.train.scorer import make_score
from jaxnas.spaces.nb201 import NUM_ARCHS, all_archs, num_params


def load_run(workdir, data, batch_size, num_batches, *, needs_data=True):
    """A run's config, recipe and scorer (accuracy on `num_batches` held-out batches), opened
    with `jaxnas.open`: as in `jaxnas evaluate`, the images are only loaded when `needs_data`
    (or the run predates `run.json`): the angle and magnitude need none."""
    opened = jaxnas.open(workdir, data=data, needs_data=needs_data)
    images, labels = opened.run.valid_data or (None, None)
    score = make_score(opened.recipe, images=images, labels=labels, batch_size=batch_size,
                       num_batches=num_batches, progress=False)
    return opened.config, opened.recipe, score


def angles_from(recipe, config, reference, state, archs, epoch):
    """Angles of `archs` between `reference`'s weights and `state`'s (all cells: the fast path)."""
    params, sharing = recipe.subnet(state.params, archs, epoch)
    fixed = config.abs.fixed if "abs" in config else "nb201"
    return np.asarray(all_angles(reference.params["supernet"], params, archs, np.asarray(sharing),
                                 cfg=recipe.run.net_cfg, fixed=fixed), np.float64)


def untrained(workdir, truth, pairs):
    """Tau of the angle between two independent initialisations of `workdir`'s supernet (no
    training at all), for `pairs` pairs of seeds: the construction's structural prior."""
    config, recipe, _ = load_run(workdir, None, 1, 1, needs_data=False)
    archs = all_archs()
    return [kendall_tau(angles_from(recipe, config, recipe.init(jax.random.key(100 + i)),
                                    recipe.init(jax.random.key(200 + i)), archs, 0), truth)
            for i in range(pairs)]


def analyse(workdir, args, truth):
    config, recipe, score = load_run(workdir, args.data, args.acc_batch_size, args.acc_batches,
                                     needs_data=args.acc_archs != "0")
    archs = all_archs()
    if args.acc_archs == "all":
        sample = np.arange(NUM_ARCHS)
    else:
        sample = np.sort(np.random.default_rng(args.seed).choice(NUM_ARCHS, int(args.acc_archs),
                                                                 replace=False))
    epochs = {int(e) for e in args.epochs.split(",")} if args.epochs else None
    reference = None
    if args.reference == "random":  # control: an unrelated initialisation as W0
        reference = recipe.init(jax.random.key(config.seed + 1000))
    if args.reference == "epoch1":
        reference = dict(epoch_states(workdir, recipe, {1})).get(1)
        if reference is None:
            raise SystemExit(f"{workdir}: no checkpoint of epoch 1 for --reference epoch1")
    rows = []
    for epoch, state in epoch_states(workdir, recipe, epochs):
        row = {"epoch": epoch, "step": int(state.step)}
        t = time.perf_counter()
        if reference is None:
            angles = score(state, archs, "angle")
        else:
            angles = angles_from(recipe, config, reference, state, archs, epoch)
        row["angle_seconds"] = time.perf_counter() - t
        row["tau_angle"] = kendall_tau(angles, truth)
        if sample.size:
            row["tau_angle_sample"] = kendall_tau(angles[sample], truth[sample])
        if args.acc_archs != "0":
            t = time.perf_counter()
            acc = score(state, archs[sample], "accuracy")
            row["accuracy_seconds"] = time.perf_counter() - t
            row["tau_accuracy_sample"] = kendall_tau(acc, truth[sample])
        extra = state.extra.get("angle", {}) if isinstance(state.extra, dict) else {}
        if "alpha" in extra:
            logp = score(state, archs, "magnitude")
            row["tau_magnitude"] = kendall_tau(logp, truth)
            if sample.size:
                row["tau_magnitude_sample"] = kendall_tau(logp[sample], truth[sample])
        print(workdir, json.dumps(row), flush=True)
        rows.append(row)
    return {"config": config.to_dict(), "acc_archs": int(sample.size),
            "acc_images": args.acc_batches * args.acc_batch_size, "reference": args.reference,
            "rows": rows}


KEYS = {"tau_angle": ("-", "angle (all 15,625)"),
        "tau_angle_sample": ("-.", "angle (the accuracy sample)"),
        "tau_accuracy_sample": ("--", "accuracy ({n} cells)"),
        "tau_magnitude": (":", "magnitude (all 15,625)")}


def summary(results):
    """Per group of runs (the workdirs' parent folder) and metric: each epoch's tau."""
    return tables.over_epochs_by_group(results, KEYS)


def plot(results, path, baselines=None):
    """Mean tau over each group's runs against epochs, a band of one std."""
    n = next(iter(results.values()))["acc_archs"]
    plots.tau_groups(summary(results), {**KEYS, "n": n}, path, baselines=baselines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("workdirs", nargs="+",
                   help="runs to analyse, or result files of earlier calls (.json) to merge")
    p.add_argument("--data", help="data source, if not the runs' own")
    p.add_argument("--epochs", help="comma-separated epochs (default: every stored epoch)")
    p.add_argument("--reference", choices=("init", "epoch1", "random"), default="init",
                   help="W0: the run's initial weights, its weights after epoch 1, or (a "
                        "control) an unrelated random initialisation")
    p.add_argument("--acc-archs", default="1000", help="cells scored by accuracy: N, all or 0")
    p.add_argument("--acc-batches", type=int, default=1)
    p.add_argument("--acc-batch-size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0, help="seed of the accuracy sample")
    p.add_argument("--gt", choices=("test", "valid"), default="test")
    p.add_argument("--untrained", type=int, default=0,
                   help="also the angle's tau between N pairs of untrained initialisations")
    p.add_argument("--out", required=True)
    p.add_argument("--plot")
    args = p.parse_args()
    truth = np.asarray(groundtruth.load_table("cifar10-valid").get(f"{args.gt}_acc"))
    results = {}
    for w in args.workdirs:
        if w.endswith(".json"):
            results.update(json.loads(Path(w).read_text())["runs"])
        else:
            results[str(w)] = analyse(w, args, truth)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # A data- and training-free proxy for scale: the cell's parameter count (FLOPs give the same
    # order in NB201), at the runs' width.
    net = next(iter(results.values()))["config"]["supernet"]
    params = np.array([num_params(a, C=net["C"], N=net["N"]) for a in all_archs()])
    baselines = {"tau_num_params": kendall_tau(params, truth)}
    if args.untrained:
        baselines["tau_angle_untrained"] = untrained(next(iter(results)), truth, args.untrained)
    out.write_text(json.dumps({"gt": f"cifar10-valid {args.gt}_acc", "baselines": baselines,
                               "summary": summary(results), "runs": results}, indent=1))
    if args.plot:
        plot(results, args.plot, baselines)


if __name__ == "__main__":
    main()
