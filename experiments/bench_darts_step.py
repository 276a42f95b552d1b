"""SPOS step in the DARTS space: jaxnas against a PyTorch DARTS single-path supernet, side by side.

Each measurement runs in its own subprocess (its own compile cache and peak memory):

  jaxnas  the library's jitted train step of the scale's config, `configs/darts_spos.py[:mini]`
          (`recipe.train_step`: a new genotype drawn uniformly inside the step, on-device
          augmentation, DARTS's optimizer: SGD momentum 0.9, weight decay 3e-4, clip 5), on one
          batch of random uint8 images; `--config` times another config's step instead (e.g.
          `:mini,gdas`: the weight step and GDAS's architecture step on random held-out images),
          at epoch 1's schedule, or `--epoch N`'s (the epoch hooks of 1..N run first: e.g.
          `:mini,close` at its third block, `--epoch 5`).
  torch   quark0/darts's search network (`model_search.Network`: every edge holds all 8 ops as
          DARTS's MixedOp, BN without affine) run single-path: each edge runs the one op of a
          genotype drawn uniformly per step on the host, the SPOS way of training it in PyTorch
          (the float32 network of `tests/fixtures/make_darts_torch.py`, which is checked against
          jaxnas to 1e-4); the same optimizer; random images.

The two alternate `--rounds` times; the ratio compares each side's median round (a shared
machine's speed drifts over minutes). Reported per run: compile (first step), median step over
`--steps` steps after `--warmup`, images/s, peak resident memory (ru_maxrss).

    python experiments/bench_darts_step.py --scale mini --rounds 3 --steps 20
    python experiments/bench_darts_step.py --scale both --rounds 3 --steps 10 \
        --out experiments/results/bench_darts_step.json
    python experiments/bench_darts_step.py --workers jaxnas --config configs/darts_spos.py:mini,gdas
    python experiments/bench_darts_step.py --workers jaxnas \
        --config configs/darts_spos.py:mini,close --epoch 5
"""

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np

from bench_step import time_steps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's jaxnas
CONFIGS = {"mini": "configs/darts_spos.py:mini", "paper": "configs/darts_spos.py"}


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _summary(worker, scale, config, first, times, config_path=None, **extra):
    median = float(np.median(times))
    batch = config.train.batch_size
    return dict(worker=worker, config=config_path or CONFIGS[scale], batch=batch,
                resolution=config.data.resolution, C=config.supernet.C,
                layers=config.supernet.layers, compile_s=round(first, 2),
                median_step_ms=round(1e3 * median, 2), images_per_s=round(batch / median, 1),
                peak_mib=round(peak_mib()), steps=len(times), **extra)


def _config(scale, path=None, sizes=None):
    """The scale's config (or `path`'s), with `sizes` ({C, layers, resolution}) replacing the
    network's size when given."""
    from jaxnas.config import load_config

    config = load_config(path or CONFIGS[scale])
    if sizes:
        config.supernet.C, config.supernet.layers = sizes["C"], sizes["layers"]
        config.data.resolution = sizes["resolution"]
        config.data.pad = max(1, sizes["resolution"] // 8)
    return config


def run_jaxnas(scale, steps, warmup, config_path=None, sizes=None, epoch=1):
    import jax
    import jax.numpy as jnp

    from jaxnas.train import recipe as recipe_lib

    config = _config(scale, config_path, sizes)
    b, res = config.train.batch_size, config.data.resolution
    rng = np.random.default_rng(0)
    held_out = (rng.integers(0, 256, (10 * b, res, res, 3), dtype=np.uint8),
                rng.integers(0, config.supernet.num_classes, 10 * b).astype(np.int32))
    recipe = recipe_lib.build(config, recipe_lib.make_run(config, 1000, valid_data=held_out))
    state = recipe.init()
    for e in range(1, epoch + 1):  # every epoch's hooks: e.g. CLOSE's blocks up to `epoch`'s
        state, step_args, _ = recipe.epoch_start(state, e)
    x = jnp.asarray(rng.integers(0, 256, (b, res, res, 3), dtype=np.uint8))
    y = jnp.asarray(rng.integers(0, config.supernet.num_classes, b))
    box = [state]

    def step():
        box[0], metrics = recipe.train_step(box[0], x, y, step_args)
        jax.block_until_ready(metrics)

    first, times = time_steps(step, steps, warmup)
    return _summary("jaxnas", scale, config, first, times, config_path, epoch=epoch,
                    backend=jax.default_backend(), jax=jax.__version__)


def run_torch(scale, steps, warmup, config_path=None, sizes=None):
    """The PyTorch side, on the GPU when PyTorch sees one (then synchronised per step)."""
    del config_path  # always DARTS's search network trained single-path (SPOS)
    import torch

    sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
    from make_darts_torch import Network

    from jaxnas import spaces
    from jaxnas.train import recipe as recipe_lib

    torch.manual_seed(0)
    config = _config(scale, sizes=sizes)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    net = Network(recipe_lib.supernet_config(config)).to(device)
    o = config.optim
    opt = torch.optim.SGD(net.parameters(), o.lr, momentum=o.momentum, nesterov=o.nesterov,
                          weight_decay=o.weight_decay)
    b, res = config.train.batch_size, config.data.resolution
    x = torch.randn(b, 3, res, res, device=device)
    y = torch.randint(0, config.supernet.num_classes, (b,), device=device)
    space, rng = spaces.get("darts"), np.random.default_rng(0)

    def step():
        arch = space.sample_np(rng)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x, arch), y).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), o.clip)
        opt.step()
        if device == "cuda":
            torch.cuda.synchronize()

    first, times = time_steps(step, steps, warmup)
    return _summary("torch", scale, config, first, times, torch=torch.__version__,
                    threads=torch.get_num_threads(), device=device)


WORKERS = {"jaxnas": run_jaxnas, "torch": run_torch}


def spawn(worker, scale, args):
    cmd = [sys.executable, __file__, "--worker", worker, "--scale", scale,
           "--steps", str(args.steps), "--warmup", str(args.warmup)]
    cmd += ["--config", args.config] if args.config else []
    cmd += ["--epoch", str(args.epoch)] if args.epoch != 1 else []
    out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
    if out.returncode:
        lines = out.stderr.strip().splitlines() or [f"exit status {out.returncode}"]
        return dict(worker=worker, scale=scale, error=lines[-1])
    return dict(json.loads(out.stdout.strip().splitlines()[-1]), scale=scale,
                load_average=[round(v, 1) for v in os.getloadavg()])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", choices=("mini", "paper", "both"), default="mini")
    p.add_argument("--steps", type=int, default=20, help="timed steps (median reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps after the first")
    p.add_argument("--rounds", type=int, default=1, help="alternate the workers this many times")
    p.add_argument("--workers", default="jaxnas,torch")
    p.add_argument("--config", help="the jaxnas worker times this config's step instead")
    p.add_argument("--epoch", type=int, default=1,
                   help="the jaxnas worker times the step of this epoch (hooks of 1..N first)")
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    p.add_argument("--out", help="also write the results as JSON here")
    args = p.parse_args()
    if args.worker:
        extra = {"epoch": args.epoch} if args.worker == "jaxnas" else {}
        print(json.dumps(WORKERS[args.worker](args.scale, args.steps, args.warmup, args.config,
                                              **extra)))
        return
    workers = args.workers.split(",")
    results = []
    for scale in (("mini", "paper") if args.scale == "both" else (args.scale,)):
        rates = {w: [] for w in workers}
        for _ in range(args.rounds):
            for worker in workers:
                r = spawn(worker, scale, args)
                results.append(r)
                if "error" in r:
                    print(f"{scale:5s} {worker:6s} failed: {r['error']}")
                    continue
                rates[worker].append(r["images_per_s"])
                print(f"{scale:5s} {worker:6s} compile {r['compile_s']:6.1f}s  step "
                      f"{r['median_step_ms']:8.1f} ms  {r['images_per_s']:7.1f} img/s  peak "
                      f"{r['peak_mib']:5d} MiB  load {r['load_average'][0]}", flush=True)
        if len(workers) == 2 and all(rates.values()):
            a, b = (float(np.median(rates[w])) for w in workers)
            results.append(dict(scale=scale, **{f"{w}_images_per_s": v for w, v in
                                                zip(workers, (a, b))},
                                ratio=round(a / b, 3), rounds=args.rounds))
            print(f"{scale:5s} median of {args.rounds} rounds: {workers[0]} {a:.1f} img/s, "
                  f"{workers[1]} {b:.1f} img/s, ratio {a / b:.2f}x")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(dict(command=" ".join(["python"] + sys.argv), cpus=os.cpu_count(),
                           results=results), f, indent=1)


if __name__ == "__main__":
    main()
