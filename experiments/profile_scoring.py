"""Where the grouped scorer's time goes at mini scale (C8 N1 16x16, batches of 256).

Measures, in one process, with random parameters and images, on `--cells` random distinct
(pruned) cells scored by `scoring._score_group` (today's path):

  group      ms of process CPU time and of wall time per cell per batch of the whole program
  ops        self time of each kind of XLA operation in a `jax.profiler` trace of one call
             (convolutions, YNNPACK fusions = BN reductions, elementwise fusions, slices, dots)
  parts      CPU ms per batch of the pieces every cell runs after stage 1's first cell
             (`apply_cells(start=1)`, averaged over 16 of the cells), of the two reduction blocks
             and the head alone, and of `first_cell_table` (once per batch per group)
  bn         the group program with a one-pass batch norm (E[z^2] - E[z]^2) against today's
             two-pass one, alternating; their largest score difference
  batch      CPU ms per 256 images of the first reduction block and of a stage-2 3x3 conv at
             batch sizes 64..4096 (does a bigger program, e.g. several cells or batches stacked,
             run the same work faster?)

CPU time rather than wall time is the figure to compare on a shared machine. XLA flags are
process-wide: run the script once per `XLA_FLAGS` value (`--only group` to time just the
program); the flags in effect are recorded.

    PYTHONPATH=.:experiments python experiments/profile_scoring.py \
        --out experiments/results/profile_scoring.json
    XLA_FLAGS=... PYTHONPATH=.:experiments python experiments/profile_scoring.py --only group
"""

import argparse
import collections
import functools
import glob
import json
import os
import re
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from bench_eval import random_params
from jaxnas.evaluate import scoring
from jaxnas.spaces.nb201 import all_archs
from jaxnas.supernet import nb201 as supernet
from jaxnas.supernet import ops
from jaxnas.supernet.conv import conv2d
from jaxnas.supernet.pools import vanilla_sharing

CFG, RES, BATCH = supernet.SupernetConfig(C=8, N=1), 16, 256


def timed(fn, *args, n=5):
    """Median (wall ms, CPU ms) of `n` calls after one untimed call."""
    jax.block_until_ready(fn(*args))
    walls, cpus = [], []
    for _ in range(n):
        cpu, start = time.process_time(), time.perf_counter()
        jax.block_until_ready(fn(*args))
        walls.append(1e3 * (time.perf_counter() - start))
        cpus.append(1e3 * (time.process_time() - cpu))
    return float(np.median(walls)), float(np.median(cpus))


def setup(num_cells, num_batches, seed=0):
    rng = np.random.default_rng(seed)
    params = random_params(CFG, seed)
    images = jax.device_put(rng.integers(0, 256, (num_batches, BATCH, RES, RES, 3), np.uint8))
    labels = jax.device_put(rng.integers(0, 10, (num_batches, BATCH)).astype(np.int32))
    distinct = np.unique(scoring.prune_dead_edges(all_archs()), axis=0)
    archs = distinct[rng.choice(len(distinct), num_cells, replace=False)]
    group = jax.device_put(scoring._group_arrays(archs, scoring._group_order(archs)))
    return params, archs, group, jax.device_put(vanilla_sharing(CFG.N)), images, labels


def group_time(data, repeats):
    params, archs, group, sharing, images, labels = data
    fn = scoring._group_scorer(CFG)
    wall, cpu = timed(fn, params, group, sharing, images, labels, n=repeats)
    per = len(archs) * images.shape[0]
    return dict(cells=len(archs), num_batches=int(images.shape[0]),
                wall_ms_per_cell_batch=wall / per,
                cpu_ms_per_cell_batch=cpu / per)


def op_profile(data):
    """Self time (ms, share) per kind of XLA operation in a trace of one group call."""
    params, _, group, sharing, images, labels = data
    fn = scoring._group_scorer(CFG)
    jax.block_until_ready(fn(params, group, sharing, images, labels))
    return traced_self_times(lambda: jax.block_until_ready(
        fn(params, group, sharing, images, labels)))


def traced_self_times(run, calls=1, top=12, threads=("Eigen",)):
    """`{kind: {"ms", "share"}}`: the self time per call of each kind of XLA operation (numbered
    names merged: `fusion.12` counts as `fusion`) on the trace lines named by `threads` (XLA's
    worker threads; add "PjRtCpuClient" for the ops the executor runs on its own thread) in a
    `jax.profiler` trace of `calls` calls of `run()`, the `top` largest. A parent's time
    excludes its children's, so nothing is counted twice; the executor's waits for the worker
    threads are not work and are left out."""
    with tempfile.TemporaryDirectory() as tmp:
        with jax.profiler.trace(tmp):
            for _ in range(calls):
                run()
        from jax._src.lib import _profile_data
        space = _profile_data.ProfileData.from_file(
            glob.glob(tmp + "/**/*.xplane.pb", recursive=True)[0])
    own = collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if not any(t in line.name for t in threads):
                continue
            events = sorted(((e.start_ns, e.start_ns + e.duration_ns, e.name) for e in line.events),
                            key=lambda e: (e[0], -e[1]))
            stack = []
            for start, end, name in events:
                while stack and stack[-1][1] <= start:
                    stack.pop()
                kind = re.sub(r"(\.\d+)*(\.clone)?(\.\d+)*$", "", name)
                if stack:
                    own[stack[-1][2]] -= end - start  # a child's time is not its parent's
                own[kind] += end - start
                stack.append((start, end, kind))
    own = collections.Counter({k: v for k, v in own.items() if "wait for completion" not in k})
    total = sum(own.values())
    return {k: dict(ms=v / 1e6 / calls, share=v / total) for k, v in own.most_common(top)}


def parts(data, repeats):
    params, archs, _, sharing, _, _ = data
    rng = np.random.default_rng(1)
    h1, h2, h3 = (jax.device_put(rng.standard_normal((BATCH,) + s, np.float32))
                  for s in ((16, 16, 8), (8, 8, 16), (4, 4, 32)))

    def head(p, h):
        h = jax.nn.relu(ops.batch_norm(h, **p["head"]["bn"]))
        return jnp.mean(h, axis=(1, 2)) @ p["head"]["w"] + p["head"]["b"]

    rest = jax.jit(lambda p, a, h, s: supernet.apply_cells(p, a, h, s, cfg=CFG, start=1))
    cells = [timed(rest, params, jnp.asarray(a), h1, sharing, n=repeats)[1] for a in archs[:16]]
    return dict(
        apply_cells_start1_cpu_ms=float(np.mean(cells)),
        reduction1_cpu_ms=timed(jax.jit(lambda p, x: supernet._reduction(
            x, p["reduce"][0], None)), params, h1, n=repeats)[1],
        reduction2_cpu_ms=timed(jax.jit(lambda p, x: supernet._reduction(
            x, p["reduce"][1], None)), params, h2, n=repeats)[1],
        head_cpu_ms=timed(jax.jit(head), params, h3, n=repeats)[1],
        first_cell_table_cpu_ms=timed(jax.jit(supernet.first_cell_table), params, h1, sharing,
                                      n=repeats)[1])


def _one_pass(z, axis_name):
    mean, mean_sq = jnp.mean(z, axis=(0, 1, 2)), jnp.mean(jnp.square(z), axis=(0, 1, 2))
    rstd = lax.rsqrt(jnp.maximum(mean_sq - jnp.square(mean), 0.0) + ops.BN_EPS)
    return z * rstd - mean * rstd, rstd


def bn_variants(data, repeats):
    """Today's two-pass BN against one pass, in the group program, alternating."""
    params, archs, group, sharing, images, labels = data
    args = (params, group, sharing, images, labels)
    two_pass, compiled = ops._normalize, {}
    try:
        for name, fn in (("two_pass", two_pass), ("one_pass", _one_pass)):
            ops._normalize = fn
            compiled[name] = jax.jit(functools.partial(scoring._score_group, cfg=CFG)).lower(
                *args).compile()
    finally:
        ops._normalize = two_pass
    out = {name: jax.block_until_ready(c(*args)) for name, c in compiled.items()}
    cpus = {name: [] for name in compiled}
    for _ in range(repeats):
        for name, c in compiled.items():
            cpus[name].append(timed(c, *args, n=1)[1])
    per = len(archs) * images.shape[0]
    return dict({f"{n}_cpu_ms_per_cell_batch": float(np.median(v)) / per for n, v in cpus.items()},
                max_correct_diff=int(np.max(np.abs(out["one_pass"][0] - out["two_pass"][0]))),
                max_summed_loss_diff=float(np.max(np.abs(out["one_pass"][1]
                                                          - out["two_pass"][1]))))


def batch_sizes(repeats):
    rng = np.random.default_rng(2)
    params = random_params(CFG)
    w = jax.device_put(rng.standard_normal((3, 3, 16, 16), np.float32))
    red = jax.jit(lambda p, x: supernet._reduction(x, p["reduce"][0], None))
    conv = jax.jit(lambda x, w: conv2d(x, w))
    rows = []
    for b in (64, 128, 256, 1024, 4096):
        h1 = jax.device_put(rng.standard_normal((b, 16, 16, 8), np.float32))
        h2 = jax.device_put(rng.standard_normal((b, 8, 8, 16), np.float32))
        rows.append(dict(batch=b, reduction1_cpu_ms_per_256=timed(red, params, h1, n=repeats)[1]
                         * 256 / b,
                         conv3x3_stage2_cpu_ms_per_256=timed(conv, h2, w, n=repeats)[1] * 256 / b))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cells", type=int, default=64)
    p.add_argument("--num-batches", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--only", choices=("group",), help="time only the group program")
    p.add_argument("--out")
    args = p.parse_args()
    env = "".join(f"{k}='{os.environ[k]}' " for k in ("PYTHONPATH", "XLA_FLAGS")
                  if os.environ.get(k))  # XLA_FLAGS: as in effect (jaxnas adds its own)
    result = dict(command=env + " ".join(["python"] + sys.argv), jax=jax.__version__,
                  xla_flags=os.environ.get("XLA_FLAGS", ""), cpus=os.cpu_count(),
                  load_avg_start=os.getloadavg())
    data = setup(args.cells, args.num_batches)
    result["group"] = group_time(data, args.repeats)
    print("group", result["group"], flush=True)
    if not args.only:
        for name, fn in (("ops", lambda: op_profile(data)),
                         ("parts", lambda: parts(data, args.repeats)),
                         ("bn", lambda: bn_variants(data, args.repeats)),
                         ("batch", lambda: batch_sizes(args.repeats))):
            result[name] = fn()
            print(name, json.dumps(result[name]), flush=True)
    result["load_avg_end"] = os.getloadavg()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
