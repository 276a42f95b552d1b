"""Throughput of supernet architecture scoring on this machine (random params and images).

Formulations compared, all scoring the same fixed architectures on the same device-resident batches:
  loop          Python loop over archs and batches, one jitted call per batch (`make_scorer`).
  scan          one jitted call per arch, `lax.scan` over the batches (what `score_archs` uses).
  scan_2threads the scan calls issued from two Python threads, two archs in flight at once.
  vmap_batches  one call per arch, `jax.vmap` over the batches (per-batch BN statistics kept).
  map_archs     one call per chunk of archs, `lax.map` over the chunk of the scan formulation.
  vmap_archs    one call per chunk of archs, `jax.vmap` over the chunk: the per-edge `lax.switch`
                becomes a select that runs all five ops.
  score_archs   the library entry point end to end (validation, transfer, pipelined reads).

Reports compile time (first call minus a steady call), archs/s and images/s (median over repeats
after warm-up), CPU utilisation (process CPU time / wall time; 2 = both cores busy), and how long
scoring all 15,625 architectures would take on 1, 2 and 4 batches of 256 with `scan`.

    python experiments/bench_eval.py                  # MINI: C=8, N=1, 16x16, batches 256 and 512
    python experiments/bench_eval.py --quick          # fewer archs and repeats
    python experiments/bench_eval.py --scale paper    # C=16, N=5, 32x32, `scan` only
"""

import argparse
import functools
import os
import time
from concurrent.futures import ThreadPoolExecutor

import jax
import numpy as np
from jax import lax

from jaxnas.evaluate import scoring
from jaxnas.spaces.nb201 import NUM_ARCHS, all_archs
from jaxnas.supernet import nb201 as supernet
from jaxnas.supernet.pools import vanilla_sharing

SCALES = {"mini": (supernet.SupernetConfig(C=8, N=1), 16),
          "paper": (supernet.SupernetConfig(C=16, N=5), 32)}
CHUNK = 4  # archs per call of map_archs / vmap_archs
ESTIMATE_BATCHES = (1, 2, 4)


def random_params(cfg, seed=0):
    """Parameters in `init`'s layout drawn in numpy (`init` spends seconds compiling PRNGs)."""
    rng = np.random.default_rng(seed)
    shapes = jax.eval_shape(functools.partial(supernet.init, cfg=cfg), jax.random.key(0))
    return jax.device_put(jax.tree.map(
        lambda s: rng.uniform(-0.3, 0.3, s.shape).astype(np.float32), shapes))


def formulations(cfg, batch_size):
    """name -> run(params, archs [K, 6], sharing, images [nb, B, ...], labels) -> result pytree."""
    stats = functools.partial(scoring._batch_stats, cfg=cfg)
    per_batch = scoring.make_scorer(cfg, batch_size=batch_size)
    scan = scoring._arch_scorer(cfg)

    @jax.jit
    def vmap_batches(params, arch, sharing, images, labels):
        correct, loss = jax.vmap(stats, (None, None, None, 0, 0))(params, arch, sharing, images,
                                                                    labels)
        return correct.sum(), loss.sum()

    @jax.jit
    def map_archs(params, archs, sharing, images, labels):
        return lax.map(lambda a: scan(params, a, sharing, images, labels), archs)

    @jax.jit
    def vmap_archs(params, archs, sharing, images, labels):
        return jax.vmap(lambda a: scan(params, a, sharing, images, labels))(archs)

    def loop(params, archs, sharing, images, labels):
        batches = [(images[b], labels[b]) for b in range(images.shape[0])]
        return [per_batch(params, a, sharing, x, y) for a in archs for x, y in batches]

    def per_arch(fn):
        return lambda params, archs, *rest: [fn(params, a, *rest) for a in archs]

    def chunked(fn):
        return lambda params, archs, *rest: [fn(params, archs[i:i + CHUNK], *rest)
                                             for i in range(0, len(archs), CHUNK)]

    def threads(params, archs, *rest):
        with ThreadPoolExecutor(2) as pool:
            return list(pool.map(lambda a: jax.block_until_ready(scan(params, a, *rest)), archs))

    return {"loop": loop, "scan": per_arch(scan), "scan_2threads": threads,
            "vmap_batches": per_arch(vmap_batches), "map_archs": chunked(map_archs),
            "vmap_archs": chunked(vmap_archs)}


def bench(cfg, resolution, batch_size, num_batches, names, archs, repeats, rng):
    """Rows (name, compile s, archs/s, images/s, CPU util) for one batch size.

    Every formulation is warmed up first, then the timed calls go round-robin, so load from other
    processes on the machine hits all formulations alike.
    """
    params = random_params(cfg)
    sharing = jax.device_put(vanilla_sharing(cfg.N))
    host_images = rng.integers(0, 256, (num_batches * batch_size, resolution, resolution, 3),
                               dtype=np.uint8)
    host_labels = rng.integers(0, cfg.num_classes, num_batches * batch_size).astype(np.int32)
    images = jax.device_put(host_images.reshape((num_batches, batch_size) + host_images.shape[1:]))
    labels = jax.device_put(host_labels.reshape(num_batches, batch_size))
    runs = formulations(cfg, batch_size)
    runs["score_archs"] = lambda params, archs, sharing, *_: scoring.score_archs(
        params, archs, host_images, host_labels, cfg=cfg, sharing=sharing, batch_size=batch_size,
        num_batches=num_batches, progress=False)["acc"]
    subsets = {name: archs[:CHUNK] if name == "vmap_archs" else archs  # 5x the work: keep short
               for name in names}
    calls = {name: functools.partial(runs[name], params, subsets[name], sharing, images, labels)
             for name in names}
    first = {name: _timed(calls[name])[0] for name in names}
    walls, cpus = {name: [] for name in names}, {name: [] for name in names}
    for _ in range(repeats):
        for name in names:
            wall, cpu = _timed(calls[name])
            walls[name].append(wall)
            cpus[name].append(cpu)
    rows = []
    for name in names:
        wall, n = float(np.median(walls[name])), len(subsets[name])
        rows.append((name, first[name] - wall, n / wall, n * num_batches * batch_size / wall,
                     sum(cpus[name]) / sum(walls[name])))
        print(f"  B={batch_size} nb={num_batches} {name:12s} compile {first[name] - wall:5.1f}s  "
              f"{n / wall:7.2f} arch/s", flush=True)
    return rows


def _timed(fn):
    """(wall seconds, process CPU seconds) of `fn()` until its results are ready."""
    cpu, start = time.process_time(), time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - start, time.process_time() - cpu


def estimate(cfg, resolution, archs, repeats, rng):
    """(batches, seconds per arch) of `scan` at batch 256 for each of ESTIMATE_BATCHES."""
    return [(nb, 1 / bench(cfg, resolution, 256, nb, ["scan"], archs, repeats, rng)[0][2])
            for nb in ESTIMATE_BATCHES]


def _hours(seconds):
    return f"{seconds / 3600:.2f} h ({seconds / 60:.0f} min)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=tuple(SCALES), default="mini")
    parser.add_argument("--quick", action="store_true", help="fewer archs and repeats")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None)
    parser.add_argument("--num-archs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    cfg, resolution = SCALES[args.scale]
    paper = args.scale == "paper"
    num_archs = args.num_archs or (4 if paper or args.quick else 6)
    repeats = 2 if paper or args.quick else 3
    batch_sizes = args.batch_sizes or ([256] if paper else [256, 512])
    names = ["scan"] if paper else ["loop", "scan", "scan_2threads", "vmap_batches", "map_archs",
                                    "vmap_archs", "score_archs"]
    rng = np.random.default_rng(args.seed)
    archs = all_archs()[rng.choice(NUM_ARCHS, num_archs, replace=False)]
    # What `score_archs` runs for the whole space: the distinct cells after dead-edge pruning.
    distinct = np.unique(scoring.prune_dead_edges(all_archs()), axis=0)
    distinct_sample = distinct[rng.choice(len(distinct), num_archs, replace=False)]
    start, load = time.perf_counter(), os.getloadavg()[0]
    print(f"# scoring throughput: {args.scale} C={cfg.C} N={cfg.N} {resolution}x{resolution}, "
          f"{num_archs} random archs, 2 batches, median of {repeats}; jax {jax.__version__} "
          f"{jax.default_backend()}, {os.cpu_count()} CPUs, load avg {load:.2f}", flush=True)
    table = []
    for batch_size in batch_sizes:
        table += [(batch_size,) + row for row in bench(cfg, resolution, batch_size, 2, names, archs,
                                                       repeats, rng)]
    if paper:  # one compile only: extrapolate the per-arch time of 2 batches linearly
        estimates = [(nb, nb / (2 * table[0][3])) for nb in ESTIMATE_BATCHES]
    else:
        print("  (estimates: archs sampled from the distinct pruned cells)", flush=True)
        estimates = estimate(cfg, resolution, distinct_sample, repeats, rng)

    print("\n| batch | formulation | compile (s) | archs/s | images/s | CPU util |")
    print("|---:|---|---:|---:|---:|---:|")
    for batch_size, name, compile_s, aps, ips, util in table:
        print(f"| {batch_size} | {name} | {compile_s:.1f} | {aps:.2f} | {ips:,.0f} | {util:.2f} |")
    how = ("random archs, linear in batches from 2" if paper else
           f"a sample of the {len(distinct):,} distinct pruned cells")
    print(f"\nAll {NUM_ARCHS:,} archs, batches of 256, s/arch of `scan` on {how}. `score_archs` "
          f"runs {len(distinct):,} forwards; without dead-edge dedup it would run {NUM_ARCHS:,} "
          f"(at least as slow each):\n")
    print(f"| batches | s/arch | score_archs ({len(distinct):,}) | no dedup ({NUM_ARCHS:,}) |")
    print("|---:|---:|---:|---:|")
    for nb, per_arch in estimates:
        print(f"| {nb} | {per_arch:.3f} | {_hours(len(distinct) * per_arch)} | "
              f"{_hours(NUM_ARCHS * per_arch)} |")
    print(f"\nwall {time.perf_counter() - start:.0f}s, load avg at end {os.getloadavg()[0]:.2f} "
          f"(other processes share the CPUs)")


if __name__ == "__main__":
    main()
