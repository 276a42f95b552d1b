"""Accelerator check: SPOS training and scoring throughput of jaxnas on one GPU/TPU (or the CPU).

At paper scale (C=16, N=5, 32x32, batch 64) by default, each measurement in its own subprocess
(its own compilation and peak memory), all on the platform `--platform` selects:

  step_switch, step_masked  the SPOS train step (`experiments/bench_step.py`'s jaxnas worker)
        with `supernet.edge_impl` "switch" and "masked": compile time (first step), median step
        time and images/s over `--steps` steps, device memory.
  epoch   one short SPOS epoch of `--epoch-steps` steps on synthetic data (random uint8 images)
        fed by the real input pipeline (`bench_step.py`'s loader worker, edge_impl auto).
  xautodl the PyTorch NB201 reference step (`bench_step.py`'s xautodl worker, on the GPU when
        PyTorch sees one); its epoch time is `--epoch-steps` times its median step. Where torch
        or xautodl is not installed the table says so and the run goes on.
  darts_step, darts_torch  the SPOS step in the DARTS space (`experiments/bench_darts_step.py`:
        DARTS's search network, C=16, 8 cells, 32x32, batch 64 unless `--darts-C`,
        `--darts-layers`, `--darts-resolution`), jaxnas's and the PyTorch DARTS network trained
        single-path (on the GPU when PyTorch sees one); the same fields as the steps above.
  standalone  `jaxnas standalone`'s step at the mini ceiling's scale (C=8, N=1, 16x16, batch
        256 unless `--sa-C`, `--sa-N`, `--sa-resolution`) with `--sa-k` networks `vmap`ped in one
        stack (`experiments/bench_standalone.py`'s stack worker): its step time and the cells a
        device-hour trains at 50 epochs of 97 steps (on this CPU: 5.4 cells per core-hour,
        one at a time; a GPU that trains hundreds an hour would build the mini ceiling and the
        DARTS table in minutes).
  scoring `score_archs` (batches of 256, `--score-batches` per cell) on `--score-cells` random
        cells after a compiling warm-up call, extrapolated to all 15,625 cells through the seconds
        per distinct (dead-edge pruned) cell; if that estimate fits `--score-budget-s`, all
        15,625 cells are then scored and timed (`all_cells_measured`).

Device memory is the device's `peak_bytes_in_use` (`jax.devices()[0].memory_stats()`) where the
backend reports it, else the worker process's peak resident memory (`memory_source` says which).
The whole run was sized at about 5 minutes on one H100 (under 8; the DARTS rows, added later,
add two compilations and 2 x 25 steps, unmeasured on a GPU); `--quick` (fewer steps, 64 scored
cells, extrapolated) runs on the CPU in minutes, and tiny sizes (`--C 4 --N 1 --resolution 8
--darts-C 4 --darts-layers 3 --darts-resolution 8`) in seconds of compute
(`tests/test_bench_accel.py`). Prints a table, writes JSON (`--out`).

    python experiments/bench_accel.py --out accel.json                  # on the accelerator
    python experiments/bench_accel.py --platform cpu --quick --out cpu.json
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

import bench_darts_step
import bench_standalone
import bench_step

WORKERS = ("step_switch", "step_masked", "epoch", "xautodl", "darts_step", "darts_torch",
           "standalone", "scoring")
SCALE = "accel"  # the bench_step scale entry this script registers from --C/--N/--resolution
ALL_CELLS = 15625


def register_scale(args):
    """Add the measured size to `bench_step.SCALES`, so its workers run at it."""
    bench_step.SCALES[SCALE] = dict(C=args.C, N=args.N, resolution=args.resolution,
                                    pad=max(1, args.resolution // 8))


def memory():
    """Peak device memory in bytes and where it comes from (device stats, else process RSS)."""
    import jax

    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        return dict(peak_bytes=int(stats["peak_bytes_in_use"]), memory_source="device")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return dict(peak_bytes=int(rss), memory_source="process_rss")


def device_info():
    import jax

    d = jax.devices()[0]
    return dict(platform=d.platform, device_kind=d.device_kind, device_count=jax.device_count())


def run_step(args, impl):
    """The SPOS train step with `supernet.edge_impl=impl`."""
    r = bench_step.run_jaxnas(SCALE, args.steps, args.warmup, [f"edge_impl={impl}"])
    return dict(r, **memory(), **device_info())


def run_epoch(args):
    """`--epoch-steps` SPOS steps fed by the input pipeline from random uint8 images."""
    r = bench_step.run_loader(SCALE, args.epoch_steps, 1, [])
    return dict(r, epoch_s=r["pipeline_s"], images_per_s=args.epoch_steps * bench_step.BATCH
                / r["pipeline_s"], **memory(), **device_info())


def run_xautodl(args):
    r = bench_step.run_xautodl(SCALE, args.steps, args.warmup, [])
    return dict(r, epoch_s=args.epoch_steps * r["median_step_ms"] / 1e3)


def _darts_sizes(args):
    return dict(C=args.darts_C, layers=args.darts_layers, resolution=args.darts_resolution)


def run_darts_step(args):
    """The DARTS-space SPOS step of jaxnas."""
    r = bench_darts_step.run_jaxnas("paper", args.steps, args.warmup, sizes=_darts_sizes(args))
    return dict(r, epoch_s=args.epoch_steps * r["median_step_ms"] / 1e3, **memory(),
                **device_info())


def run_darts_torch(args):
    """The PyTorch DARTS search network trained single-path."""
    r = bench_darts_step.run_torch("paper", args.steps, args.warmup, sizes=_darts_sizes(args))
    return dict(r, epoch_s=args.epoch_steps * r["median_step_ms"] / 1e3)


def run_standalone(args):
    """`--sa-k` NB201 stand-alone networks trained in one `vmap`ped stack step."""
    bench_standalone.SIZES.update(C=args.sa_C, N=args.sa_N, resolution=args.sa_resolution)
    r = bench_standalone.run_stack("mini", args.sa_k, 0, args.steps, args.warmup, loop="vmap")
    _, spe, epochs = bench_standalone.epoch_shape("mini")
    return dict(r, median_step_ms=r["median_step_s"] * 1e3, epochs=epochs, steps_per_epoch=spe,
                cells_per_device_hour=3600 / (r["seconds_per_cell_step"] * spe * epochs),
                impl=f"K={args.sa_k} vmap", **memory(), **device_info())


def has_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def run_scoring(args):
    """`score_archs` on a random subset of cells; all 15,625 when the estimate fits the budget."""
    import jax

    from bench_eval import random_params
    from jaxnas.evaluate import scoring
    from jaxnas.spaces.nb201 import all_archs
    from jaxnas.supernet import nb201 as supernet
    from jaxnas.supernet.pools import vanilla_sharing

    cfg = supernet.SupernetConfig(C=args.C, N=args.N)
    params, rng = random_params(cfg), np.random.default_rng(0)
    n_img = args.score_batches * 256
    images = rng.integers(0, 256, (n_img, args.resolution, args.resolution, 3), np.uint8)
    labels = rng.integers(0, 10, n_img).astype(np.int32)
    archs = all_archs()[rng.choice(ALL_CELLS, args.score_cells, replace=False)]

    def score(cells):
        start = time.perf_counter()
        scoring.score_archs(params, cells, images, labels, cfg=cfg, sharing=vanilla_sharing(
            cfg.N), batch_size=256, progress=False)
        return time.perf_counter() - start

    compile_s = score(archs)  # same group size as the timed call: compiles once
    subset_s = score(archs)
    distinct = len(np.unique(scoring.prune_dead_edges(archs), axis=0))
    all_distinct = len(np.unique(scoring.prune_dead_edges(all_archs()), axis=0))
    estimate = subset_s / distinct * all_distinct
    measured = estimate <= args.score_budget_s
    total = score(all_archs()) if measured else estimate
    return dict(worker="scoring", cells=args.score_cells, distinct_cells=distinct,
                images_per_cell=n_img, first_call_s=compile_s, subset_s=subset_s,
                subset_images_per_s=args.score_cells * n_img / subset_s,
                all_cells_s=total, all_cells_measured=bool(measured),
                all_cells_images_per_s=ALL_CELLS * n_img / total,
                impl=str(cfg.resolved().edge_impl), backend=jax.default_backend(),
                **memory(), **device_info())


def worker(name, args):
    register_scale(args)
    if name.startswith("step_"):
        return run_step(args, name.split("_", 1)[1])
    return {"epoch": run_epoch, "xautodl": run_xautodl, "darts_step": run_darts_step,
            "darts_torch": run_darts_torch, "standalone": run_standalone,
            "scoring": run_scoring}[name](args)


def spawn(name, args, env):
    """Run worker `name` in a fresh process; its result dict (or `error`)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name]
    for key in ("C", "N", "resolution", "steps", "warmup", "epoch_steps", "score_cells",
                "score_batches", "score_budget_s", "darts_C", "darts_layers", "darts_resolution",
                "sa_k", "sa_C", "sa_N", "sa_resolution"):
        cmd += [f"--{key.replace('_', '-')}", str(getattr(args, key))]
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if out.returncode:
        lines = out.stderr.strip().splitlines() or [f"exit status {out.returncode}"]
        return dict(worker=name, error=lines[-1], wall_s=wall)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]), worker=name, wall_s=wall)


def worker_env(args):
    """The workers' environment: the platform, and one compilation cache shared by them."""
    env = dict(os.environ)
    if args.platform != "auto":
        env["JAX_PLATFORMS"] = args.platform
    if "JAX_COMPILATION_CACHE_DIR" not in env:
        env["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-accel-xla-")
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    return env


def table(results):
    """The results as printed rows."""
    lines = ["| measurement | compile s | step ms | images/s | epoch s | peak MiB | note |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for name, r in results.items():
        if "error" in r or "skipped" in r:
            lines.append(f"| {name} | | | | | | {r.get('error') or r['skipped']} |")
            continue
        fmt = lambda key, f="{:.1f}": f.format(r[key]) if key in r else ""  # noqa: E731
        images = r.get("subset_images_per_s", r.get("images_per_s"))
        note = r.get("impl", "")
        if name == "standalone":
            note = f"{note}: {r['cells_per_device_hour']:,.1f} cells/hour at {r['epochs']} epochs"
        if name == "scoring":
            how = "measured" if r["all_cells_measured"] else "extrapolated"
            note = (f"all {ALL_CELLS} cells: {r['all_cells_s']:.0f} s ({how}), "
                    f"{r['images_per_cell']} images/cell, {note}")
        peak = f"{r['peak_bytes'] / 2**20:.0f} ({r['memory_source']})" if "peak_bytes" in r \
            else fmt("peak_mib", "{:.0f} (process_rss)")
        lines.append(f"| {name} | {fmt('compile_s', '{:.1f}') or fmt('first_call_s')} | "
                     f"{fmt('median_step_ms')} | {images:,.0f} | {fmt('epoch_s', '{:.2f}')} | "
                     f"{peak} | {note} |")
    return "\n".join(lines)


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--platform", default="auto",
                   help="JAX platform of the workers: auto (JAX's default), cpu, gpu, cuda, tpu")
    p.add_argument("--quick", action="store_true",
                   help="fewer steps, 64 scored cells (extrapolated): for the CPU")
    p.add_argument("--C", type=int, default=16)
    p.add_argument("--N", type=int, default=5)
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--darts-C", type=int, default=16)
    p.add_argument("--darts-layers", type=int, default=8)
    p.add_argument("--darts-resolution", type=int, default=32)
    p.add_argument("--sa-k", type=int, default=None,
                   help="stand-alone networks in one vmapped stack (default 64, quick 2)")
    p.add_argument("--sa-C", type=int, default=8)
    p.add_argument("--sa-N", type=int, default=1)
    p.add_argument("--sa-resolution", type=int, default=16)
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 20, quick 5)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps (default 5, quick 1)")
    p.add_argument("--epoch-steps", type=int, default=None,
                   help="steps of the synthetic epoch (default 50, quick 10)")
    p.add_argument("--score-cells", type=int, default=None,
                   help="random cells scored first (default 512, quick 64)")
    p.add_argument("--score-batches", type=int, default=10, help="batches of 256 per cell")
    p.add_argument("--score-budget-s", type=float, default=None,
                   help="score all 15,625 cells if estimated to take at most this (default "
                        "180; quick 0: extrapolate)")
    p.add_argument("--skip", action="append", default=[], choices=WORKERS)
    p.add_argument("--worker", choices=WORKERS, help=argparse.SUPPRESS)
    p.add_argument("--out", help="write the results as JSON here")
    args = p.parse_args(argv)
    defaults = dict(steps=(5, 20), warmup=(1, 5), epoch_steps=(10, 50), score_cells=(64, 512),
                    score_budget_s=(0.0, 180.0), sa_k=(2, 64))
    for key, (quick, full) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, quick if args.quick else full)
    return args


def main(argv=None):
    args = parse(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args)))
        return
    env = worker_env(args)
    start = time.perf_counter()
    results = {}
    for name in WORKERS:
        if name in args.skip:
            results[name] = dict(worker=name, skipped="skipped (--skip)")
        elif name == "xautodl" and not bench_step.has_xautodl():
            results[name] = dict(worker=name, skipped="torch/xautodl not installed")
        elif name == "darts_torch" and not has_torch():
            results[name] = dict(worker=name, skipped="torch not installed")
        else:
            results[name] = spawn(name, args, env)
        print(f"{name}: done in {results[name].get('wall_s', 0):.0f} s", file=sys.stderr,
              flush=True)
    sizes = dict(C=args.C, N=args.N, resolution=args.resolution, batch=bench_step.BATCH,
                 darts=_darts_sizes(args), standalone=dict(
                     C=args.sa_C, N=args.sa_N, resolution=args.sa_resolution, k=args.sa_k))
    print(f"\n{sizes}, platform {args.platform}\n")
    print(table(results))
    report = dict(command=" ".join(["python"] + sys.argv), platform=args.platform,
                  quick=args.quick, sizes=sizes, steps=args.steps, warmup=args.warmup,
                  epoch_steps=args.epoch_steps, score_cells=args.score_cells,
                  score_batches=args.score_batches, wall_s=time.perf_counter() - start,
                  results=results)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
