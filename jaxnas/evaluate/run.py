"""Ranking evaluation of a training run: during training (per epoch) and from a workdir."""

from pathlib import Path

import jax

from jaxnas import config as config_lib
from jaxnas.errors import CheckpointError
from jaxnas.evaluate import groundtruth, scoring
from jaxnas.supernet import nb201
from jaxnas.train import checkpoint, loop, optim, state as state_lib

GT_METRICS = {"valid": "valid_acc", "test": "test_acc"}


def _scorer(config, archs, seed, gt, num_batches):
    """`f(params) -> report` scoring a fixed architecture set on the held-out half."""
    _, (valid_x, valid_y) = loop.load_data(config)
    net_cfg = loop.supernet_config(config)
    sharing = loop.sharing_map(config)
    indices = scoring.evaluation_archs(archs, seed=seed)
    truth = groundtruth.load_table("cifar10-valid").get(GT_METRICS[gt])

    def score(params):
        return scoring.evaluate(params, cfg=net_cfg, sharing=sharing, images=valid_x,
                                labels=valid_y, indices=indices, truth=truth,
                                batch_size=config.eval.batch_size, num_batches=num_batches)
    return score


def training_evaluator(config):
    """`evaluator(params, epoch)` for `loop.train`, or None when `eval.every_epochs` is 0."""
    if not config.eval.every_epochs:
        return None
    score = None

    def evaluator(params, epoch):
        nonlocal score
        if score is None:
            score = _scorer(config, config.eval.num_archs, config.eval.seed, config.eval.gt,
                            config.eval.num_batches)
        report = score(params)
        return {k: v for k, v in report.items() if not isinstance(v, list)}
    return evaluator


def evaluate_workdir(workdir, *, archs=200, seed=0, gt="valid", data=None, num_batches=None):
    """Score architectures with the latest checkpoint of the run in `workdir`."""
    workdir = Path(workdir)
    config_file = workdir / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"{workdir} is not a jaxnas run directory (no config.json)")
    config = config_lib.from_json(config_file.read_text())
    if data:
        config_lib.apply_overrides(config, [f"data.source={data}"])
    if gt not in GT_METRICS:
        raise config_lib.ConfigError(f"--gt must be one of {sorted(GT_METRICS)}, got {gt!r}")
    net_cfg = loop.supernet_config(config)
    tx = optim.make_optimizer(config.optim, 1)
    template = state_lib.create(nb201.init(jax.random.key(0), net_cfg), tx, config.seed)
    ckpt = checkpoint.Checkpointer(workdir, keep=config.train.keep_checkpoints)
    state = ckpt.restore(template)
    ckpt.close()
    score = _scorer(config, archs, seed, gt, num_batches or config.eval.num_batches)
    report = score(state.params)
    report.update(step=int(state.step), gt=GT_METRICS[gt], archs=str(archs), seed=seed)
    return report
