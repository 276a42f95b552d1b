"""Stand-alone training throughput: cells trained per hour, K at once against one at a time,
against xautodl's stand-alone NB201 network (PyTorch, one at a time).

Each measurement runs in its own subprocess (its own compile cache and peak memory):

  stack     `jaxnas standalone`'s step: K networks in one jitted step (each its own batch of
            256 and augmentation key), the first K cells of the list below, `vmap`ped
            (`stack_vmap`), `lax.map`ped (`stack_map`) or unrolled (`stack_unroll`).
  alone     the same network update (`standalone_step.network_step`) jitted for one network,
            one cell after another (the architecture is a runtime array: one compilation, and
            `lax.switch` runs only each edge's own op).
  alone_static
            as `alone`, but one program per cell with its ops fixed at trace time (no
            conditionals; `none` edges and, for DARTS, the 8 unused edges of a cell not traced;
            JAX's gradient of the ops): does compiling each cell buy speed? (It does not:
            experiments/README section 17.)
  alone_glibc_malloc
            as `alone`, with `JAXNAS_KEEP_MALLOC=1`: glibc's default malloc, which maps the
            step's large temporary buffer afresh every step (`jaxnas.runtime.keep_freed_memory`).
            Both report a hash of each cell's final parameters and optimizer state (the same
            steps on the same data): the summary says whether the allocator changed a bit.
  xautodl   AutoDL's stand-alone `TinyNetwork(C, N, genotype)` in PyTorch on the CPU, SGD
            Nesterov lr 0.1 momentum 0.9 weight decay 5e-4 (NB201's recipe), one cell after
            another.

Cells: the first cells of `jaxnas evaluate`'s 200 fixed evaluation cells (seed 0, index order);
with `--space darts`, the first genotypes `jaxnas standalone --archs N` draws (seed 0), in
DARTS's search network (`configs/standalone.py:SCALE,darts`; no PyTorch worker); `--archs`
names them instead (the space's text form; NB201 also an index).
`alone` and `xautodl` time `--cells` of them and average (an architecture's cost depends on its
ops); `stack_vmap` pays every op on every edge (a batched `switch` is a select), whatever the cells.
Reported per worker: compile time (first step), median step time over `--steps` steps after
`--warmup`, images/s, seconds per cell-step, peak resident memory (ru_maxrss), for a stack also
XLA's buffer sizes of the compiled step; and cells trained per hour of this machine at the
config's epochs and batch (`configs/standalone.py`: NB201 mini 50 and paper 200 epochs of 97
steps, 25,000 training images at batch 256; DARTS mini 20 and paper 50 of 390 at batch 64;
evaluation not counted). Random images (speed does not depend on pixel values). Each worker
is pinned to one core (`--core`, taskset), so its rate is cells per CPU-hour (on a shared,
oversubscribed machine a 2-thread PyTorch step also swung from 0.14 s to 1 s with its threads
spinning); the machine is shared, so `--rounds` alternates the workers and the summary takes
medians over rounds.

    python experiments/bench_standalone.py --scale mini --k 2 8 --loops vmap unroll \
        --rounds 2 --out experiments/results/bench_standalone_mini.json
    python experiments/bench_standalone.py --space darts --scale mini --k 2 --loops unroll
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's jaxnas
from bench_step import SCALES, has_xautodl, peak_mib  # noqa: E402  (shared helpers)

TRAIN_IMAGES = 25_000  # the cifar10-valid training half
SPACE = "nb201"  # `--space`: set by main before anything reads it
SIZES = {}  # NB201 network sizes replacing the config's (C, N, resolution): bench_accel's tiny test
ARCHS = []  # `--archs`: the cells to time instead of the default ones


def setting(scale):
    """The stand-alone config of `SPACE` at `scale` (`configs/standalone.py`), with `SIZES`."""
    from jaxnas.config import load_config

    root = Path(__file__).resolve().parents[1]
    variant = ",darts" if SPACE == "darts" else ""
    config = load_config(f"{root}/configs/standalone.py:{scale}{variant}")
    if SIZES:
        config.network.C, config.network.N = SIZES["C"], SIZES["N"]
        r = SIZES["resolution"]
        config.data.resolution, config.data.pad = r, max(1, r // 8)
    return config


def epoch_shape(scale):
    """(batch, steps per epoch, epochs) of the config at `scale`."""
    t = setting(scale).train
    return t.batch_size, TRAIN_IMAGES // t.batch_size, t.epochs


def cells(n):
    """The first `n` cells: NB201's 200 fixed evaluation cells, DARTS's seeded genotypes."""
    from jaxnas import spaces
    from jaxnas.evaluate.scoring import evaluation_archs
    from jaxnas.spaces.base import from_text
    from jaxnas.train import standalone

    space = spaces.get(SPACE)
    if ARCHS:
        return [space.to_str(from_text(space, a)) for a in ARCHS[:n]]
    if SPACE == "nb201":
        archs = space.from_index(evaluation_archs(200, seed=0)[:n])
    else:
        config = setting("mini")
        config.archs.num = n
        archs = standalone.select_archs(config, space)
    return [space.to_str(a) for a in archs]


def batch(scale, k, seed=0):
    """Random uint8 images `[k, B, R, R, 3]` and labels `[k, B]` at the config's batch B."""
    rng = np.random.default_rng(seed)
    r, b = setting(scale).data.resolution, epoch_shape(scale)[0]
    return (rng.integers(0, 256, (k, b, r, r, 3), dtype=np.uint8),
            rng.integers(0, 10, (k, b)).astype(np.int32))


def jax_setup(scale):
    from jaxnas import spaces
    from jaxnas.train import standalone, standalone_step as sstep

    config = setting(scale)
    space = spaces.get(SPACE)
    network = sstep.network_for(space, standalone.net_config(config))
    _, spe, epochs = epoch_shape(scale)
    tx, _ = sstep.optimizer(config.optim, spe * epochs)
    return space, network, tx, config.data.pad


def timed(step, steps, warmup, sync):
    """(first call seconds, median seconds of `steps` calls after `warmup`)."""
    t = time.perf_counter()
    sync(step())
    first = time.perf_counter() - t
    times = []
    for i in range(warmup + steps):
        t = time.perf_counter()
        sync(step())
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return first, float(np.median(times))


def summary(worker, scale, k, first, median, **extra):
    per_cell_step = median / k
    batch_size, spe, epochs = epoch_shape(scale)
    cell_s = per_cell_step * spe * epochs
    return dict(worker=worker, space=SPACE, scale=scale, k=k, compile_s=first,
                median_step_s=median, images_per_s=k * batch_size / median,
                seconds_per_cell_step=per_cell_step,
                cells_per_cpu_hour=3600 / cell_s, hours_per_cell=cell_s / 3600,
                peak_mib=peak_mib(), **extra)


def run_stack(scale, k, n_cells, steps, warmup, loop="vmap"):
    del n_cells
    import jax

    from jaxnas.train import standalone, standalone_step as sstep

    space, network, tx, pad = jax_setup(scale)
    names = cells(k)
    archs = np.stack([space.from_str(n) for n in names])
    init = sstep.make_init(network, tx)
    step = sstep.make_train_step(network, tx, pad=pad, loop=loop)
    state = init(archs, sstep.cell_keys(0, [standalone.cell_code(space, a) for a in archs]), 0)
    x, y = jax.device_put(batch(scale, k))
    t = time.perf_counter()
    memory = step.lower(state, x, y).compile().memory_analysis()
    compile_s = time.perf_counter() - t  # the first call below then runs the compiled step
    holder = [state]

    def one():
        holder[0], m = step(holder[0], x, y)
        return m

    first, median = timed(one, steps, warmup, jax.block_until_ready)
    return summary(f"stack_{loop}", scale, k, compile_s + first, median,
                   backend=jax.default_backend(),
                   xla_buffers_mib=(memory.temp_size_in_bytes + memory.argument_size_in_bytes
                                    + memory.output_size_in_bytes) / 2**20)


def static_network(scale, arch):
    """The stand-alone network of `arch` with its ops fixed at trace time: the runtime-array
    network's own code (`jaxnas.supernet`) with each edge calling its op directly, so neither
    conditionals nor `none` edges are traced; JAX differentiates the ops."""
    import dataclasses

    import jax
    import jax.numpy as jnp

    from jaxnas.supernet import darts, nb201, ops, pools
    from jaxnas.train import standalone, standalone_step as sstep

    net_cfg = standalone.net_config(setting(scale))
    if SPACE == "nb201":
        cfg = dataclasses.replace(net_cfg, slots_per_cell=6).resolved()
        sharing = jnp.asarray(pools.vanilla_sharing(cfg.N))
        branches = ops._branches(cfg.conv_impl, None)
        archs = np.broadcast_to(arch, (cfg.num_cells, 6))

        def apply(params, _, x):
            def edge(op, x, w1, w3):
                return branches[int(op)](x, w1, w3)
            return nb201._cells_and_head(params, nb201.stem(params, x), archs, sharing, None,
                                         (None, None), (edge, None), cfg, None, 0)
        return sstep.Network(lambda key: nb201.init(key, cfg), apply)

    cfg = dataclasses.replace(net_cfg, slots_per_cell=darts.NUM_EDGES)
    sharing = np.asarray(darts.vanilla_sharing(cfg))
    archs = np.asarray(darts.cell_archs(arch, cfg))

    def cell(s0, s1, ops_, weights, p, reduction):
        states = [darts._preprocess(s0, p["pre0"], None), darts._preprocess(s1, p["pre1"], None)]
        for to in range(2, 6):
            total = 0.0
            for e, (dst, src) in enumerate(darts.EDGES):
                if dst == to and ops_[e] != 0:
                    f = darts._branches(2 if reduction and src < 2 else 1, None)[ops_[e]]
                    total = total + f(states[src], jax.tree.map(lambda a: a[e], weights))
            states.append(total)
        return jnp.concatenate(states[2:], axis=-1)

    def apply(params, _, x):
        h = darts.ops.bn(darts.ops.conv(x, params["stem"]["w"], padding=1),
                         params["stem"]["bn"], None)
        s0 = s1 = h
        for i, (_, reduction, _, _, _, group, _) in enumerate(cfg.cells):
            weights = {op: {n: a[sharing[i, :, darts.OPS.index(op)]] for n, a in arrays.items()}
                       for op, arrays in params["pools"][group].items()}
            s0, s1 = s1, cell(s0, s1, archs[i], weights, params["cells"][i], reduction)
        return jnp.mean(s1, axis=(1, 2)) @ params["head"]["w"] + params["head"]["b"]
    return sstep.Network(lambda key: darts.init(key, cfg), apply)


def run_alone(scale, k, n_cells, steps, warmup, static=False):
    del k
    import jax

    from jaxnas.train import standalone, standalone_step as sstep

    space, network, tx, pad = jax_setup(scale)
    one = jax.jit(sstep.network_step(network, tx, pad=pad), donate_argnums=(0, 1))
    init = sstep.make_init(network, tx)
    x, y = batch(scale, 1)
    x, y = jax.device_put((x[0], y[0]))
    firsts, medians, hashes = [], [], []
    for name in cells(n_cells):
        arch = space.from_str(name)
        if static:
            network = static_network(scale, arch)
            one = jax.jit(sstep.network_step(network, tx, pad=pad), donate_argnums=(0, 1))
            init = sstep.make_init(network, tx)
        s = init(arch[None], sstep.cell_keys(0, [standalone.cell_code(space, arch)]), 0)
        holder = [jax.tree.map(lambda a: a[0], (s.params, s.opt_state, s.keys))]
        arch = jax.numpy.asarray(arch)

        def step():
            params, opt_state, keys = holder[0]
            params, opt_state, m = one(params, opt_state, arch, keys, 0, x, y)
            holder[0] = (params, opt_state, keys)
            return m

        first, median = timed(step, steps, warmup, jax.block_until_ready)
        firsts.append(first)
        medians.append(median)
        hashes.append(state_hash(holder[0]))
    worker = "alone_static" if static else "alone"
    worker += "_glibc_malloc" if os.environ.get("JAXNAS_KEEP_MALLOC") == "1" else ""
    return summary(worker, scale, 1, firsts[0],
                   float(np.mean(medians)), backend=jax.default_backend(), cells=n_cells,
                   per_cell_compile_s=firsts, per_cell_median_step_s=medians,
                   final_state_sha256=hashes)


def state_hash(tree):
    """sha256 (hex, 16 digits) of a pytree's leaves' bytes."""
    import jax

    h = hashlib.sha256()
    for leaf in jax.tree.leaves(tree):
        h.update(np.asarray(leaf).tobytes())
    return h.hexdigest()[:16]


def run_xautodl(scale, k, n_cells, steps, warmup):
    del k
    import torch
    from xautodl.models.cell_infers.tiny_network import TinyNetwork
    from xautodl.models.cell_searchs.genotypes import Structure

    torch.manual_seed(0)
    s = SCALES[scale]
    batch_size = epoch_shape(scale)[0]
    x = torch.randn(batch_size, 3, s["resolution"], s["resolution"])
    y = torch.randint(0, 10, (batch_size,))
    firsts, medians = [], []
    for name in cells(n_cells):
        net = TinyNetwork(s["C"], s["N"], Structure.str2structure(name), 10)
        opt = torch.optim.SGD(net.parameters(), 0.1, momentum=0.9, nesterov=True,
                              weight_decay=5e-4)

        def step():
            opt.zero_grad()
            _, logits = net(x)
            loss = torch.nn.functional.cross_entropy(logits, y)
            loss.backward()
            opt.step()
            return loss

        first, median = timed(step, steps, warmup, lambda v: v.item())
        firsts.append(first)
        medians.append(median)
    return summary("xautodl", scale, 1, firsts[0], float(np.mean(medians)),
                   torch=torch.__version__, threads=torch.get_num_threads(), cells=n_cells,
                   per_cell_median_step_s=medians)


WORKERS = {"stack_vmap": run_stack,
           "stack_map": lambda *a: run_stack(*a, loop="map"),
           "stack_unroll": lambda *a: run_stack(*a, loop="unroll"),
           "alone": run_alone, "alone_static": lambda *a: run_alone(*a, static=True),
           "alone_glibc_malloc": run_alone,
           "xautodl": run_xautodl}


def spawn(worker, scale, k, args):
    pin = ["taskset", "-c", str(args.core)] if args.core >= 0 else []
    cmd = pin + [sys.executable, __file__, "--worker", worker, "--space", SPACE, "--scale",
                 scale, "--k", str(k), "--cells", str(args.cells), "--steps", str(args.steps),
                 "--warmup", str(args.warmup)] + (["--archs", *ARCHS] if ARCHS else [])
    env = {**os.environ, **({"JAXNAS_KEEP_MALLOC": "1"} if worker.endswith("_glibc_malloc")
                            else {})}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode:
        lines = out.stderr.strip().splitlines() or [f"exit status {out.returncode}"]
        return dict(worker=worker, scale=scale, k=k, error=lines[-1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(r):
    if "error" in r:
        print(f"{r['scale']:5s} {r['worker']:12s} K={r['k']:<3d} failed: {r['error']}")
        return
    print(f"{r['scale']:5s} {r['worker']:12s} K={r['k']:<3d} compile {r['compile_s']:6.1f}s  "
          f"step {r['median_step_s'] * 1e3:8.1f} ms  {r['images_per_s']:6.0f} img/s  "
          f"{r['cells_per_cpu_hour']:7.2f} cells/CPU-h  peak {r['peak_mib']:6.0f} MiB", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--space", choices=("nb201", "darts"), default="nb201",
                   help="darts: genotypes in DARTS's search network (no PyTorch worker)")
    p.add_argument("--scale", choices=("mini", "paper", "both"), default="both")
    p.add_argument("--k", type=int, nargs="+", default=[8], help="stack sizes to time")
    p.add_argument("--loops", nargs="*", default=["vmap", "map"], choices=("vmap", "map", "unroll"),
                   help="stack loops to time (`standalone_step.make_train_step`)")
    p.add_argument("--cells", type=int, default=4, help="cells timed one at a time (mean)")
    p.add_argument("--steps", type=int, default=5, help="timed steps (median reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps after the first")
    p.add_argument("--rounds", type=int, default=1, help="alternate the workers this often")
    p.add_argument("--core", type=int, default=0,
                   help="pin each worker to this CPU core (taskset): cells per CPU-hour, and no "
                        "thread pool thrashing on a shared machine; -1: no pinning")
    p.add_argument("--archs", nargs="+", default=[],
                   help="the cells to time (the space's text form; NB201 also an index) instead "
                        "of the default ones")
    p.add_argument("--static", action="store_true",
                   help="also time `alone_static`: one program per cell, ops fixed at trace time")
    p.add_argument("--glibc-malloc", action="store_true",
                   help="also time `alone_glibc_malloc`: `alone` under glibc's default malloc")
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    p.add_argument("--out", help="also write the results as JSON here")
    args = p.parse_args()
    global SPACE
    SPACE = args.space
    ARCHS[:] = args.archs
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args.scale, args.k[0], args.cells, args.steps,
                                              args.warmup)))
        return
    workers = [(f"stack_{loop}", k) for loop in args.loops for k in args.k] + [("alone", 1)]
    workers += [("alone_static", 1)] if args.static else []
    workers += [("alone_glibc_malloc", 1)] if args.glibc_malloc else []
    if SPACE != "nb201":
        pass  # xautodl's networks are NB201's
    elif has_xautodl():
        workers.append(("xautodl", 1))
    else:
        print("torch/xautodl not installed: jaxnas only", file=sys.stderr)
    scales = ("mini", "paper") if args.scale == "both" else (args.scale,)
    results, best = [], []
    for scale in scales:
        rates = {w: [] for w in workers}
        for _ in range(args.rounds):
            for worker, k in workers:
                r = spawn(worker, scale, k, args)
                report(r)
                results.append(r)
                if "error" not in r:
                    rates[worker, k].append(r["cells_per_cpu_hour"])
        medians = {f"{w}_k{k}": float(np.median(v)) for (w, k), v in rates.items() if v}
        batch_size, spe, epochs = epoch_shape(scale)
        best.append(dict(space=SPACE, scale=scale, epochs=epochs, batch=batch_size,
                         steps_per_epoch=spe, rounds=args.rounds,
                         cells_per_cpu_hour_median=medians))
        print(f"{scale}: cells per hour (median of {args.rounds} rounds, {epochs} "
              f"epochs): " + ", ".join(f"{n} {v:.2f}" for n, v in medians.items()), flush=True)
        hashes = {tuple(r["final_state_sha256"]) for r in results if r.get("scale") == scale
                  and r["worker"] in ("alone", "alone_glibc_malloc") and "error" not in r}
        if args.glibc_malloc and hashes:
            best[-1]["same_final_state_across_malloc"] = len(hashes) == 1
            print(f"{scale}: final parameters with and without keep_freed_memory "
                  f"{'bit for bit the same' if len(hashes) == 1 else 'DIFFER'}", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(dict(command=" ".join([os.path.basename(sys.executable)] + sys.argv),
                           cpus=os.cpu_count(), results=results, summary=best), f, indent=1)


if __name__ == "__main__":
    main()
