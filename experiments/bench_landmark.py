"""Extra cost of landmark regularisation per train step, against the plain SPOS step.

Four steps built through the recipe at mini scale (C=8, N=1, 16x16 images, batch 64, random
images; speed does not depend on pixel values):

  spos      the base step (`techniques=()`).
  warmup    the landmark step during the supernet warm-up (coefficient 0): the term is off
            (its step arguments are None), so this is the SPOS program and should cost the same.
  active    the landmark step after the warm-up: `--pairs` landmark pairs, i.e. 2 * pairs more
            forwards and backwards on a regulariser batch of 64 held-out images.
  warmup_always
            the warm-up with `landmark.skip_warmup=False`: the landmark networks run every
            step, times a zero coefficient (what `active` costs).

The variants alternate for `--rounds` rounds (a shared machine's speed drifts); reported are the
compile time (first step) and the median step time over all timed steps of each variant, after
`--warmup` untimed steps, and the load average (other jobs compete for the 2 cores).

    python experiments/bench_landmark.py
    python experiments/bench_landmark.py --rounds 3 --steps 20 \
        --out experiments/results/bench_landmark.json
"""

import argparse
import json
import os
import time

import numpy as np

SCALE = dict(C=8, N=1, resolution=16, pad=2)
BATCH = 64


def build(variant, pairs):
    """(train_step, state, step_args, images, labels) of one variant."""
    import jax  # noqa: F401

    from jaxnas.train import defaults, recipe as recipe_lib
    from jaxnas.train.technique import Run

    techniques = () if variant == "spos" else ("landmark",)
    always = variant.endswith("_always")
    config = defaults.base_config(techniques=techniques)
    config.supernet.C, config.supernet.N = SCALE["C"], SCALE["N"]
    config.data.resolution, config.data.pad = SCALE["resolution"], SCALE["pad"]
    config.train.epochs, config.train.batch_size = 10, BATCH
    if techniques:
        config.landmark.warmup_epochs = 5
        config.landmark.pairs = pairs
        config.landmark.eval_reserve = 512
        config.landmark.skip_warmup = not always
    config.lock()
    rng = np.random.default_rng(0)
    r = SCALE["resolution"]

    def data(n):
        return (rng.integers(0, 256, (n, r, r, 3), dtype=np.uint8),
                rng.integers(0, 10, n).astype(np.int32))

    run = Run(config=config, net_cfg=recipe_lib.supernet_config(config), steps_per_epoch=100,
              total_steps=1000, train_data=data(BATCH), valid_data=data(4096))
    recipe = recipe_lib.build(config, run)
    state = recipe.init()
    active = variant.startswith("active")
    state, step_args, log = recipe.epoch_start(state, 6 if active else 1)
    if techniques:
        assert (log["landmark_coef"] > 0) == active
    return recipe.train_step, state, step_args, *run.train_data


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per round")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps after compiling")
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()

    import jax

    variants = ("spos", "warmup", "active", "warmup_always")
    built, compile_s, times = {}, {}, {v: [] for v in variants}
    for v in variants:
        step, state, step_args, x, y = build(v, args.pairs)
        t0 = time.perf_counter()
        state, m = step(state, x, y, step_args)
        jax.block_until_ready(m)
        compile_s[v] = time.perf_counter() - t0
        for _ in range(args.warmup):
            state, m = step(state, x, y, step_args)
        jax.block_until_ready(m)
        built[v] = [step, state, step_args, x, y]
    load = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for v in variants:
            step, state, step_args, x, y = built[v]
            for _ in range(args.steps):
                t0 = time.perf_counter()
                state, m = step(state, x, y, step_args)
                jax.block_until_ready(m)
                times[v].append(time.perf_counter() - t0)
            built[v][1] = state
        load.append(os.getloadavg()[0])
    base = float(np.median(times["spos"]))
    rows = []
    for v in variants:
        median = float(np.median(times[v]))
        rows.append(dict(variant=v, compile_s=round(compile_s[v], 2),
                         median_step_ms=round(1e3 * median, 2),
                         images_per_s=round(BATCH / median, 1),
                         ratio_to_spos=round(median / base, 3), steps=len(times[v])))
    result = dict(scale=SCALE, batch=BATCH, pairs=args.pairs, rounds=args.rounds,
                  load_average=[round(v, 2) for v in load], jax=jax.__version__,
                  devices=str(jax.devices()), cpus=os.cpu_count(), results=rows)
    print(f"mini C={SCALE['C']} N={SCALE['N']} {SCALE['resolution']}x{SCALE['resolution']} "
          f"batch {BATCH}, pairs {args.pairs}, load average {result['load_average']}")
    print("| variant | compile (s) | median step (ms) | images/s | x spos |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['variant']} | {row['compile_s']} | {row['median_step_ms']} | "
              f"{row['images_per_s']} | {row['ratio_to_spos']} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
