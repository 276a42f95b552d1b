"""Throughput against the number of devices: the data-parallel train step and scoring.

For users with several GPUs or TPUs: how the SPOS train step (global-batch BN, the default) and
architecture scoring scale with the devices of one host. Each device count runs in its own
subprocess, on a mesh of the first D devices (`jaxnas.parallel.make_mesh(D)`). Reported per D:
compile time, median step time, images/s (and per device), scored architectures/s, and the
largest parameter difference between one sharded and one single-device step from the same state
(correctness: float rounding, ~1e-8). Whole trajectories are not compared: two runs that differ
by rounding drift apart faster than rounding (measured at mini scale: parameters 3e-8 apart
after 4 steps, 1e-4 after the 5th, whose gradient norm moves by 7e-5 while the one-step
difference from the same state stays 1e-8; a one-device step from the sharded run's state
gives exactly the sharded step's gradient norm), as any change of summation order would.

  --global-batch B       strong scaling: B images per step split over the D devices (default 64)
  --per-device-batch b   weak scaling: b images per device, D * b per step

    python experiments/bench_devices.py                              # D = 1, 2, 4, ... all
    python experiments/bench_devices.py --devices 1 8 --per-device-batch 64 --scale paper

On a CPU-only machine `--virtual N` splits the CPU into N virtual devices
(`--xla_force_host_platform_device_count`). They share the same cores, so the numbers show that
the sharded step is correct and what partitioning costs, never a speed-up.

    python experiments/bench_devices.py --virtual 4 --out experiments/results/bench_devices.json
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

SCALES = {"mini": dict(C=8, N=1, resolution=16, pad=2),
          "paper": dict(C=16, N=5, resolution=32, pad=4)}


def _recipe(scale, batch):
    from jaxnas.train import defaults, recipe as recipe_lib

    s = SCALES[scale]
    config = defaults.base_config()
    config.supernet.C, config.supernet.N = s["C"], s["N"]
    config.data.resolution, config.data.pad = s["resolution"], s["pad"]
    config.train.batch_size = batch
    return recipe_lib.from_config(config, data=False, steps_per_epoch=1000)


def _batches(scale, batch, n):
    rng = np.random.default_rng(0)
    r = SCALES[scale]["resolution"]
    return [(rng.integers(0, 256, (batch, r, r, 3), dtype=np.uint8),
             rng.integers(0, 10, batch).astype(np.int32)) for _ in range(n)]


def _train(recipe, step, mesh, data):
    """Step times (the first includes compilation) and the final state."""
    import jax

    from jaxnas import parallel

    state, step_args, _ = recipe.epoch_start(recipe.init(), 1)
    state, step_args = parallel.replicate((state, step_args), mesh)
    times = []
    for x, y in data:
        if mesh is not None:
            x, y = parallel.to_global(mesh, len(x), x, y)
        t = time.perf_counter()
        state, metrics = step(state, x, y, step_args)
        jax.block_until_ready(metrics)
        times.append(time.perf_counter() - t)
    return times, state


def _score(net_cfg, params, mesh, num_archs, batch, resolution):
    """Architectures scored per second (2 held-out batches each), compilation excluded."""
    from jaxnas.evaluate import scoring
    from jaxnas.supernet import pools

    rng = np.random.default_rng(1)
    archs = rng.integers(0, 5, (num_archs, 6)).astype(np.int32)
    images = rng.integers(0, 256, (2 * batch, resolution, resolution, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 2 * batch).astype(np.int32)
    run = lambda a: scoring.score_archs(  # noqa: E731
        params, a, images, labels, cfg=net_cfg, sharing=pools.vanilla_sharing(net_cfg.N),
        batch_size=batch, progress=False, mesh=mesh)
    run(archs[:max(1, mesh.size if mesh else 1)])  # compile
    result = run(archs)
    return num_archs / result["seconds"]


def worker(devices, scale, batch, steps, warmup, num_archs):
    import jax

    from jaxnas import parallel

    mesh = parallel.make_mesh(devices)
    mesh = mesh if mesh.size > 1 else None
    recipe = _recipe(scale, batch)
    data = _batches(scale, batch, warmup + steps)
    step = recipe.train_step.on_mesh(mesh) if mesh is not None else recipe.train_step
    times, state = _train(recipe, step, mesh, data)
    median = float(np.median(times[warmup:]))
    out = dict(devices=devices, platform=jax.devices()[0].platform, scale=scale,
               global_batch=batch, per_device_batch=batch // devices, compile_s=times[0],
               median_step_ms=1e3 * median, images_per_s=batch / median,
               images_per_s_per_device=batch / median / devices,
               archs_per_s=_score(recipe.run.net_cfg, state.params["supernet"], mesh, num_archs,
                                  64, SCALES[scale]["resolution"]))
    if mesh is not None:  # one more step from the final state, on the mesh and on one device
        host = jax.tree.map(np.asarray, state)
        _, args, _ = recipe.epoch_start(host, 1)
        x, y = data[0]
        sharded, _ = step(parallel.replicate(host, mesh), *parallel.to_global(mesh, batch, x, y),
                          parallel.replicate(args, mesh))
        single, _ = _recipe(scale, batch).train_step(jax.device_put(host), x, y, args)
        out["max_param_diff_vs_1_device"] = max(
            float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
            for a, b in zip(jax.tree.leaves(single.params), jax.tree.leaves(sharded.params)))
    print(json.dumps(out))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--devices", type=int, nargs="*", help="device counts (default 1, 2, 4... all)")
    p.add_argument("--virtual", type=int, default=0, help="CPU: this many virtual devices")
    p.add_argument("--scale", choices=sorted(SCALES), default="mini")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--global-batch", type=int, default=64)
    group.add_argument("--per-device-batch", type=int)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--archs", type=int, default=32, help="architectures scored")
    p.add_argument("--out", help="write the results (JSON) here")
    args = p.parse_args()

    env = dict(os.environ)
    if args.virtual:
        env["XLA_FLAGS"] = " ".join(filter(None, [env.get("XLA_FLAGS", ""),
                                                  f"--xla_force_host_platform_device_count="
                                                  f"{args.virtual}"]))
        env["JAX_PLATFORMS"] = "cpu"
    if args.devices:
        counts = args.devices
    else:
        probe = subprocess.run([sys.executable, "-c", "import jax; print(jax.device_count())"],
                               env=env, capture_output=True, text=True, check=True)
        total = int(probe.stdout.split()[-1])
        counts = [d for d in (1, 2, 4, 8, 16, 32, 64) if d <= total]
    rows = []
    for d in counts:
        batch = args.per_device_batch * d if args.per_device_batch else args.global_batch
        cmd = [sys.executable, __file__, "--worker", str(d), args.scale, str(batch),
               str(args.steps), str(args.warmup), str(args.archs)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if out.returncode:
            sys.exit(out.stderr[-3000:])
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        print(f"{d:3d} devices ({r['platform']}): batch {r['global_batch']} "
              f"({r['per_device_batch']}/device)  step {r['median_step_ms']:7.1f} ms  "
              f"{r['images_per_s']:7.0f} img/s  {r['images_per_s_per_device']:6.0f} img/s/device"
              f"  {r['archs_per_s']:5.1f} archs/s  compile {r['compile_s']:5.1f} s  "
              f"max |dparam| vs 1 device {r.get('max_param_diff_vs_1_device', 0.0):.1e}",
              flush=True)
    if args.out:
        import platform

        report = dict(rows=rows, command=" ".join(sys.argv), virtual=args.virtual,
                      cpus=os.cpu_count(), machine=platform.processor() or platform.machine(),
                      note=("virtual CPU devices share the same cores: correctness and overhead, "
                            "not speed-up") if args.virtual else "")
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        d, scale, batch, steps, warmup, archs = sys.argv[2:]
        worker(int(d), scale, int(batch), int(steps), int(warmup), int(archs))
    else:
        main()
