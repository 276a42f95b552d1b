"""Time scoring all 15,625 NB201 cells by the ABS angle, at mini and paper scale.

The fast path (`jaxnas.evaluate.angle.all_angles`: per-slot block sums gathered into an
(edge, op) table, one gather per cell) against the direct per-cell computation (`arch_angle`:
the concatenated weight vectors of Algorithm 1, jitted, timed on 50 cells and extrapolated).
Random initial weights as W0 and another random draw as Wt (timing does not depend on the
values).

    python experiments/angle_timing.py --out experiments/results/angle_timing.json
"""

import argparse
import json
import os
import time

import jax
import numpy as np

import jaxnas  # noqa: F401  (CPU flags before JAX starts)
from jaxnas.evaluate.angle import all_angles, arch_angle
from jaxnas.spaces.nb201 import all_archs
from jaxnas.supernet import nb201, pools


def timed(fn, repeats):
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--out")
    args = p.parse_args()
    archs = all_archs()
    result = {"jax": jax.__version__, "backend": jax.default_backend(), "cpus": os.cpu_count(),
              "load_avg_start": os.getloadavg()}
    for name, c, n in (("mini", 8, 1), ("paper", 16, 5)):
        cfg = nb201.SupernetConfig(C=c, N=n)
        p0, pt = nb201.init(jax.random.key(0), cfg), nb201.init(jax.random.key(1), cfg)
        sharing = pools.vanilla_sharing(n)
        fast = lambda: np.asarray(all_angles(p0, pt, archs, sharing, cfg=cfg))  # noqa: E731
        first = timed(fast, 1)[0]
        steady = timed(fast, args.repeats)
        direct_first = timed(lambda: float(arch_angle(p0, pt, archs[0], sharing, cfg=cfg)), 1)[0]
        per_cell = timed(lambda: [float(arch_angle(p0, pt, a, sharing, cfg=cfg))
                                  for a in archs[:50]], 1)[0] / 50
        result[name] = {
            "C": c, "N": n, "params": int(sum(x.size for x in jax.tree.leaves(p0))),
            "fast_first_call_s": first, "fast_all_cells_s_median": float(np.median(steady)),
            "fast_all_cells_s_min": float(np.min(steady)),
            "direct_first_call_s": direct_first, "direct_s_per_cell": per_cell,
            "direct_all_cells_s_estimate": per_cell * len(archs)}
        print(name, json.dumps(result[name]), flush=True)
    result["load_avg_end"] = os.getloadavg()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
