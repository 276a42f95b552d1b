"""`jaxnas standalone`: train many cells as independent stand-alone networks, K at a time, and
write their ground-truth table.

The cells (`select_archs`) are split, in order, into stacks of K (`choose_k`: from memory when
not given; the last stack is padded with copies of its first cell, whose results are dropped, so
one compiled step serves every stack). Each stack trains for `train.epochs` on the training half
of the cifar10-valid split (`standalone_step`), then every network is evaluated on the held-out
half and the test set and its row joins `workdir/table.csv` (`groundtruth.STANDALONE_COLUMNS`).

A cell's initialisation, data order and augmentation depend only on `config.seed` and the cell
(`cell_code`), never on its stack: a network trained in a stack ends with the parameters it ends
with trained alone. Checkpoints are written at every epoch's end and every
`train.checkpoint_every_minutes` (and on Ctrl-C or SIGTERM); with `resume=True` finished cells are
read back from the table and the current stack restarts from its newest checkpoint, ending with
the result of an uninterrupted run. A network whose epoch loss is not finite stops the run
(DivergenceError), or with `train.on_divergence="record"` gets a row without accuracy (readers
skip it) while the others train on; a stack whose networks all diverged ends there. The
workdir holds config.json, run.json (K, steps per epoch), cells.txt (the cells in training
order), metrics.jsonl (one line per stack and epoch; with `train.eval_every_epochs` some lines
also hold each cell's held-out accuracy, its learning curve), table.csv and checkpoints/.

A DARTS search-network config (`network.kind="search"`, `standalone_config.
darts_search_config`) trains each genotype in DARTS's search network, the network the DARTS
supernet shares weights between, K genotypes a stack as NB201's cells (a ground truth for the
DARTS supernet, rows keyed by canonical Genotype text). A DARTS evaluation config
(`standalone_config.darts_config`) trains DARTS's evaluation network of each genotype, one
genotype per compiled program (K=1; `jaxnas final`), on the whole training split when
`data.split="full"`.
"""

import functools
import json
import os
import time
import zlib
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from tqdm.auto import tqdm

from jaxnas import config as config_lib, spaces
from jaxnas.data import cifar10_valid_split, load_dataset, num_batches
from jaxnas.errors import ArchError, CheckpointError, ConfigError, DivergenceError
from jaxnas.evaluate import groundtruth, scoring
from jaxnas.spaces.base import from_text
from jaxnas.supernet import darts, darts_eval, nb201
from jaxnas.train import checkpoint, standalone_config as sconfig, standalone_step as sstep
from jaxnas.train import workdir as workdir_lib

TABLE, CELLS, RUN, METRICS = "table.csv", "cells.txt", "run.json", "metrics.jsonl"
BAR = "{l_bar}{bar}| {n:.1f}/{total_fmt} cell-epochs [{elapsed}<{remaining}{postfix}]"
FIXED_EVAL_CELLS = 200
TEST_ORDER_SEED = 0  # `jaxnas evaluate`'s default evaluation set (seed 0)


# -- which cells -------------------------------------------------------------------------------

def read_arch_file(path, space):
    """Cells listed in a text file: one architecture string or official index per line
    (blank lines and `#` comments skipped); ArchError naming the line, ConfigError for a
    missing file or a cell listed twice."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"architecture file not found: {path}")
    archs, where = [], {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            arch = from_text(space, text)
        except (ArchError, IndexError, ValueError) as error:
            raise ArchError(f"{path} line {number}: {error}") from None
        name = space.to_str(arch)
        if name in where:
            raise ConfigError(f"{path}: cell {name} is on lines {where[name]} and {number}")
        where[name] = number
        archs.append(np.asarray(arch, np.int32))
    if not archs:
        raise ConfigError(f"architecture file {path} lists no cell")
    return np.stack(archs)


def select_archs(config, space):
    """The cells to train, in training order, int32 `[M, *arch_shape]`.

    From `archs.file`, or `archs.num` non-isomorphic cells: in NB201, `jaxnas evaluate`'s fixed
    sample of `min(num, 200)` cells under `archs.seed` (seed 0: the 200 cells every ranking in
    jaxnas reports) followed by further class representatives drawn with `archs.seed`; in
    another space, `num` distinct canonical cells drawn with `archs.seed`.
    """
    a = config.archs
    if a.file:
        return read_arch_file(a.file, space)
    if space.name == "nb201":
        first = scoring.evaluation_archs(min(a.num, FIXED_EVAL_CELLS), seed=a.seed)
        reps = np.setdiff1d(spaces.nb201.unique_indices(), first)
        if a.num - first.size > reps.size:
            raise ConfigError(f"config key 'archs.num' is {a.num}; allowed: at most "
                              f"{first.size + reps.size} (the non-isomorphic cells)")
        rest = np.random.default_rng([a.seed, 1]).choice(reps, a.num - first.size, replace=False)
        return space.from_index(np.concatenate([first, rest]).astype(np.int64))
    rng = np.random.default_rng(a.seed)
    found = {}
    for _ in range(100):
        for arch in space.canonical(space.sample_np(rng, a.num, unique=True)):
            found.setdefault(space.to_str(arch), arch)
        if len(found) >= a.num:
            return np.stack(list(found.values())[:a.num]).astype(np.int32)
    raise ConfigError(f"space {space.name} gave only {len(found)} distinct cells for "
                      f"archs.num={a.num}")


def cell_code(space, arch):
    """A cell's 32-bit code (CRC-32 of its string): its keys and data order derive from it."""
    return zlib.crc32(space.to_str(arch).encode())


def data_order(seed, code, epoch, n):
    """A network's example order in `epoch`: a function of (seed, cell, epoch) only."""
    return np.random.default_rng([seed, code, epoch]).permutation(n)


# -- how many at once --------------------------------------------------------------------------

def available_memory():
    """Bytes free on the default device: an accelerator's limit less its use, else the host's
    available memory (Linux `MemAvailable`, else free pages)."""
    stats = jax.devices()[0].memory_stats() if jax.default_backend() != "cpu" else None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def step_bytes(train_step, init, arch_shape, batch, image_shape):
    """Memory one network's step takes: XLA's compiled buffers (arguments, outputs, temporaries)
    of the step at K=1 (compiled for the estimate only; an upper bound per network)."""
    archs = jax.ShapeDtypeStruct((1, *arch_shape), jnp.int32)
    keys = jax.ShapeDtypeStruct((1, 2), jnp.uint32)
    state = jax.eval_shape(init, archs, keys, 0)
    images = jax.ShapeDtypeStruct((1, batch, *image_shape), jnp.uint8)
    labels = jax.ShapeDtypeStruct((1, batch), jnp.int32)
    m = train_step.lower(state, images, labels).compile().memory_analysis()
    return int(m.temp_size_in_bytes + m.argument_size_in_bytes + m.output_size_in_bytes)


def choose_k(config, num_cells, per_network=None, free=None, loop="vmap"):
    """Networks per stack: `train.k` when set, else as many as `train.memory_fraction` of the
    free memory holds at `per_network` bytes each; at most `train.max_k` and `num_cells`.
    With the CPU's `unroll` loop, 1: a stack of 4 trained no faster per network than one
    alone (`experiments/results/bench_standalone_mini.json`: 94-98 against 100 ms per
    network-step) and compiled 2.5-4.5x longer (20-35 s against 7-8 s)."""
    t = config.train
    if t.k:
        return min(t.k, num_cells)
    if loop == "unroll":
        return 1
    k = int(t.memory_fraction * free // max(1, per_network))
    return max(1, min(k, t.max_k, num_cells))


# -- the run -----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def programs(space_name, net_cfg, optim, total_steps, pad, flip, loop="auto", arch=None,
             cutout=0, training=()):
    """`(init, train_step, eval_step, schedule)` of networks of `space_name` at `net_cfg`
    trained `total_steps` with the optimizer settings `optim` (a tuple of items), kept for the
    process: a second run (a resume, a benchmark) reuses the compiled steps. DARTS's evaluation
    network (an `EvalConfig`) is one genotype's (`arch`, its text) with its `training` settings
    (items of `standalone_step.darts_network`'s keywords) and `cutout`."""
    network = sstep.network_for(spaces.get(space_name), net_cfg, arch, **dict(training))
    tx, schedule = sstep.optimizer(ml_collections.ConfigDict(dict(optim)), total_steps)
    return (sstep.make_init(network, tx),
            sstep.make_train_step(network, tx, pad=pad, flip=flip, loop=loop, cutout=cutout),
            sstep.make_eval_step(network, loop), schedule)


def net_config(config):
    """The static network config of a stand-alone config: NB201's supernet config, the DARTS
    search network's `darts.SupernetConfig` or the DARTS evaluation network's
    `darts_eval.EvalConfig` (`standalone_config.config_type`)."""
    n = config.network
    ctype = sconfig.config_type(config)
    if ctype == "darts_search":
        return darts.SupernetConfig(C=n.C, layers=n.layers, num_classes=n.num_classes)
    if ctype == "darts":
        return darts_eval.EvalConfig(C=n.C, layers=n.layers, num_classes=n.num_classes,
                                     auxiliary=n.auxiliary)
    return nb201.SupernetConfig(**n.to_dict())


def programs_of(config, steps_per_epoch, arch=None):
    """`programs` for `config` with `steps_per_epoch` (DARTS's evaluation network: for the
    genotype `arch`)."""
    extra = {}
    if sconfig.per_genotype(config):
        n = config.network
        training = dict(auxiliary_weight=float(n.auxiliary_weight),
                        drop_path_prob=float(n.drop_path_prob),
                        steps_per_epoch=steps_per_epoch, epochs=config.train.epochs)
        extra = dict(arch=spaces.get("darts").to_str(arch), cutout=config.data.cutout,
                     training=tuple(sorted(training.items())))
    return programs(config.space, net_config(config),
                    tuple(sorted(config.optim.to_dict().items())),
                    steps_per_epoch * config.train.epochs, config.data.pad, config.data.flip,
                    config.train.loop, **extra)


def load_splits(config, progress=True):
    """(train half, held-out half, test set) of the cifar10-valid protocol at the config's
    resolution, each `(uint8 images, int32 labels)`; with `data.split="full"` (DARTS's final
    training) the whole training split and an empty held-out part. The test set comes in a
    fixed seeded order, as the halves do: an image folder loads class by class, and evaluation
    batches normalise with their own statistics, so every batch must mix the classes."""
    d = config.data
    data = load_dataset(d.source, resolution=d.resolution, cache_dir=d.cache_dir or None,
                        progress=progress)
    if d.get("split", "valid") == "full":
        n = len(data.train_labels)
        train_idx = np.random.default_rng(TEST_ORDER_SEED).permutation(n)
        valid_idx = train_idx[:0]
    else:
        train_idx, valid_idx = cifar10_valid_split(data.train_labels)
    if d.get("train_subset", 0):  # a seeded subset (the halves are in class order)
        train_idx = np.sort(np.random.default_rng(TEST_ORDER_SEED).permutation(
            train_idx)[:d.train_subset])
    test_idx = np.random.default_rng(TEST_ORDER_SEED).permutation(len(data.test_labels))
    return ((data.train_images[train_idx], data.train_labels[train_idx]),
            (data.train_images[valid_idx], data.train_labels[valid_idx]),
            (data.test_images[test_idx], data.test_labels[test_idx]))


def _check_same(stored_json, config, workdir):
    stored = checkpoint.flatten(json.loads(stored_json))
    current = checkpoint.flatten(json.loads(config_lib.to_json(config)))
    for key in sorted(set(stored) | set(current)):
        if key in sconfig.RESUMABLE_KEYS or stored.get(key) == current.get(key):
            continue
        raise CheckpointError(f"{workdir} was written with a different config: {key} = "
                              f"{stored.get(key)!r} there, {current.get(key)!r} now")


def _prepare(config, workdir, names, resume):
    """Create or reopen `workdir`; returns `resume` (False when there is nothing yet)."""
    workdir.mkdir(parents=True, exist_ok=True)
    started = (workdir / CELLS).is_file()
    if resume and not started:
        workdir_lib.notice(f"nothing to resume in {workdir} yet: starting")
        resume = False
    if not resume and (started or checkpoint.steps(workdir)):
        raise CheckpointError(f"{workdir} already holds a stand-alone run; pass --resume or use "
                              f"a new workdir")
    if resume:
        _check_same((workdir / "config.json").read_text(), config, workdir)
        if (workdir / CELLS).read_text().splitlines() != names:
            raise CheckpointError(f"{workdir} trains other cells ({CELLS} differs from this "
                                  f"selection); use the same --archs or a new workdir")
    else:
        (workdir / "config.json").write_text(config_lib.to_json(config))
        (workdir / CELLS).write_text("".join(n + "\n" for n in names))
    return resume


def train(config, workdir, *, resume=False, progress=True, archs=None):
    """Train every selected cell of `config` stand-alone in `workdir` (or the cells `archs`,
    `[M, *arch_shape]`, given instead of the config's selection); returns a summary dict
    (cells, K, table path). See the module docstring."""
    sconfig.check(config)
    workdir = Path(workdir)
    with workdir_lib.WorkdirLock(workdir), workdir_lib.quiet_logging(workdir):
        return _train(config, workdir, resume, progress, archs)


def _train(config, workdir, resume, progress, archs=None):
    space = spaces.get(config.space)
    archs = select_archs(config, space) if archs is None else space.canonical(
        np.asarray(archs, np.int32))
    names = [space.to_str(a) for a in archs]
    resume = _prepare(config, workdir, names, resume)
    (train_x, train_y), valid, test = load_splits(config, progress)
    t = config.train
    spe = num_batches(len(train_x), t.batch_size)
    if spe < 1:
        raise ConfigError(f"config key 'train.batch_size' is {t.batch_size}; allowed: at most "
                          f"the {len(train_x)} training images")
    spg = spe * t.epochs  # steps per stack
    net_cfg = net_config(config)
    per_genotype = sconfig.per_genotype(config)  # its programs are one genotype's
    init, train_step, eval_step, schedule = programs_of(
        config, spe, archs[0] if per_genotype else None)

    run_file = workdir / RUN
    stored_k = json.loads(run_file.read_text()).get("k") if resume and run_file.is_file() else None
    if stored_k is not None and not t.k:
        k = int(stored_k)
    elif t.k:
        k = min(t.k, len(archs))
    elif sstep.resolved_loop(t.loop) == "unroll":
        k = choose_k(config, len(archs), loop="unroll")
    else:
        per = step_bytes(train_step, init, space.arch_shape, t.batch_size, train_x.shape[1:])
        k = choose_k(config, len(archs), per, available_memory())
    if stored_k is not None and k != stored_k:
        raise CheckpointError(f"{workdir} trains {stored_k} networks at once; train.k={t.k} "
                              f"now (use train.k={stored_k} or 0)")
    run_file.write_text(json.dumps({"k": k, "cells": len(archs), "steps_per_epoch": spe,
                                    "backend": jax.default_backend()}))

    done = {r["arch"]: r for r in groundtruth.read_standalone_rows(workdir / TABLE,
                                                                   diverged=True)} \
        if resume and (workdir / TABLE).is_file() else {}
    complexity = space.complexity(net_cfg, config.data.resolution)
    ckpt = checkpoint.Checkpointer(workdir, keep=t.keep_checkpoints,
                                   every_minutes=t.checkpoint_every_minutes)
    stacks = [list(range(lo, min(lo + k, len(archs)))) for lo in range(0, len(archs), k)]
    bar = tqdm(total=len(archs) * t.epochs, unit="cell-epoch", dynamic_ncols=True,
               disable=not progress, initial=len(done) * t.epochs, bar_format=BAR)
    live = [None]  # the stack's newest state (the step donates the previous one)

    last = [None, None]  # (step, result) of the newest held-out evaluation

    def held_out(state):
        """Each network's (loss, accuracy) on the held-out half, once per step: the last
        epoch's curve point and the table row share one evaluation."""
        if last[0] != int(state.step):
            last[:] = int(state.step), sstep.evaluate_stack(
                eval_step, state.params, state.archs, *valid, t.eval_batch_size)
        return last[1]
    try:
        with workdir_lib.sigterm_interrupts():
            for g, members in enumerate(stacks):
                if all(names[i] in done for i in members):
                    continue
                bar.set_postfix(stack=f"{g + 1}/{len(stacks)}")
                padded = members + [members[0]] * (k - len(members))
                if per_genotype:
                    init, train_step, eval_step, schedule = programs_of(config, spe,
                                                                        archs[members[0]])
                codes = [cell_code(space, archs[i]) for i in padded]
                state = init(archs[padded], sstep.cell_keys(config.seed, codes), g * spg)
                latest = ckpt.latest_step() if resume else None
                if latest is not None and g * spg < latest <= (g + 1) * spg:
                    # Restored arrays are committed to a device, the step's own are not: as
                    # they come, they would compile the step a second time.
                    state = jax.tree.map(lambda x: jnp.asarray(np.asarray(x)),
                                         ckpt.restore(state, report=workdir_lib.notice))
                    bar.update(len(members) * (int(state.step) - g * spg) / spe)
                live[0] = state
                state = _train_stack(live, g, len(members), codes, config, spe, train_x,
                                     train_y, train_step, schedule, ckpt, bar, workdir, names,
                                     padded, held_out)
                rows = _rows(state, members, archs, names, space, complexity, eval_step,
                             held_out, test, config, spe)
                done.update({r["arch"]: r for r in rows})
                groundtruth.write_standalone_table(
                    [done[n] for n in names if n in done], workdir / TABLE)
                live[0] = None
    except KeyboardInterrupt:
        _save_on_interrupt(ckpt, live[0])
        raise
    finally:
        bar.close()
        ckpt.close()
    return {"cells": len(archs), "k": k, "stacks": len(stacks), "epochs": t.epochs,
            "table": str(workdir / TABLE)}


def _save_on_interrupt(ckpt, state):
    """Checkpoint the newest state at an interrupt, unless the interrupt landed inside a step
    (which took the state's buffers) or inside a save (whose step is half written): then
    `--resume` continues from the newest intact checkpoint, which a notice names."""
    if state is None:
        return
    if _donated(state):
        workdir_lib.notice(f"interrupted inside a step; --resume continues from the newest "
                           f"checkpoint (step {ckpt.latest_step()})")
        return
    try:
        ckpt.save(state)
    except CheckpointError as error:
        workdir_lib.notice(f"interrupted inside a save: {error}; --resume continues from it")


def _donated(state):
    """Whether a step took (donated) `state`'s buffers: an interrupt that lands inside the step
    call leaves the loop holding a state it can no longer save."""
    return any(x.is_deleted() for x in jax.tree.leaves(state) if isinstance(x, jax.Array))


def _train_stack(live, g, real, codes, config, spe, train_x, train_y, train_step, schedule,
                 ckpt, bar, workdir, names, padded, held_out):
    """Train one stack from `live[0]` to its last step, keeping `live[0]` the newest state (an
    interrupt saves it); returns that state, its `sums` the last epoch's. Every
    `train.eval_every_epochs` epochs, the epoch's metrics line also holds each network's
    `held_out(state)` loss and accuracy."""
    state = live[0]
    t = config.train
    diverged = set()  # cells whose training diverged (train.on_divergence="record")
    start = g * spe * t.epochs
    bs = t.batch_size
    local = int(state.step) - start
    for epoch in range(local // spe, t.epochs):
        skip = local - epoch * spe if epoch == local // spe else 0
        orders = np.stack([data_order(config.seed, c, epoch, len(train_x)) for c in codes])
        t0 = time.perf_counter()
        for b in range(skip, spe):
            if b == 0:
                state = live[0] = state._replace(sums=jnp.zeros_like(state.sums))
            idx = orders[:, b * bs:(b + 1) * bs]
            state, _ = train_step(state, train_x[idx], train_y[idx])
            live[0] = state
            bar.update(real / spe)
            step = start + epoch * spe + b + 1
            if b + 1 < spe and ckpt.due(step):
                ckpt.save(state)
        sums = np.asarray(jax.device_get(state.sums))[:real] / spe
        finite = ~_diverged(sums)
        bad = [names[padded[j]] for j in np.flatnonzero(~finite)]
        if bad and t.on_divergence == "stop":
            raise DivergenceError(f"stand-alone training of {bad[0]} diverged in epoch "
                                  f"{epoch + 1} (loss not finite); lower optim.lr, set "
                                  f"optim.clip, or train.on_divergence='record' to go on")
        for cell in sorted(set(bad) - diverged):
            workdir_lib.notice(f"stand-alone training of {cell} diverged in epoch {epoch + 1} "
                               f"(loss not finite): its row will have no accuracy")
        diverged.update(bad)
        seconds = time.perf_counter() - t0
        record = {"stack": g + 1, "cells": real, "epoch": epoch + 1, "step": int(state.step),
                  "lr": float(schedule((epoch + 1) * spe - 1)), "seconds": seconds,
                  "images_per_second": real * (spe - skip) * bs / seconds,
                  # over the networks still training (None when every one diverged)
                  "loss": float(sums[finite, 0].mean()) if finite.any() else None,
                  "acc": float(sums[finite, 1].mean()) if finite.any() else None}
        every = t.eval_every_epochs
        if every and (epoch + 1) % every == 0:
            v_loss, v_acc = (np.where(finite, v[:real], np.nan) for v in held_out(state))
            record.update(archs=[names[i] for i in padded[:real]],
                          valid_loss=[none_if_nan(v) for v in v_loss],
                          valid_acc=[none_if_nan(v) for v in v_acc])
        if bad:
            record["diverged"] = bad
        with open(workdir / METRICS, "a") as f:
            f.write(json.dumps(record) + "\n")
        ckpt.save(state)
        bar.set_postfix(stack=record["stack"], epoch=epoch + 1, loss="diverged"
                        if record["loss"] is None else f"{record['loss']:.3f}")
        if not finite.any():  # nothing left to train in this stack
            bar.update(real * (t.epochs - epoch - 1))
            break
    return state


def _diverged(sums):
    """Which networks diverged, from their `[K, 2]` epoch loss and accuracy sums (not finite)."""
    return ~np.isfinite(sums).all(axis=1)


def none_if_nan(value):
    """A float, or None for NaN (a metric of an empty split: an empty table field)."""
    value = float(value)
    return None if np.isnan(value) else value


def _rows(state, members, archs, names, space, complexity, eval_step, held_out, test, config,
          spe):
    """The table rows of a finished stack's real networks."""
    real = len(members)
    bs = config.train.eval_batch_size
    train = np.asarray(jax.device_get(state.sums))[:real] / spe
    v_loss, v_acc = held_out(state)
    t_loss, t_acc = sstep.evaluate_stack(eval_step, state.params, state.archs, *test, bs)
    cplx = jax.device_get(complexity(jnp.asarray(archs[members])))
    has_index = space.size is not None
    indices = space.to_index(archs[members]) if has_index else [None] * real
    diverged = _diverged(train)
    rows = []
    for j, i in enumerate(members):
        rows.append({
            "arch": names[i], "index": None if indices[j] is None else int(indices[j]),
            "train_acc": float(train[j, 1]), "train_loss": float(train[j, 0]),
            "valid_acc": none_if_nan(v_acc[j]), "valid_loss": none_if_nan(v_loss[j]),
            "test_acc": float(t_acc[j]), "test_loss": float(t_loss[j]),
            "params": float(cplx["num_params"][j]), "flops": float(cplx["flops"][j]),
            "epochs": config.train.epochs, "seed": config.seed, "scale": sconfig.scale(config)})
        if diverged[j]:  # train.on_divergence="record": a row without accuracy
            rows[-1].update(dict.fromkeys(groundtruth.METRIC_COLUMNS))
    return rows
