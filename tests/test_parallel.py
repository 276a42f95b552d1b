"""Data parallelism (`jaxnas.parallel`): sharded steps, scoring over devices, checkpoints across
device counts, two processes as one.

Several devices need `XLA_FLAGS=--xla_force_host_platform_device_count=N` before JAX starts, and
this session's JAX has already started with one device, so the multi-device checks run in
subprocesses: this file is also their script (`python tests/test_parallel.py WORKER ARGS`),
which prints one JSON line of results for the test to check.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve()
STEPS, EPOCHS, BATCH = 3, 2, 8


def _env(devices):
    flags = [f for f in os.environ.get("XLA_FLAGS", "").split()
             if not f.startswith("--xla_force_host_platform_device_count")]
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               XLA_FLAGS=" ".join(flags + [f"--xla_force_host_platform_device_count={devices}"]),
               PYTHONPATH=os.pathsep.join([str(HERE.parent), str(HERE.parents[1]),
                                           os.environ.get("PYTHONPATH", "")]))
    for key in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        env.pop(key, None)
    cache = _compilation_cache()
    if cache:  # the session's compilation cache (conftest.py): compile each program once
        env.update(JAX_COMPILATION_CACHE_DIR=cache,
                   JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0.5")
    return env


def _compilation_cache():
    import jax

    return jax.config.jax_compilation_cache_dir


def _start(worker, devices, *args, env=()):
    return subprocess.Popen([sys.executable, str(HERE), worker, *map(str, args)],
                            env=dict(_env(devices), **dict(env)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _result(proc, timeout=900):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-4000:]
    return json.loads(out.strip().splitlines()[-1])


def _run(worker, devices, *args):
    return _result(_start(worker, devices, *args))


# ------------------------------------------------------------------------------------------------
# Workers (run in a subprocess with several virtual CPU devices).


def _tiny_config(techniques=()):
    from jaxnas.train import defaults

    c = defaults.base_config(techniques)
    c.supernet.C, c.supernet.N, c.data.resolution, c.data.pad = 4, 1, 8, 1
    c.train.epochs, c.train.batch_size = EPOCHS, BATCH
    if techniques:  # CLOSE: a second block arrives in epoch 2
        c.supernet.slots_per_cell = c.close.k_max = 2
        c.close.cl_schedule = (1, 2)
        c.close.gate.gcn_out_dims, c.close.gate.mlp_dims = (16, 16), (16,)
        c.close.gate.op_emb_dim = c.close.gate.node_emb_dim = c.close.gate.hid_dim = 8
    return c


def _recipe(config):
    from jaxnas.train import recipe as recipe_lib
    from jaxnas.train.technique import Run

    net_cfg = recipe_lib.supernet_config(config)
    return recipe_lib.build(config, Run(config, net_cfg, STEPS, STEPS * EPOCHS))


def _recording(tx):
    """`tx`, then a piece whose state keeps the architecture of every step (`[steps, 6]`)."""
    import jax.numpy as jnp
    import optax

    def init(params):
        del params
        return jnp.zeros((STEPS * EPOCHS, 6), jnp.int32)

    def update(updates, state, params=None, *, arch, step, **extra):
        del params, extra
        return updates, state.at[step].set(arch)
    return optax.chain(tx, optax.GradientTransformationExtraArgs(init, update))


def _train(recipe, step, init, mesh):
    """EPOCHS x STEPS steps on fixed random batches from the state `init()`, on `mesh` (None:
    one device)."""
    from jaxnas import parallel

    rng = np.random.default_rng(0)
    state = parallel.replicate(init(), mesh)
    for epoch in range(1, EPOCHS + 1):
        state, step_args, _ = recipe.epoch_start(state, epoch)
        state, step_args = parallel.replicate((state, step_args), mesh)
        for _ in range(STEPS):
            images = rng.integers(0, 256, (BATCH, 8, 8, 3), dtype=np.uint8)
            labels = rng.integers(0, 10, (BATCH,)).astype(np.int32)
            if mesh is not None:
                images, labels = parallel.to_global(mesh, BATCH, images, labels)
            state, _ = step(state, images, labels, step_args)
    return state


def _max_diff(a, b):
    import jax

    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y))))
               for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _shards_equal(x):
    shards = [np.asarray(s.data) for s in x.addressable_shards]
    return len(shards), all(np.array_equal(shards[0], s) for s in shards)


def worker_spos(devices, batch_norm):
    """SPOS: one device vs the mesh. Global BN: the same numbers. Per-device BN: the numbers of
    one device normalising each device's part of the batch on its own."""
    import jax
    import jax.numpy as jnp

    from jaxnas import parallel
    from jaxnas.spaces import NB201
    from jaxnas.train import samplers, state as state_lib, step as step_lib

    config = _tiny_config()
    recipe = _recipe(config)
    tx = _recording(recipe.tx)
    forward = step_lib.supernet_forward(recipe.run.net_cfg)
    make = lambda fwd: step_lib.make_train_step(  # noqa: E731
        fwd, tx, samplers.make(config.sampler, NB201), pad=config.data.pad)
    init = lambda: state_lib.create(recipe.init().params, tx, config.seed)  # noqa: E731
    devices = int(devices)
    mesh = parallel.make_mesh(devices)
    single = _train(recipe, make(forward), init, None)
    sharded_step = make(forward).on_mesh(mesh, batch_norm)
    sharded = _train(recipe, sharded_step, init, mesh)
    archs = sharded.opt_state[-1]
    out = {"vs_single": _max_diff(single.params, sharded.params),
           "compilations": sharded_step._cache_size(),
           "distinct_archs": len({tuple(a) for a in np.asarray(archs).tolist()}),
           "archs_as_single": bool(np.array_equal(archs, single.opt_state[-1])),
           "arch_shards": _shards_equal(archs),
           "param_shards": _shards_equal(sharded.params["supernet"]["stem"]["w"]),
           "replicated": all(x.sharding.is_fully_replicated for x in jax.tree.leaves(sharded))}
    if batch_norm == "per_device":
        def parts(params, arch, x, key, step_args):  # per-device BN, on one device
            return jnp.concatenate([forward(params, arch, part, key, step_args)
                                    for part in jnp.split(x, devices)])
        reference = _train(recipe, make(parts), init, None)
        out["vs_reference"] = _max_diff(reference.params, sharded.params)
    print(json.dumps(out))


def worker_close(devices):
    """CLOSE (gate, blocks added at epoch 2, masked optimizer): one device vs the mesh."""
    from jaxnas import parallel

    recipe = _recipe(_tiny_config(("close",)))
    mesh = parallel.make_mesh(int(devices))
    single = _train(recipe, recipe.train_step, recipe.init, None)
    sharded_step = recipe.train_step.on_mesh(mesh)
    sharded = _train(recipe, sharded_step, recipe.init, mesh)
    print(json.dumps({"global_vs_single": _max_diff(single.params, sharded.params),
                      "opt_state_diff": _max_diff(single.opt_state, sharded.opt_state),
                      "compilations": sharded_step._cache_size()}))


def worker_scoring(devices):
    """Scores of 7 cells (a duplicate, cells that prune alike) on the mesh and on one device,
    with one shared sharing map and with one map per cell."""
    import jax

    from jaxnas import parallel
    from jaxnas.evaluate import scoring
    from jaxnas.spaces.nb201 import str_to_arch
    from jaxnas.supernet import nb201, pools

    cfg = nb201.SupernetConfig(C=4, N=1, slots_per_cell=6)
    params = nb201.init(jax.random.key(0), cfg)
    rng = np.random.default_rng(0)
    archs = rng.integers(0, 5, (7, 6)).astype(np.int32)
    archs[3] = archs[0]
    archs[5] = str_to_arch("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|")
    images = rng.integers(0, 256, (40, 8, 8, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, (40,)).astype(np.int32)
    mesh = parallel.make_mesh(int(devices))
    per_cell = np.stack([pools.vanilla_sharing(1) if i % 2 else pools.cell_sharing(1)
                         for i in range(len(archs))])
    out = {}
    for name, sharing in (("shared", pools.vanilla_sharing(1)), ("per_cell", per_cell)):
        got = [scoring.score_archs(params, archs, images, labels, cfg=cfg, sharing=sharing,
                                   batch_size=20, progress=False, mesh=m)
               for m in (None, mesh)]
        out[name] = {"acc_equal": bool(np.array_equal(got[0]["acc"], got[1]["acc"])),
                     "loss_diff": float(np.max(np.abs(got[0]["loss"] - got[1]["loss"]))),
                     "acc": got[1]["acc"].tolist()}
    print(json.dumps(out))


def _loop_config(folder, cache):
    from jaxnas.train import defaults

    c = defaults.base_config()
    c.data.source, c.data.cache_dir = folder, cache
    c.data.resolution, c.data.pad = 8, 1
    c.supernet.C, c.supernet.N = 4, 1
    c.train.epochs, c.train.batch_size, c.train.checkpoint_every_minutes = 2, 20, 0.0
    c.lock()
    return c


def _train_loop(folder, cache, workdir, mode):
    """`loop.train` of the 2-epoch run in `workdir`: "new", "resume", or "cut" (interrupted
    when the second epoch starts, after the first epoch's checkpoint)."""
    from jaxnas import parallel
    from jaxnas.train import loop

    config = _loop_config(folder, cache)
    if mode == "skewed":  # time-based saves while process 1's clock stands still
        from jaxnas.train import checkpoint

        config.train.checkpoint_every_minutes = 1e-9
        checkpoint.Checkpointer.SYNC_STEPS = 2
        if os.environ["JAX_PROCESS_ID"] == "1":  # (JAX may not start before the hosts join)
            checkpoint.time = type("FrozenClock", (), {"monotonic": staticmethod(lambda: 0.0)})
        mode = "new"
    if mode != "cut":
        return loop.train(config, workdir, resume=mode == "resume", progress=False)
    sharded_batches = parallel.sharded_batches

    def interrupted(*args, epoch, **kwargs):
        if epoch == 1:
            raise KeyboardInterrupt
        return sharded_batches(*args, epoch=epoch, **kwargs)
    parallel.sharded_batches = interrupted
    try:
        loop.train(config, workdir, progress=False)
    except KeyboardInterrupt:
        return None
    finally:
        parallel.sharded_batches = sharded_batches
    raise AssertionError("the run was not interrupted")


def worker_train(folder, cache, workdir, mode):
    """`_train_loop` on this process's devices (and hosts, from the environment)."""
    import jax

    record = _train_loop(folder, cache, workdir, mode)
    print(json.dumps({"record": record, "process": jax.process_index()}))


# ------------------------------------------------------------------------------------------------
# Tests.


def test_sharded_spos_step_equals_one_device():
    r = _run("worker_spos", 4, 4, "global")
    # Global BN (the default): XLA reduces over the global batch, as one device does.
    assert r["vs_single"] < 1e-5
    # One compilation for 6 steps over several architectures; every device used the
    # architecture one device samples, and holds the same state.
    assert r["compilations"] == 1 and r["distinct_archs"] > 1
    assert r["archs_as_single"]
    assert r["arch_shards"] == [4, True] and r["param_shards"] == [4, True]
    assert r["replicated"]


def test_per_device_batch_norm():
    r = _run("worker_spos", 4, 4, "per_device")
    # Each device normalises its quarter of the batch, as one device doing quarters does; a
    # different computation from global BN.
    assert r["vs_reference"] < 1e-5
    assert r["vs_single"] > 1e-3
    assert r["compilations"] == 1 and r["archs_as_single"] and r["replicated"]


@pytest.mark.slow  # CI shards the SPOS step; the state is replicated whatever the technique
def test_sharded_close_step_equals_one_device():
    r = _run("worker_close", 4, 4)
    assert r["global_vs_single"] < 1e-5 and r["opt_state_diff"] < 1e-5
    assert r["compilations"] == 1


def test_scoring_over_devices_equals_one_device():
    r = _run("worker_scoring", 4, 4)
    for name in ("shared", "per_cell"):
        assert r[name]["acc_equal"], name
        assert r[name]["loss_diff"] < 1e-5, name
    assert len(set(r["shared"]["acc"])) > 1  # the cells do score differently


@pytest.fixture(scope="module")
def one_device_run(tiny_folder, tmp_path_factory):
    """An uninterrupted 2-epoch run on this session's single device: its final parameters."""
    root = tmp_path_factory.mktemp("parallel")
    _train_loop(str(tiny_folder), str(root / "cache"), root / "one", "new")
    return root, _final_params(root / "one")


def _final_params(workdir):
    import jax

    from jaxnas.train.open_run import load_config as load_run_config, restore_latest
    from jaxnas.train import recipe as recipe_lib

    config = load_run_config(workdir)
    recipe = recipe_lib.from_config(config, data=False, steps_per_epoch=3)
    return [np.asarray(x) for x in jax.tree.leaves(restore_latest(workdir, recipe).params)]


def _close(a, b):
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


def test_checkpoints_resume_across_device_counts(one_device_run, tiny_folder):
    """Interrupted on 1 device, resumed on 2, and the reverse (with `parallel.num_devices=0`
    the config is the same): both end with the uninterrupted run's parameters."""
    root, expected = one_device_run
    args = (str(tiny_folder), str(root / "cache"))
    _train_loop(*args, root / "one_to_two", "cut")
    _run("worker_train", 2, *args, root / "one_to_two", "resume")
    assert _close(_final_params(root / "one_to_two"), expected) < 1e-5
    _run("worker_train", 2, *args, root / "two_to_one", "cut")
    record = _train_loop(*args, root / "two_to_one", "resume")
    assert record["devices"] == 1 and record["per_device_batch"] == 20
    lines = [json.loads(x) for x in (root / "two_to_one/metrics.jsonl").read_text().splitlines()]
    assert [(x["devices"], x["per_device_batch"]) for x in lines] == [(2, 10), (1, 20)]
    assert _close(_final_params(root / "two_to_one"), expected) < 1e-5


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _two_processes(root, tiny_folder, workdir, mode):
    """`worker_train` in two processes (2 CPU devices each, gloo collectives, a localhost
    coordinator) sharing `workdir`, each feeding its own half of every batch."""
    hosts = {"JAX_COORDINATOR_ADDRESS": f"localhost:{_free_port()}", "JAX_NUM_PROCESSES": "2"}
    procs = [_start("worker_train", 2, tiny_folder, root / "cache", workdir, mode,
                    env=dict(hosts, JAX_PROCESS_ID=str(i))) for i in range(2)]
    try:
        results = [_result(p, timeout=600) for p in procs]
    finally:
        for p in procs:  # one failed or hangs: do not leave the other waiting for it
            if p.poll() is None:
                p.kill()
    assert [r["process"] for r in results] == [0, 1]
    return results[0]["record"]


def test_two_processes_train_as_one(one_device_run, tiny_folder):
    """Two processes train as one process: the same parameters."""
    root, expected = one_device_run
    workdir = root / "two_hosts"
    record = _two_processes(root, tiny_folder, workdir, "new")
    assert (record["devices"], record["processes"], record["per_device_batch"]) == (4, 2, 5)
    assert len((workdir / "metrics.jsonl").read_text().splitlines()) == 2  # one writer
    assert _close(_final_params(workdir), expected) < 1e-5


@pytest.mark.slow  # beside other work gloo's fixed 30 s key-value deadline can expire first
def test_two_processes_agree_on_time_based_saves(one_device_run, tiny_folder):
    """Process 1's clock never reaches the save interval, process 0's always does: both follow
    process 0 (deciding separately, process 0 would wait in orbax's save for ever), saving
    mid-epoch at steps 2 and 4 beside the epoch ends 3 and 6 (the newest two are kept)."""
    from jaxnas.train import checkpoint

    root, expected = one_device_run
    workdir = root / "two_hosts_skewed"
    _two_processes(root, tiny_folder, workdir, "skewed")
    assert checkpoint.steps(workdir) == [6, 4]
    assert _close(_final_params(workdir), expected) < 1e-5


def test_config_errors():
    from jaxnas import parallel
    from jaxnas.errors import ConfigError
    from jaxnas.parallel import distributed
    from jaxnas.train import defaults

    with pytest.raises(ConfigError, match="only 1"):
        parallel.make_mesh(2)
    assert parallel.mesh_for(defaults.base_config()) is None  # one device: the plain path
    config = defaults.base_config()
    config.parallel.num_devices = 8
    with pytest.raises(ConfigError, match="only 1"):
        parallel.mesh_for(config)  # training on devices that are not there
    assert parallel.mesh_for(config, at_most_visible=True) is None  # scoring: those there are
    with pytest.raises(ConfigError, match="multiple of 4"):
        parallel.check_batch(10, _FakeMesh(4))
    config = defaults.base_config()
    config.parallel.batch_norm = "sync"
    with pytest.raises(ConfigError, match="batch_norm"):
        parallel.mesh_for(config)  # checked on one device too
    config = defaults.base_config()
    assert distributed._settings(config.parallel, {}) is None
    env = {"JAX_COORDINATOR_ADDRESS": "h:1", "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "1"}
    assert distributed._settings(config.parallel, env) == dict(
        coordinator_address="h:1", num_processes=2, process_id=1)
    config.parallel.coordinator = "auto"
    assert distributed._settings(config.parallel, env) == {}


class _FakeMesh:
    def __init__(self, size):
        self.size = size


if __name__ == "__main__":
    globals()[sys.argv[1]](*sys.argv[2:])
