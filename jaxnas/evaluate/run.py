"""Ranking evaluation of a training run: during training (per epoch) and from a workdir."""

import math
from pathlib import Path

import jax

from jaxnas import config as config_lib
from jaxnas.data import num_batches as batches_per_epoch
from jaxnas.errors import CheckpointError
from jaxnas.evaluate import groundtruth, scoring
from jaxnas.spaces.nb201 import all_archs
from jaxnas.train import checkpoint, defaults, loop, method as method_lib, state as state_lib

GT_METRICS = {"valid": "valid_acc", "test": "test_acc"}


def _scorer(config, archs, seed, gt, num_batches):
    """`(f(params, epoch) -> report, method, steps_per_epoch)`: scores a fixed architecture set
    on the held-out half with the run's method (its sharing map, or e.g. CLOSE's gate)."""
    (train_x, _), (valid_x, valid_y) = loop.load_data(config)
    steps_per_epoch = batches_per_epoch(len(train_x), config.train.batch_size)
    method = method_lib.build(config, steps_per_epoch)
    net_cfg = method_lib.supernet_config(config)
    indices = scoring.evaluation_archs(archs, seed=seed)
    truth = groundtruth.load_table("cifar10-valid").get(GT_METRICS[gt])

    def score(params, epoch):
        supernet_params, sharing = method.scoring(params, all_archs()[indices], epoch)
        return scoring.evaluate(supernet_params, cfg=net_cfg, sharing=sharing, images=valid_x,
                                labels=valid_y, indices=indices, truth=truth,
                                batch_size=config.eval.batch_size, num_batches=num_batches)
    return score, method, steps_per_epoch


def training_evaluator(config):
    """`evaluator(params, epoch)` for `loop.train`, or None when `eval.every_epochs` is 0."""
    if not config.eval.every_epochs:
        return None
    score = None

    def evaluator(params, epoch):
        nonlocal score
        if score is None:
            score = _scorer(config, config.eval.num_archs, config.eval.seed, config.eval.gt,
                            config.eval.num_batches)[0]
        report = score(params, epoch)
        return {k: v for k, v in report.items() if not isinstance(v, list)}
    return evaluator


def load_run_config(workdir):
    """The locked config of the `jaxnas train` run in `workdir` (defaults for keys it predates)."""
    config_file = Path(workdir) / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"{workdir} is not a jaxnas run directory (no config.json)")
    return config_lib.from_json(config_file.read_text(), base=defaults.base_config())


def restore_latest(workdir, config, method, params=None):
    """The train state of the latest checkpoint in `workdir`; `params` (default: a fresh
    `method.init`) only give the structure to restore into."""
    if params is None:
        params = method.init(jax.random.key(config.seed))
    ckpt = checkpoint.Checkpointer(workdir, keep=config.train.keep_checkpoints)
    state = ckpt.restore(state_lib.create(params, method.tx, config.seed))
    ckpt.close()
    return state


def evaluate_workdir(workdir, *, archs=200, seed=0, gt="valid", data=None, num_batches=None):
    """Score architectures with the latest checkpoint of the run in `workdir`."""
    workdir = Path(workdir)
    config = load_run_config(workdir)
    if data:
        config_lib.apply_overrides(config, [f"data.source={data}"])
    if gt not in GT_METRICS:
        raise config_lib.ConfigError(f"--gt must be one of {sorted(GT_METRICS)}, got {gt!r}")
    score, method, steps_per_epoch = _scorer(config, archs, seed, gt,
                                             num_batches or config.eval.num_batches)
    state = restore_latest(workdir, config, method)
    epoch = max(1, math.ceil(int(state.step) / steps_per_epoch))  # the epoch its weights are in
    report = score(state.params, epoch)
    report.update(step=int(state.step), epoch=epoch, gt=GT_METRICS[gt], archs=str(archs),
                  seed=seed)
    return report
