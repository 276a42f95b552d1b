"""Ranking evaluation of a training run: during training (per epoch) and from a workdir."""

import json
import time
from pathlib import Path

import numpy as np

from jaxnas import config as config_lib
from jaxnas.angle.abs_technique import space_mask
from jaxnas.angle.shrink import mask_to_str
from jaxnas.errors import CheckpointError, ConfigError
from jaxnas.evaluate import groundtruth, scoring
from jaxnas.evaluate.score import epoch_of, make_score
from jaxnas.spaces.nb201 import all_archs
from jaxnas.train import checkpoint, defaults, recipe as recipe_lib, workdir as workdir_lib

GT_METRICS = {"valid": "valid_acc", "test": "test_acc"}


def ranking(score, state, which, *, seed=0, gt="valid", metric="accuracy", exclude=(),
            mask=None):
    """Score the evaluation set `which` (see `scoring.evaluation_archs`; within the space
    `mask` when given) without the NB201 indices `exclude` (e.g. landmarks), and rank it
    against the ground truth."""
    if gt not in GT_METRICS:
        raise ConfigError(f"gt must be one of {sorted(GT_METRICS)}, got {gt!r}")
    indices = scoring.evaluation_archs(which, seed=seed, mask=mask)
    kept = indices[~np.isin(indices, np.asarray(exclude, np.int64))]
    truth = groundtruth.load_table("cifar10-valid").get(GT_METRICS[gt])
    start = time.perf_counter()
    scores = score(state, all_archs()[kept], metric)
    report = scoring.rank_report(scores, kept, truth, time.perf_counter() - start)
    report.update(metric=metric, gt=GT_METRICS[gt], archs=str(which), seed=seed,
                  excluded=int(indices.size - kept.size))
    if mask is not None:
        report["space"] = mask_to_str(mask)
    return report


def _accuracy_fields(config, num_batches):
    return {"batch_size": config.eval.batch_size,
            "images_per_arch": config.eval.batch_size * num_batches}


def training_evaluator(recipe, *, progress=False):
    """`evaluator(state, epoch) -> summary` for the training loop, or None when
    `eval.every_epochs` is 0: the fixed `eval.num_archs` cells, by accuracy."""
    config = recipe.run.config
    if not config.eval.every_epochs:
        return None
    images, labels = recipe.run.valid_data
    score = make_score(recipe, images=images, labels=labels, batch_size=config.eval.batch_size,
                       num_batches=config.eval.num_batches, progress=progress)

    def evaluator(state, epoch):
        del epoch  # the state's step says which weights these are
        report = ranking(score, state, config.eval.num_archs, seed=config.eval.seed,
                         gt=config.eval.gt, exclude=recipe.exclude(state))
        report.update(_accuracy_fields(config, config.eval.num_batches))
        return {k: v for k, v in report.items() if not isinstance(v, list)}
    return evaluator


def load_run_config(workdir):
    """The locked config of the `jaxnas train` run in `workdir` (defaults for keys it predates)."""
    config_file = Path(workdir) / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"{workdir} is not a jaxnas run directory (no config.json)")
    try:
        stored = json.loads(config_file.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{config_file} is not valid JSON: {e}") from e
    method = stored.pop("method", None)  # runs from before techniques composed
    if method is not None and "techniques" not in stored:
        stored["techniques"] = [] if method == "spos" else [method]
        if method != "close":
            stored.pop("close", None)  # the CLOSE block sat in every config then
    techniques = tuple(stored.get("techniques", ()))
    return config_lib.from_json(json.dumps(stored), base=defaults.base_config(techniques))


def restore_latest(workdir, recipe):
    """The train state of the newest intact checkpoint in `workdir`, restored into `recipe`'s
    layout (damaged newer ones are reported on stderr, one line each, and left in place)."""
    ckpt = checkpoint.Checkpointer(workdir, read_only=True)
    try:
        return ckpt.restore(recipe.init(), report=workdir_lib.notice)
    finally:
        ckpt.close()


def run_info(workdir):
    """`run.json` of a workdir (steps per epoch), written by the training loop."""
    path = Path(workdir) / "run.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def evaluate_workdir(workdir, *, archs=200, seed=0, gt="valid", data=None, num_batches=None,
                     skip_batches=0, metric="accuracy", within_space=False, progress=True):
    """Score architectures with the latest checkpoint of the run in `workdir`.

    Accuracy is measured on held-out batches `skip_batches .. skip_batches + num_batches - 1`
    (scoring the same run on two disjoint subsets measures the evaluation noise).
    `within_space`: draw the cells from the space the run ended in (its ABS-shrunk space; the
    whole space for a run without ABS), where a search of the run then looks."""
    workdir = Path(workdir)
    config = load_run_config(workdir)
    if data:
        config_lib.apply_overrides(config, [f"data.source={data}"])
    needs_data = metric == "accuracy" or not run_info(workdir).get("steps_per_epoch")
    recipe = recipe_lib.from_config(config, data=needs_data,
                                    steps_per_epoch=run_info(workdir).get("steps_per_epoch"))
    num_batches = num_batches or config.eval.num_batches
    images, labels = recipe.run.valid_data or (None, None)
    if skip_batches < 0:
        raise ConfigError(f"--skip-batches must be >= 0, got {skip_batches}")
    if skip_batches and images is not None:
        first = skip_batches * config.eval.batch_size
        if first + num_batches * config.eval.batch_size > len(images):
            raise ConfigError(f"--skip-batches {skip_batches} + --num-batches {num_batches} "
                              f"batches of {config.eval.batch_size} exceed the {len(images)} "
                              "held-out images")
        images, labels = images[first:], labels[first:]
    score = make_score(recipe, images=images, labels=labels, batch_size=config.eval.batch_size,
                       num_batches=num_batches, progress=progress)
    state = restore_latest(workdir, recipe)
    report = ranking(score, state, archs, seed=seed, gt=gt, metric=metric,
                     exclude=recipe.exclude(state),
                     mask=space_mask(state) if within_space else None)
    if metric == "accuracy":
        report.update(_accuracy_fields(config, num_batches), skip_batches=skip_batches)
    report.update(step=int(state.step), epoch=epoch_of(state.step, recipe.run.steps_per_epoch))
    return report
