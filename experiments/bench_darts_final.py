"""Step time of `jaxnas final`'s training step (DARTS's evaluation network with its auxiliary
loss, drop path and cutout, SGD): compile time, then the median of `--steps` steps after one
warm-up step, on random uint8 batches, so a reader can estimate a whole run (600 epochs of
ceil(50,000 / 96) = 521 steps at paper scale).

    python experiments/bench_darts_final.py --config configs/darts_final.py --steps 5 \
        --out experiments/results/darts_final/bench_paper.json
"""

import argparse
import json
import os
import platform
import time

import jax
import numpy as np

from jaxnas.config import load_config
from jaxnas.spaces import darts as space
from jaxnas.train import standalone, standalone_step as sstep


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", default="configs/darts_final.py")
    p.add_argument("--arch", default="DARTS_V2")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--batch", type=int, help="override train.batch_size (memory)")
    p.add_argument("--out")
    args = p.parse_args()
    config = load_config(args.config)
    if args.batch:
        config.train.batch_size = args.batch
    arch = space.str_to_arch(space.GENOTYPES.get(args.arch, args.arch))
    b, r = config.train.batch_size, config.data.resolution
    spe = -(-50_000 // b)  # steps of an epoch at this batch
    t0 = time.perf_counter()
    init, step, _, _ = standalone.programs_of(config, spe, arch)
    state = init(arch[None], sstep.cell_keys(0, [1]), 0)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (1, b, r, r, 3), dtype=np.uint8)
    y = rng.integers(0, 10, (1, b)).astype(np.int32)
    compiled = step.lower(state, x, y).compile()
    compile_s = time.perf_counter() - t0
    times = []
    for _ in range(args.steps + 1):
        t0 = time.perf_counter()
        state, metrics = compiled(state, x, y)
        jax.block_until_ready(metrics)
        times.append(time.perf_counter() - t0)
    median = float(np.median(times[1:]))
    n = config.network
    result = {"config": args.config, "arch": args.arch, "C": n.C, "layers": n.layers,
              "auxiliary": n.auxiliary, "batch": b, "resolution": r,
              "params": space.num_params(arch, n.C, n.layers),
              "compile_s": round(compile_s, 1), "step_s": [round(t, 3) for t in times],
              "median_step_s": round(median, 3), "images_per_s": round(b / median, 1),
              "steps_per_epoch": spe,
              "hours_per_epoch": round(median * spe / 3600, 3),
              "days_for_epochs": round(median * spe * config.train.epochs / 86400, 1),
              "epochs": config.train.epochs, "backend": jax.default_backend(),
              "cpus": os.cpu_count(), "load_avg_1min_at_end": round(os.getloadavg()[0], 1),
              "machine": platform.processor() or platform.machine()}
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
