"""Supernet train-step throughput: jaxnas against the PyTorch reference (xautodl), side by side.

Each measurement runs in its own subprocess (so peak memory is its own) on the same machine:

  jaxnas    the library's jitted SPOS step (`train.step.make_train_step` with the uniform sampler,
            the config optimizer, on-device augmentation), one new random cell per step.
  xautodl   `TinyNetworkRANDOM` (AutoDL-Projects' NB201 random supernet) with a new random cell
            per step, SGD Nesterov + weight decay, global-norm clip 5: the PyTorch reference.
  loader    the jaxnas step fed by the real input pipeline (`batches` + `prefetch`) against the
            same step on one device-resident batch: the input pipeline's share of the wall time.

With `--rounds R` the jaxnas and xautodl workers alternate R times and the ratio compares the
median round of each (a shared machine's speed drifts over minutes). Reported: compile time (first
step, tracing + XLA), median step time and images/s over `--steps` steps after `--warmup` steps,
peak resident memory of the process (ru_maxrss), and the jaxnas/xautodl throughput ratio.
Batch 64; random images (speed does not depend on pixel values).

    python experiments/bench_step.py                       # both scales, all available workers
    python experiments/bench_step.py --scale mini --steps 30
    python experiments/bench_step.py --rounds 3 --steps 30 --out experiments/results/bench_step.json
    python experiments/bench_step.py --set edge_impl=masked   # another formulation
    python experiments/bench_step.py --scale paper --rounds 2 --compile-cache /tmp/xla_cache
        # JAX's persistent compilation cache: round 1 compiles and stores, later rounds load
    python experiments/bench_step.py --scale mini --config configs/nb201_close.py:mini \
        --epoch 31            # CLOSE with 4 active GLOW blocks instead of SPOS
    python experiments/bench_step.py --scale mini --config configs/nb201_spos_calr_ms.py:mini \
        --override ms.num_groups=1    # any config, any config overrides

`experiments/bench_arms.py` runs this script's worker for several configs side by side.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

SCALES = {"mini": dict(C=8, N=1, resolution=16, pad=2),
          "paper": dict(C=16, N=5, resolution=32, pad=4)}
BATCH = 64


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_steps(step, steps, warmup):
    """`(first, times)`: seconds of the first call of `step()` (compilation included) and of each
    of `steps` calls after `warmup` more; `step` returns when its work is done."""
    t = time.perf_counter()
    step()
    first = time.perf_counter() - t
    times = []
    for i in range(warmup + steps):
        t = time.perf_counter()
        step()
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return first, times


def summary(name, scale, first, times, **extra):
    median = float(np.median(times))
    return dict(worker=name, scale=scale, compile_s=first, median_step_ms=1e3 * median,
                images_per_s=BATCH / median, peak_mib=peak_mib(), steps=len(times), **extra)


def jax_step(scale, settings, config_path=None, epoch=1, overrides=()):
    """(step, state, step_args, config) of the jaxnas step at `scale`: SPOS, or the techniques of
    the config file `config_path` (e.g. CLOSE) with `overrides` (key=value) at the schedule stage of
    `epoch` (the last epoch of a run that long: CLOSE's curriculum, landmark's coefficient; 0 =
    the config's own last epoch)."""
    from jaxnas import config as config_lib
    from jaxnas.train import defaults, recipe as recipe_lib
    from jaxnas.train.technique import Run

    s = SCALES[scale]
    config = config_lib.load_config(config_path) if config_path else defaults.base_config()
    defaults.override(defaults.check(config), list(overrides))
    config.supernet.C, config.supernet.N = s["C"], s["N"]
    config.train.epochs = epoch if epoch > 0 else config.train.epochs
    for item in settings:
        key, value = item.split("=", 1)
        config.supernet[key] = value
    config.data.pad = s["pad"]
    steps = 1000  # per epoch; random images stand in for the data (landmark's held-out batches)
    run = Run(config=config, net_cfg=recipe_lib.supernet_config(config), steps_per_epoch=steps,
              total_steps=steps * config.train.epochs, train_data=images(scale, BATCH),
              valid_data=images(scale, 4096))
    recipe = recipe_lib.build(config, run)
    state, step_args, _ = recipe.epoch_start(recipe.init(), config.train.epochs)
    return recipe.train_step, state, step_args, config


def images(scale, n):
    rng = np.random.default_rng(0)
    r = SCALES[scale]["resolution"]
    return (rng.integers(0, 256, (n, r, r, 3), dtype=np.uint8),
            rng.integers(0, 10, n).astype(np.int32))


def run_jaxnas(scale, steps, warmup, settings, **setup):
    import jax

    step, state, step_args, config = jax_step(scale, settings, **setup)
    x, y = jax.device_put(images(scale, BATCH))
    t = time.perf_counter()
    state, m = step(state, x, y, step_args)
    jax.block_until_ready(m)
    first = time.perf_counter() - t
    times = []
    for i in range(warmup + steps):
        t = time.perf_counter()
        state, m = step(state, x, y, step_args)
        jax.block_until_ready(m)
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return summary("jaxnas", scale, first, times, backend=jax.default_backend(),
                   impl=jax_impl(config), xla_flags=os.environ.get("XLA_FLAGS", ""),
                   compile_cache=os.environ.get("JAX_COMPILATION_CACHE_DIR", ""))


def jax_impl(config):
    """The supernet formulations "auto" resolves to for `config` on this backend."""
    from jaxnas.train import recipe as recipe_lib

    slot_mix = "close" in config.techniques
    cfg = recipe_lib.supernet_config(config).resolved(slot_mix=slot_mix)
    return f"edge={cfg.edge_impl} conv={cfg.conv_impl} loop={cfg.cell_loop}"


def run_loader(scale, steps, warmup, settings, **setup):
    """Wall time of `steps` steps fed by the input pipeline vs by one resident batch."""
    import jax

    from jaxnas.data import batches, prefetch

    step, state, step_args, _ = jax_step(scale, settings, **setup)
    x, y = images(scale, BATCH * (warmup + steps + 1) * 2)
    xd, yd = jax.device_put((x[:BATCH], y[:BATCH]))
    state, m = step(state, xd, yd, step_args)
    jax.block_until_ready(m)

    def timed(source):
        nonlocal state
        for i, (bx, by) in enumerate(source):
            if i == warmup:
                jax.block_until_ready(state)
                t = time.perf_counter()
            if i == warmup + steps:
                break
            state, _ = step(state, bx, by, step_args)
        jax.block_until_ready(state)
        return time.perf_counter() - t

    resident = timed((xd, yd) for _ in range(warmup + steps + 1))
    fed = timed(prefetch(batches(x, y, BATCH, seed=0, epoch=0)))
    return dict(worker="loader", scale=scale, resident_s=resident, pipeline_s=fed,
                idle_fraction=max(0.0, 1 - resident / fed), steps=steps)


def run_xautodl(scale, steps, warmup, settings, **setup):
    """The xautodl step, on the GPU when PyTorch sees one (then synchronised per step)."""
    del settings, setup
    import torch
    from xautodl.models.cell_operations import NAS_BENCH_201
    from xautodl.models.cell_searchs.search_model_random import TinyNetworkRANDOM

    torch.manual_seed(0)
    s = SCALES[scale]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    net = TinyNetworkRANDOM(s["C"], s["N"], 4, 10, NAS_BENCH_201, False, False).to(device)
    opt = torch.optim.SGD(net.parameters(), 0.025, momentum=0.9, nesterov=True,
                          weight_decay=5e-4)
    x = torch.randn(BATCH, 3, s["resolution"], s["resolution"], device=device)
    y = torch.randint(0, 10, (BATCH,), device=device)

    def step():
        net.random_genotype(True)
        opt.zero_grad()
        _, logits = net(x)
        torch.nn.functional.cross_entropy(logits, y).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5)
        opt.step()
        if device == "cuda":
            torch.cuda.synchronize()

    first, times = time_steps(step, steps, warmup)
    return summary("xautodl", scale, first, times, torch=torch.__version__,
                   threads=torch.get_num_threads(), device=device)


WORKERS = {"jaxnas": run_jaxnas, "xautodl": run_xautodl, "loader": run_loader}


def has_xautodl():
    try:
        import torch  # noqa: F401
        import xautodl  # noqa: F401
    except ImportError:
        return False
    return True


def spawn(worker, scale, args):
    """Run one worker in a fresh process (its own compile cache and peak memory); its result."""
    cmd = [sys.executable, __file__, "--worker", worker, "--scale", scale,
           "--steps", str(args.steps), "--warmup", str(args.warmup), "--epoch", str(args.epoch)]
    cmd += ["--config", args.config] if args.config else []
    for item in args.set:
        cmd += ["--set", item]
    for item in args.override:
        cmd += ["--override", item]
    env = dict(os.environ)
    if args.compile_cache:
        env["JAX_COMPILATION_CACHE_DIR"] = args.compile_cache
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode:
        lines = out.stderr.strip().splitlines() or [f"exit status {out.returncode}"]
        return dict(worker=worker, scale=scale, error=lines[-1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(scale, r):
    if "error" in r:
        print(f"{scale:5s} {r['worker']:8s} failed: {r['error']}")
    elif r["worker"] == "loader":
        print(f"{scale:5s} loader   pipeline-fed {r['pipeline_s']:.2f}s vs resident "
              f"{r['resident_s']:.2f}s for {r['steps']} steps: input idle "
              f"{100 * r['idle_fraction']:.1f}%")
    else:
        print(f"{scale:5s} {r['worker']:8s} compile {r['compile_s']:6.1f}s  step "
              f"{r['median_step_ms']:7.1f} ms  {r['images_per_s']:7.0f} img/s  peak "
              f"{r['peak_mib']:6.0f} MiB  {r.get('impl', '')}")


def cpu_model():
    """The CPU's model name (Linux), so that results name the machine they were measured on."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name")), "")
    except OSError:
        return ""


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", choices=("mini", "paper", "both"), default="both")
    p.add_argument("--steps", type=int, default=10, help="timed steps (median reported)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps after the first")
    p.add_argument("--rounds", type=int, default=1,
                   help="alternate the workers this many times; the ratio uses the median round")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="SupernetConfig override for jaxnas, e.g. edge_impl=masked")
    p.add_argument("--config", help="time this config file's step (default: SPOS)")
    p.add_argument("--epoch", type=int, default=1,
                   help="schedule stage to time: the step of epoch N of an N-epoch run "
                        "(0: the config's last epoch)")
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, as `jaxnas train` takes them")
    p.add_argument("--compile-cache", metavar="DIR",
                   help="run the jaxnas workers with JAX's persistent compilation cache in DIR "
                        "(JAX_COMPILATION_CACHE_DIR): an empty DIR's first round compiles and "
                        "stores the step, later rounds load it")
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    p.add_argument("--out", help="also write the results as JSON here")
    args = p.parse_args()
    if args.worker:
        setup = dict(config_path=args.config, epoch=args.epoch, overrides=args.override)
        print(json.dumps(WORKERS[args.worker](args.scale, args.steps, args.warmup, args.set,
                                              **setup)))
        return
    timed = ["jaxnas"] + (["xautodl"] if has_xautodl() else [])
    if "xautodl" not in timed:
        print("torch/xautodl not installed: jaxnas only", file=sys.stderr)
    scales = ("mini", "paper") if args.scale == "both" else (args.scale,)
    results = []
    for scale in scales:
        runs = {worker: [] for worker in timed}
        for _ in range(args.rounds):  # alternate, so slow phases of a shared machine hit both
            for worker in timed:
                r = spawn(worker, scale, args)
                report(scale, r)
                results.append(r)
                if "error" not in r:
                    runs[worker].append(r["images_per_s"])
        r = spawn("loader", scale, args)
        report(scale, r)
        results.append(r)
        if all(runs.values()) and len(runs) == 2:
            jx, pt = (float(np.median(runs[w])) for w in timed)
            results.append(dict(scale=scale, jaxnas_images_per_s=jx, xautodl_images_per_s=pt,
                                ratio_jaxnas_over_xautodl=jx / pt, rounds=args.rounds))
            print(f"{scale:5s} median of {args.rounds} rounds: jaxnas {jx:.0f} img/s, xautodl "
                  f"{pt:.0f} img/s, ratio {jx / pt:.2f}x")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(dict(command=" ".join([os.path.basename(sys.executable)] + sys.argv),
                           cpus=os.cpu_count(), cpu_model=cpu_model(),
                           load_average=[round(v, 2) for v in os.getloadavg()],
                           results=results), f, indent=1)


if __name__ == "__main__":
    main()
