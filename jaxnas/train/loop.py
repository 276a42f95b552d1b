"""The training loop: data, epochs, metrics log, progress bar, checkpoints and resume.

`train(config, workdir)` runs a whole experiment. Per epoch it appends a line to
`workdir/metrics.jsonl` and writes a checkpoint, and also every `train.checkpoint_every_steps`
steps and every `train.checkpoint_every_minutes` (so a kill loses at most that much); an interrupt
(Ctrl-C or SIGTERM) writes one at the current step before exiting. With `resume=True` the run
continues from the newest intact checkpoint (or starts, saying so, if there is none yet): the
data order depends only on (seed, epoch) and the step key on (seed, step), so the resumed run ends
with exactly the parameters of an uninterrupted one. One process at a time trains in a workdir
(`workdir.WorkdirLock`); library logs go to `workdir/jaxnas.log`.
"""

import contextlib
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from jaxnas import config as config_lib, parallel
from jaxnas.data import prefetch
from jaxnas.errors import CheckpointError, ConfigError, DivergenceError
from jaxnas.train.evaluation import training_evaluator
from jaxnas.train import checkpoint, defaults, recipe as recipe_lib, state as state_lib
from jaxnas.train import workdir as workdir_lib


def _prepare_workdir(config, workdir, resume):
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    config_file = workdir / "config.json"
    has_ckpt = bool(checkpoint.steps(workdir))
    if resume and not has_ckpt:
        workdir_lib.notice(f"no checkpoint in {workdir} yet: starting the run from step 0")
        resume = False
    if resume:
        if not config_file.is_file():
            raise CheckpointError(f"nothing to resume in {workdir}: no config.json there")
        checkpoint.check_compatible(config_file.read_text(), config, workdir)
    elif has_ckpt:
        raise CheckpointError(f"{workdir} already holds a run; pass --resume or use a new workdir")
    if parallel.is_primary():  # one writer in a multi-host run
        config_file.write_text(config_lib.to_json(config))
    return workdir, resume


def _log(path, record):
    if not parallel.is_primary():
        return
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def train(config, workdir, *, resume=False, progress=True):
    """Train the supernet described by `config` in `workdir`; returns the last epoch's metrics.

    Args:
      config: a ConfigDict from `base_config(techniques=...)` (see `configs/`); unknown keys are
        an error.
      workdir: output directory (config.json, run.json, metrics.jsonl, checkpoints/).
      resume: continue from the latest checkpoint in `workdir`.
      progress: show a progress bar.

    Every `config.eval.every_epochs` epochs the run's ranking quality (accuracy scorer on a fixed
    sample of cells or `eval.table`'s cells, landmarks excluded) goes into the metrics log.
    """
    defaults.check(config)
    parallel.initialize(config)  # joins the other hosts of a multi-host run, before JAX starts
    # The hosts of a multi-host run share the workdir; the first one holds its lock.
    lock = workdir_lib.WorkdirLock(workdir) if parallel.is_primary() else contextlib.nullcontext()
    with lock, workdir_lib.quiet_logging(workdir):
        return _train(config, workdir, resume, progress)


def _train(config, workdir, resume, progress):
    workdir, resume = _prepare_workdir(config, workdir, resume)
    recipe = recipe_lib.from_config(config, workdir=workdir, progress=progress)
    run = recipe.run
    train_x, train_y = run.train_data
    bs, steps_per_epoch = config.train.batch_size, run.steps_per_epoch
    mesh = parallel.mesh_for(config)  # None: one device, the plain path
    if mesh is not None:
        recipe = recipe._replace(train_step=recipe.train_step.on_mesh(
            mesh, config.parallel.batch_norm))
    devices = {"devices": mesh.size if mesh else 1, "processes": jax.process_count(),
               "per_device_batch": parallel.check_batch(bs, mesh)}
    if parallel.is_primary():
        (workdir / "run.json").write_text(json.dumps({"steps_per_epoch": steps_per_epoch,
                                                      **devices}))
    if steps_per_epoch < 1:  # known once the data is loaded
        raise ConfigError(f"config key 'train.batch_size' is {bs}; allowed: at most the "
                          f"{len(train_x)} training images (one step per epoch)")
    state = parallel.replicate(recipe.init(), mesh)
    evaluator = training_evaluator(recipe)
    skip_nonfinite = config.train.skip_nonfinite

    ckpt = checkpoint.Checkpointer(workdir, keep=config.train.keep_checkpoints,
                                   every_steps=config.train.checkpoint_every_steps,
                                   every_minutes=config.train.checkpoint_every_minutes)
    metrics_path = workdir / "metrics.jsonl"
    if resume:
        state = ckpt.restore(state, report=workdir_lib.notice, legacy=state_lib.before_space)
        if parallel.is_primary():
            workdir_lib.trim_metrics(metrics_path, int(state.step))
    start_step = int(state.step)
    bar = tqdm(total=run.total_steps, initial=start_step,
               disable=not (progress and parallel.is_primary()), unit="step",
               dynamic_ncols=True)
    record = {}
    watch = _Divergence(ckpt, skip_nonfinite, mesh)
    try:
        with workdir_lib.sigterm_interrupts():
            for epoch in range(start_step // steps_per_epoch, config.train.epochs):
                skip = int(state.step) - epoch * steps_per_epoch
                state, step_args, technique_log = recipe.epoch_start(state, epoch + 1)
                state, step_args = parallel.replicate((state, step_args), mesh)
                t0, count = time.perf_counter(), 0
                watch.sums = None  # the epoch's summed metrics
                data = parallel.sharded_batches(train_x, train_y, bs, seed=config.seed,
                                                epoch=epoch, start=skip, mesh=mesh)
                # On a mesh the batches are already device arrays, put asynchronously.
                for images, labels in prefetch(data) if mesh is None else data:
                    state, m = recipe.train_step(state, images, labels, step_args)
                    count += 1
                    step = epoch * steps_per_epoch + skip + count
                    watch.add(m, step)
                    bar.update(1)
                    # The epoch's end saves after its log; a save first checks for divergence.
                    if step < (epoch + 1) * steps_per_epoch and ckpt.due(step):
                        watch.check()
                        ckpt.save(state)
                watch.check()
                seconds = time.perf_counter() - t0
                record = {"epoch": epoch + 1, "step": int(state.step),
                          "lr": float(recipe.schedule(int(state.step) - 1)), "seconds": seconds,
                          "images_per_second": count * bs / seconds if count else None,
                          **devices, **technique_log}
                record.update(watch.means(count))
                every = config.eval.every_epochs
                if evaluator is not None and ((epoch + 1) % every == 0
                                              or epoch + 1 == config.train.epochs):
                    record["eval"] = evaluator(state, epoch + 1)
                _log(metrics_path, record)  # then save: a kill between them repeats no line
                ckpt.save(state)
                bar.set_postfix(epoch=epoch + 1, loss=f"{record.get('loss', np.nan):.3f}",
                                acc=f"{record.get('acc', np.nan):.1f}")
    except KeyboardInterrupt:
        watch.check(state)  # a diverged state is not saved: DivergenceError instead
        ckpt.save(state)
        raise
    finally:
        bar.close()
        ckpt.close()
    return record


class _Divergence:
    """Sums an epoch's step metrics and stops a run whose steps turn non-finite.

    The step reports `nonfinite` (1 for a step whose loss, gradient norm or new parameters are
    NaN or infinite; its other metrics are 0). Reading it every step would make the host wait
    for the device, so it is summed on the device with the other metrics and read only where
    the loop reads anyway: before each checkpoint save and at the epoch's end. Without
    `train.skip_nonfinite` a non-finite count there is a DivergenceError naming the first such
    step (tracked on the device) and the newest checkpoint, and nothing diverged is saved; with
    it the steps were skipped inside the jitted step and the epoch's log counts them.
    """

    def __init__(self, ckpt, skip_nonfinite, mesh=None):
        self.ckpt, self.skip = ckpt, skip_nonfinite
        self.sums = None
        # on the mesh's devices, as the metrics (a multi-host step mixes no local arrays in)
        self.first = parallel.replicate(jnp.int32(np.iinfo(np.int32).max), mesh)

    def add(self, metrics, step):
        """Add one step's metrics (device arrays; no host sync)."""
        self.sums = metrics if self.sums is None else jax.tree.map(jnp.add, self.sums, metrics)
        if not self.skip:
            self.first = _first_nonfinite(self.first, metrics["nonfinite"], step)

    def check(self, state=None):
        """DivergenceError if a step so far was not finite (or, given, `state`'s parameters are
        not: the interrupt path, where the last step's metrics may not have been summed)."""
        if self.skip:
            return
        bad = self.sums is not None and float(jax.device_get(self.sums["nonfinite"])) > 0
        if not bad and (state is None or _finite(state.params)):
            return
        first = int(jax.device_get(self.first)) if bad else None
        at = f"at step {first}" if bad else "before the interrupt"
        newest = self.ckpt.latest_step()
        kept = (f"the newest checkpoint, step {newest}, is the last finite state" if newest
                is not None else "no checkpoint was written")
        raise DivergenceError(f"training diverged: the loss, gradient norm or parameters are "
                              f"NaN or infinite {at}; {kept} (lower optim.lr, set optim.clip, or "
                              f"set train.skip_nonfinite=True to skip such steps)")

    def means(self, count):
        """The epoch's mean metrics over its finite steps, and (skipping) the skipped count."""
        if not count or self.sums is None:
            return {}
        sums = {k: float(v) for k, v in jax.device_get(self.sums).items()}
        skipped = int(sums.pop("nonfinite", 0))
        out = {"skipped_steps": skipped} if self.skip else {}
        finite = count - skipped
        out.update({k: v / finite for k, v in sums.items()} if finite else {})
        return out


@jax.jit
def _first_nonfinite(first, nonfinite, step):
    """`step` if it is the first non-finite step so far, else `first` (a device scalar)."""
    return jnp.where((nonfinite > 0) & (step < first), step, first).astype(jnp.int32)


def _finite(tree):
    """Whether every floating-point leaf of `tree` is finite (reads it to the host)."""
    return all(np.isfinite(x).all() for x in jax.device_get(jax.tree.leaves(tree))
               if np.issubdtype(np.asarray(x).dtype, np.inexact))
