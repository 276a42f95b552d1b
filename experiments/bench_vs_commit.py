"""Step time of today's SPOS step against the step of an older checkout, in one process.

Both steps run interleaved in the same process (rounds of 10 steps each, alternating), so a busy
or drifting machine slows both alike; the medians are comparable where separate processes are
not. The old step is loaded from `OLD_TREE/jaxnas/train/step.py` (a `git worktree` of the older
commit) with its own sampler and optimizer recipe of that time (uniform cell, clip -> L2 decay ->
SGD Nesterov with the cosine schedule); the supernet and data code are today's, which are the
same at the compared commits.

    git worktree add /tmp/old 9306ff6
    python experiments/bench_vs_commit.py /tmp/old --rounds 6
"""

import argparse
import importlib.util
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxnas.optim import cosine_schedule
from jaxnas.supernet import nb201
from jaxnas.train import defaults, recipe as recipe_lib
from jaxnas.train.state import TrainState


def old_step(tree, net, schedule):
    spec = importlib.util.spec_from_file_location("old_step", Path(tree) / "jaxnas/train/step.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tx = optax.chain(optax.clip_by_global_norm(5.0), optax.add_decayed_weights(5e-4),
                     optax.sgd(schedule, 0.9, nesterov=True))

    def forward(params, arch, x, key, step_args):
        del key
        return nb201.apply(params, arch, x, step_args["sharing"], cfg=net)

    def sampler(key):
        return jax.random.categorical(key, jnp.zeros((6, 5))).astype(jnp.int32)

    return module.make_train_step(forward, tx, sampler, pad=2), tx


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("old_tree", help="checkout of the older commit")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--out", help="write the result JSON here")
    args = p.parse_args()

    config = defaults.mini_scale(defaults.base_config())
    config.data.pad = 2
    recipe = recipe_lib.from_config(config, data=False, steps_per_epoch=390)
    new_state, step_args, _ = recipe.epoch_start(recipe.init(), 1)
    net = recipe_lib.supernet_config(config)
    step, tx = old_step(args.old_tree, net, cosine_schedule(0.025, 0.001, 19500))
    params = jax.tree.map(jnp.copy, new_state.params["supernet"])
    old_state = jax.tree.map(jnp.copy, TrainState(params, tx.init(params), new_state.step,
                                                  new_state.rng))
    rng = np.random.default_rng(0)
    x = jax.device_put(rng.integers(0, 256, (64, 16, 16, 3), dtype=np.uint8))
    y = jax.device_put(rng.integers(0, 10, 64).astype(np.int32))
    runs = {"old": [step, old_state, {"sharing": step_args["sharing"]}],
            "new": [recipe.train_step, new_state, step_args]}
    times = {name: [] for name in runs}
    for name, (fn, state, a) in runs.items():  # compile both
        runs[name][1], m = fn(state, x, y, a)
        jax.block_until_ready(m)
    for _ in range(args.rounds):
        for name, (fn, state, a) in runs.items():
            for _ in range(10):
                t = time.perf_counter()
                state, m = fn(state, x, y, a)
                jax.block_until_ready(m)
                times[name].append(time.perf_counter() - t)
            runs[name][1] = state
    result = {name: {"median_step_ms": 1e3 * float(np.median(t)),
                     "images_per_s": 64 / float(np.median(t)), "steps": len(t)}
              for name, t in times.items()}
    result["new_over_old_time"] = (result["new"]["median_step_ms"]
                                   / result["old"]["median_step_ms"])
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
