"""The training loop: data, epochs, metrics log, progress bar, checkpoints and resume.

`train(config, workdir)` runs a whole experiment. Per epoch it appends a line to
`workdir/metrics.jsonl` and writes a checkpoint; an interrupt (Ctrl-C or SIGTERM) writes one at the
current step before exiting. With `resume=True` the run continues from the latest checkpoint: the
data order depends only on (seed, epoch) and the step key on (seed, step), so the resumed run ends
with exactly the parameters of an uninterrupted one.
"""

import json
import signal
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from jaxnas import config as config_lib
from jaxnas.data import batches, prefetch
from jaxnas.errors import CheckpointError
from jaxnas.evaluate.run import training_evaluator
from jaxnas.train import checkpoint, defaults, recipe as recipe_lib


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
    has_ckpt = (workdir / "checkpoints").is_dir() and any((workdir / "checkpoints").iterdir())
    if resume:
        if not config_file.is_file() or not has_ckpt:
            raise CheckpointError(f"nothing to resume in {workdir}: no checkpoint there")
        checkpoint.check_compatible(config_file.read_text(), config, workdir)
    elif has_ckpt:
        raise CheckpointError(f"{workdir} already holds a run; pass --resume or use a new workdir")
    config_file.write_text(config_lib.to_json(config))
    return workdir


def _log(path, record):
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
    workdir = _prepare_workdir(config, workdir, resume)
    recipe = recipe_lib.from_config(config)
    run = recipe.run
    train_x, train_y = run.train_data
    bs, steps_per_epoch = config.train.batch_size, run.steps_per_epoch
    (workdir / "run.json").write_text(json.dumps({"steps_per_epoch": steps_per_epoch}))
    state = recipe.init()
    evaluator = training_evaluator(recipe)

    ckpt = checkpoint.Checkpointer(workdir, keep=config.train.keep_checkpoints)
    if resume:
        state = ckpt.restore(state)
    metrics_path = workdir / "metrics.jsonl"
    start_step = int(state.step)
    bar = tqdm(total=run.total_steps, initial=start_step, disable=not progress, unit="step",
               dynamic_ncols=True)
    record = {}
    try:
        with _Interrupt():
            for epoch in range(start_step // steps_per_epoch, config.train.epochs):
                skip = int(state.step) - epoch * steps_per_epoch
                state, step_args, technique_log = recipe.epoch_start(state, epoch + 1)
                t0, sums, count = time.perf_counter(), None, 0
                data = batches(train_x, train_y, bs, seed=config.seed, epoch=epoch, start=skip)
                for images, labels in prefetch(data):
                    state, m = recipe.train_step(state, images, labels, step_args)
                    sums = m if sums is None else jax.tree.map(jnp.add, sums, m)
                    count += 1
                    bar.update(1)
                    every = config.train.checkpoint_every_steps
                    if every and int(state.step) % every == 0:
                        ckpt.save(state)
                seconds = time.perf_counter() - t0
                record = {"epoch": epoch + 1, "step": int(state.step),
                          "lr": float(recipe.schedule(int(state.step) - 1)), "seconds": seconds,
                          "images_per_second": count * bs / seconds if count else None,
                          **technique_log}
                if count:
                    record.update({k: float(v) / count for k, v in jax.device_get(sums).items()})
                every = config.eval.every_epochs
                if evaluator is not None and ((epoch + 1) % every == 0
                                              or epoch + 1 == config.train.epochs):
                    record["eval"] = evaluator(state, epoch + 1)
                ckpt.save(state)
                _log(metrics_path, record)
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
