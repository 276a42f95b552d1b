"""Step time of SPOS in the DARTS space: one config's train step on random images.

Builds the run of `--config` (no data is read), compiles its train step on one batch of random
uint8 images at the config's batch size and resolution, then times `--steps` further steps (the
sampled genotype changes every step; one compilation serves them all). Prints one JSON line:
compile seconds (first step), median and interquartile step seconds, the epoch estimate at
`--steps-per-epoch` (390 = 25k images / 64) and the machine's load average. The run's held-out
half is random images too (GDAS's architecture step reads it); the step is epoch 1's (GDAS
active).

    python experiments/bench_darts_step.py --config configs/darts_spos.py:mini --steps 20
    python experiments/bench_darts_step.py --config configs/darts_spos.py:mini,gdas --steps 20
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's jaxnas
from jaxnas.config import load_config  # noqa: E402
from jaxnas.train import recipe as recipe_lib  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/darts_spos.py:mini")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--steps-per-epoch", type=int, default=390)
    args = parser.parse_args()
    config = load_config(args.config)
    b, res = config.train.batch_size, config.data.resolution
    rng = np.random.default_rng(0)
    held_out = (rng.integers(0, 256, (10 * b, res, res, 3), dtype=np.uint8),
                rng.integers(0, config.supernet.num_classes, 10 * b).astype(np.int32))
    recipe = recipe_lib.build(config, recipe_lib.make_run(config, args.steps_per_epoch,
                                                          valid_data=held_out))
    state = recipe.init()
    state, step_args, _ = recipe.epoch_start(state, 1)
    x = jnp.asarray(rng.integers(0, 256, (b, res, res, 3), dtype=np.uint8))
    y = jnp.asarray(rng.integers(0, config.supernet.num_classes, b))
    start = time.perf_counter()
    state, metrics = recipe.train_step(state, x, y, step_args)
    jax.block_until_ready(metrics)
    compile_s = time.perf_counter() - start
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        state, metrics = recipe.train_step(state, x, y, step_args)
        jax.block_until_ready(metrics)
        times.append(time.perf_counter() - start)
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    print(json.dumps({"config": args.config, "backend": jax.default_backend(),
                      "batch": b, "resolution": res, "compile_s": round(compile_s, 1),
                      "step_s_median": round(float(median), 3),
                      "step_s_iqr": [round(float(q1), 3), round(float(q3), 3)],
                      "epoch_min_estimate": round(float(median) * args.steps_per_epoch / 60, 1),
                      "load_average": [round(v, 1) for v in os.getloadavg()],
                      "finite_loss": bool(np.isfinite(float(metrics["loss"])))}))


if __name__ == "__main__":
    main()
