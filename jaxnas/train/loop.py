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
import signal
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from jaxnas import config as config_lib, parallel
from jaxnas.data import prefetch
from jaxnas.errors import CheckpointError, ConfigError
from jaxnas.evaluate.run import training_evaluator
from jaxnas.train import checkpoint, defaults, recipe as recipe_lib, workdir as workdir_lib


class _Interrupt:
    """Turn SIGTERM into KeyboardInterrupt while training, so both save a checkpoint."""

    def __enter__(self):
        self.old = signal.signal(signal.SIGTERM, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        raise KeyboardInterrupt

    def __exit__(self, *exc):
        signal.signal(signal.SIGTERM, self.old)


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
    sample of cells, landmarks excluded) goes into the metrics log.
    """
    defaults.check(config)
    parallel.initialize(config)  # joins the other hosts of a multi-host run, before JAX starts
    # The hosts of a multi-host run share the workdir; the first one holds its lock.
    lock = workdir_lib.WorkdirLock(workdir) if parallel.is_primary() else contextlib.nullcontext()
    with lock, workdir_lib.quiet_logging(workdir):
        return _train(config, workdir, resume, progress)


def _train(config, workdir, resume, progress):
    workdir, resume = _prepare_workdir(config, workdir, resume)
    recipe = recipe_lib.from_config(config)
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

    ckpt = checkpoint.Checkpointer(workdir, keep=config.train.keep_checkpoints,
                                   every_steps=config.train.checkpoint_every_steps,
                                   every_minutes=config.train.checkpoint_every_minutes)
    metrics_path = workdir / "metrics.jsonl"
    if resume:
        state = ckpt.restore(state, report=workdir_lib.notice)
        if parallel.is_primary():
            workdir_lib.trim_metrics(metrics_path, int(state.step))
    start_step = int(state.step)
    bar = tqdm(total=run.total_steps, initial=start_step,
               disable=not (progress and parallel.is_primary()), unit="step",
               dynamic_ncols=True)
    record = {}
    try:
        with _Interrupt():
            for epoch in range(start_step // steps_per_epoch, config.train.epochs):
                skip = int(state.step) - epoch * steps_per_epoch
                state, step_args, technique_log = recipe.epoch_start(state, epoch + 1)
                state, step_args = parallel.replicate((state, step_args), mesh)
                t0, sums, count = time.perf_counter(), None, 0
                data = parallel.sharded_batches(train_x, train_y, bs, seed=config.seed,
                                                epoch=epoch, start=skip, mesh=mesh)
                # On a mesh the batches are already device arrays, put asynchronously.
                for images, labels in prefetch(data) if mesh is None else data:
                    state, m = recipe.train_step(state, images, labels, step_args)
                    sums = m if sums is None else jax.tree.map(jnp.add, sums, m)
                    count += 1
                    bar.update(1)
                    step = epoch * steps_per_epoch + skip + count
                    if step < (epoch + 1) * steps_per_epoch:  # the epoch's end saves after its log
                        ckpt.maybe_save(state, step=step)
                seconds = time.perf_counter() - t0
                record = {"epoch": epoch + 1, "step": int(state.step),
                          "lr": float(recipe.schedule(int(state.step) - 1)), "seconds": seconds,
                          "images_per_second": count * bs / seconds if count else None,
                          **devices, **technique_log}
                if count:
                    record.update({k: float(v) / count for k, v in jax.device_get(sums).items()})
                every = config.eval.every_epochs
                if evaluator is not None and ((epoch + 1) % every == 0
                                              or epoch + 1 == config.train.epochs):
                    record["eval"] = evaluator(state, epoch + 1)
                _log(metrics_path, record)  # then save: a kill between them repeats no line
                ckpt.save(state)
                bar.set_postfix(epoch=epoch + 1, loss=f"{record.get('loss', np.nan):.3f}",
                                acc=f"{record.get('acc', np.nan):.1f}")
    except KeyboardInterrupt:
        ckpt.save(state)
        bar.close()
        ckpt.close()
        raise
    bar.close()
    ckpt.close()
    return record
