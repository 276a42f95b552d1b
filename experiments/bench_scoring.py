"""Scoring throughput: `score_archs` (grouped cells) against its `legacy=True` path (one call per
cell), side by side in one process on the same cells, parameters and images.

Both paths score the same random cells drawn from all 15,625 (dead-edge deduplication applies to
both) with random supernet parameters and random uint8 images, batches of 256. The timed calls
alternate old/new `--repeats` times after one untimed warm-up call each (compilation), so load
from other processes on a shared machine hits both alike; reported are the medians of cells/s
(wall) and of the per-repeat new/old ratio, the process CPU seconds, and the largest score
differences between the paths (accuracy in images, mean loss). With `--all` the new path also
scores all 15,625 cells once at mini scale (timed, compilation included) and the legacy path's
time for them is extrapolated from its seconds per distinct cell on the subset.

    python experiments/bench_scoring.py --out experiments/results/bench_scoring.json --all
    python experiments/bench_scoring.py --scale mini --cells 64 --repeats 2    # quick look
"""

import argparse
import json
import os
import sys
import time

import jax
import numpy as np

from bench_eval import random_params
from jaxnas.evaluate import scoring
from jaxnas.spaces.nb201 import NUM_ARCHS, all_archs
from jaxnas.supernet import nb201 as supernet
from jaxnas.supernet.pools import vanilla_sharing

SCALES = {"mini": (supernet.SupernetConfig(C=8, N=1), 16),
          "paper": (supernet.SupernetConfig(C=16, N=5), 32)}
BATCH = 256


def setup(scale, num_batches, seed=0):
    """(cfg, params, images, labels) of random data at `scale`."""
    cfg, resolution = SCALES[scale]
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (num_batches * BATCH, resolution, resolution, 3), np.uint8)
    labels = rng.integers(0, cfg.num_classes, len(images)).astype(np.int32)
    return cfg, random_params(cfg, seed), images, labels


def scorer(cfg, params, images, labels):
    """`run(archs, legacy) -> (score_archs result, wall s, process CPU s)`."""
    sharing = vanilla_sharing(cfg.N)

    def run(archs, legacy):
        cpu, start = time.process_time(), time.perf_counter()
        out = scoring.score_archs(params, archs, images, labels, cfg=cfg, sharing=sharing,
                                  batch_size=BATCH, progress=False, legacy=legacy)
        return out, time.perf_counter() - start, time.process_time() - cpu
    return run


def compare(scale, num_cells, num_batches, repeats, seed=0):
    """Old vs new on `num_cells` random cells: medians, ratio and score differences."""
    cfg, params, images, labels = setup(scale, num_batches, seed)
    archs = all_archs()[np.random.default_rng(seed + 1).choice(NUM_ARCHS, num_cells, False)]
    distinct = len(np.unique(scoring.prune_dead_edges(archs), axis=0))
    run = scorer(cfg, params, images, labels)
    first = {legacy: run(archs, legacy) for legacy in (True, False)}  # compiles
    walls, cpus = {True: [], False: []}, {True: [], False: []}
    for _ in range(repeats):
        for legacy in (True, False):
            _, wall, cpu = run(archs, legacy)
            walls[legacy].append(wall)
            cpus[legacy].append(cpu)
    old, new = first[True][0], first[False][0]
    ratios = [o / n for o, n in zip(walls[True], walls[False])]
    row = dict(
        scale=scale, C=cfg.C, N=cfg.N, resolution=SCALES[scale][1], cells=num_cells,
        distinct_cells=distinct, batch_size=BATCH, num_batches=num_batches,
        images_per_cell=num_batches * BATCH, repeats=repeats,
        old_cells_per_s=num_cells / float(np.median(walls[True])),
        new_cells_per_s=num_cells / float(np.median(walls[False])),
        ratio_new_over_old=float(np.median(ratios)), ratios=ratios,
        old_wall_s=walls[True], new_wall_s=walls[False],
        old_cpu_s=cpus[True], new_cpu_s=cpus[False],
        old_first_call_s=first[True][1], new_first_call_s=first[False][1],
        max_acc_diff_images=float(np.max(np.abs(old["acc"] - new["acc"]))
                                  * old["images_per_arch"] / 100),
        max_loss_diff=float(np.max(np.abs(old["loss"] - new["loss"]))),
        old_s_per_distinct_cell=float(np.median(walls[True])) / distinct)
    print(f"{scale}: {num_cells} cells ({distinct} distinct), {row['images_per_cell']} images "
          f"each: old {row['old_cells_per_s']:.2f} cells/s, new {row['new_cells_per_s']:.2f} "
          f"cells/s, ratio {row['ratio_new_over_old']:.2f}x (median of {repeats}); max diff "
          f"{row['max_acc_diff_images']:.0f} images, loss {row['max_loss_diff']:.1e}", flush=True)
    return row


def all_cells(num_batches, legacy_s_per_distinct, seed=0):
    """The new path on all 15,625 cells at mini scale, timed once (compilation included)."""
    cfg, params, images, labels = setup("mini", num_batches, seed)
    out, wall, cpu = scorer(cfg, params, images, labels)(all_archs(), False)
    distinct = len(np.unique(scoring.prune_dead_edges(all_archs()), axis=0))
    row = dict(cells=NUM_ARCHS, distinct_cells=distinct, num_batches=num_batches,
               new_seconds=wall, new_cpu_s=cpu, new_cells_per_s=NUM_ARCHS / wall,
               legacy_seconds_extrapolated=legacy_s_per_distinct * distinct,
               legacy_extrapolation="legacy median s per distinct cell on the mini subset x "
                                    f"{distinct} distinct cells")
    print(f"all {NUM_ARCHS} cells at mini: new path {wall:.0f} s ({row['new_cells_per_s']:.1f} "
          f"cells/s); legacy extrapolated {row['legacy_seconds_extrapolated']:.0f} s", flush=True)
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", choices=("mini", "paper", "both"), default="both")
    p.add_argument("--cells", type=int, default=256, help="random cells at mini scale")
    p.add_argument("--num-batches", type=int, default=10, help="batches of 256 at mini scale")
    p.add_argument("--paper-cells", type=int, default=32, help="random cells at paper scale")
    p.add_argument("--paper-batches", type=int, default=2, help="batches of 256 at paper scale")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--all", action="store_true", help="also score all 15,625 cells (mini, new)")
    p.add_argument("--out", help="write the results as JSON here")
    args = p.parse_args()
    load = os.getloadavg()
    env = f"PYTHONPATH={os.environ['PYTHONPATH']} " if os.environ.get("PYTHONPATH") else ""
    result = dict(command=env + " ".join(["python"] + sys.argv), jax=jax.__version__,
                  backend=jax.default_backend(), cpus=os.cpu_count(), load_avg_start=load,
                  machine_note="2 CPU cores shared with other engineers' jobs: wall times are "
                               "noisy; old and new alternate in one process, medians reported")
    rows = []
    if args.scale in ("mini", "both"):
        rows.append(compare("mini", args.cells, args.num_batches, args.repeats))
    if args.scale in ("paper", "both"):
        rows.append(compare("paper", args.paper_cells, args.paper_batches, args.repeats))
    result["subsets"] = rows
    if args.all:
        mini = [r for r in rows if r["scale"] == "mini"]
        legacy = mini[0]["old_s_per_distinct_cell"] if mini else float("nan")
        result["all_cells_mini"] = all_cells(args.num_batches, legacy)
    result["load_avg_end"] = os.getloadavg()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
