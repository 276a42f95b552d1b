"""Optimizer-state memory of momentum separation: the base SGD against G momentum groups.

Shapes only (`jax.eval_shape` of the run's initial state), so it runs in seconds at any scale.

    python experiments/ms_memory.py --out experiments/results/ms_memory.json
"""

import argparse
import json

import jax
import numpy as np

from jaxnas.train import defaults, recipe as recipe_lib


def state_bytes(techniques, C, N, **overrides):
    config = defaults.base_config(techniques)
    config.supernet.C, config.supernet.N = C, N
    for key, value in overrides.items():
        block, name = key.split(".")
        config[block][name] = value
    recipe = recipe_lib.from_config(config, data=False, steps_per_epoch=390)
    shapes = jax.eval_shape(lambda: recipe.init())
    nbytes = lambda tree: sum(int(np.prod(x.shape)) * x.dtype.itemsize  # noqa: E731
                              for x in jax.tree.leaves(tree))
    return {"params": sum(int(np.prod(x.shape)) for x in jax.tree.leaves(shapes.params)),
            "opt_state_bytes": nbytes(shapes.opt_state)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out")
    args = p.parse_args()
    rows = []
    for scale, C, N in (("mini", 8, 1), ("paper", 16, 5)):
        base = state_bytes((), C, N)
        ms = state_bytes(("dynamic.ms",), C, N, **{"ms.rule": "edge_op", "ms.edge": 3})
        rows.append({"scale": scale, "params": base["params"],
                     "sgd_opt_state_bytes": base["opt_state_bytes"],
                     "ms5_opt_state_bytes": ms["opt_state_bytes"],
                     "extra_bytes": ms["opt_state_bytes"] - base["opt_state_bytes"]})
        print(rows[-1])
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
