"""Ranking evaluation of a training run: during training (per epoch) and from a workdir."""

from pathlib import Path

import numpy as np

from jaxnas.errors import ConfigError
from jaxnas.evaluate import groundtruth, protocols
from jaxnas.evaluate.cells import arch_table_ranking, protocol_ranking, ranking
from jaxnas.train import open_run as open_lib
from jaxnas.train.scorer import epoch_of, make_score


def _accuracy_fields(config, num_batches):
    return {"batch_size": config.eval.batch_size,
            "images_per_arch": config.eval.batch_size * num_batches}


def training_evaluator(recipe, *, progress=False):
    """`evaluator(state, epoch) -> summary` for the training loop, or None when
    `eval.every_epochs` is 0: by accuracy, the fixed `eval.num_archs` cells against NB201's
    truth, or the cells of `eval.table` against it (the only truth a DARTS run has)."""
    config = recipe.run.config
    if not config.eval.every_epochs:
        return None
    images, labels = recipe.run.valid_data
    score = make_score(recipe, images=images, labels=labels, batch_size=config.eval.batch_size,
                       num_batches=config.eval.num_batches, progress=progress)

    source = config.eval.get("table", "")
    table = groundtruth.space_table(source, recipe.run.space) if source else None

    def evaluator(state, epoch):
        del epoch  # the state's step says which weights these are
        report = _rank(score, state, recipe, table, archs=config.eval.num_archs,
                       seed=config.eval.seed, gt=config.eval.gt)
        report.update(_accuracy_fields(config, config.eval.num_batches))
        return {k: v for k, v in report.items() if not isinstance(v, list)}
    return evaluator


def _by_arch_table(space, table) -> bool:
    """Whether a run of `space` ranks a `groundtruth.ArchTable` (genotypes, no indices) rather
    than NB201 cells; ConfigError for a space without indices and no table of its own."""
    if space.name == "nb201" and not hasattr(table, "texts"):
        return False
    if not hasattr(table, "texts") or table.space != space.name:
        raise ConfigError(f"ranking a {space.name} run needs a ground-truth table of its "
                          f"architectures (jaxnas evaluate --gt TABLE.csv); none ships")
    return True


def _rank(score, state, recipe, table, *, archs, seed, gt, metric="accuracy", mask=None):
    """The run's ranking report: `table`'s cells against its `gt` column when given (NB201
    indices or genotypes), else `archs` NB201 cells (seeded) against NB201's truth."""
    if _by_arch_table(recipe.run.space, table):
        return arch_table_ranking(score, state, table, gt=gt, metric=metric, mask=mask,
                                  space=recipe.run.space, exclude=recipe.exclude(state))
    return ranking(score, state, archs, seed=seed, gt=gt, metric=metric,
                   exclude=recipe.exclude(state), mask=mask, table=table)


def space_of(state):
    """The space a run's state ends in, as a numpy mask (None for the whole space)."""
    space = getattr(state, "space", None)
    if space is None:
        return None
    space = np.asarray(space, bool)
    return None if space.all() else space


def evaluate_workdir(workdir, *, archs=200, seed=0, gt=None, data=None, num_batches=None,
                     skip_batches=0, metric="accuracy", within_space=False, progress=True,
                     protocol="default", dataset=protocols.DEFAULT_DATASET, table=None):
    """Score architectures with the latest checkpoint of the run in `workdir`.

    Accuracy is measured on held-out batches `skip_batches .. skip_batches + num_batches - 1`
    (scoring the same run on two disjoint subsets measures the evaluation noise).
    `within_space`: draw the cells from the space the run ended in (e.g. ABS-shrunk; the whole
    space for a run that never narrowed it), where a search of the run then looks.
    `protocol` (`jaxnas.evaluate.protocols`): a paper's cells and ground-truth column instead
    of `archs` (which only the `default` protocol reads); `gt` (valid or test) defaults to the
    protocol's split; `dataset` names the NB201 table (only cifar10-valid ships).
    `table`: a stand-alone ground truth to rank the table's cells against (`cells.ranking`;
    default protocol only). A DARTS run needs one, a `groundtruth.ArchTable` of genotypes
    (`cells.arch_table_ranking`): no DARTS ground truth ships."""
    if table is not None and protocol != "default":
        raise ConfigError(f"a ground-truth table ranks its own cells; protocol {protocol} has "
                          f"its own cells and ground truth")
    fields = protocols.fields(protocol, dataset, gt)  # an unknown or unshipped name fails here
    if skip_batches < 0:
        raise ConfigError(f"--skip-batches must be >= 0, got {skip_batches}")
    opened = open_lib.open_run(Path(workdir), data=data, needs_data=metric == "accuracy",
                                progress=progress)
    config, recipe, state = opened.config, opened.recipe, opened.state
    num_batches = num_batches or config.eval.num_batches
    images, labels = recipe.run.valid_data or (None, None)
    if skip_batches and images is not None:
        first = skip_batches * config.eval.batch_size
        if first + num_batches * config.eval.batch_size > len(images):
            raise ConfigError(f"--skip-batches {skip_batches} + --num-batches {num_batches} "
                              f"batches of {config.eval.batch_size} exceed the {len(images)} "
                              "held-out images")
        images, labels = images[first:], labels[first:]
    score = make_score(recipe, images=images, labels=labels, batch_size=config.eval.batch_size,
                       num_batches=num_batches, progress=progress)
    mask = space_of(state) if within_space else None
    by_table = _by_arch_table(recipe.run.space, table)
    if protocol == "default" or by_table:
        report = _rank(score, state, recipe, table, archs=archs, seed=seed, gt=gt or "valid",
                       metric=metric, mask=mask)
        if not by_table:  # NB201's cells: the protocol's fields
            report.update({k: v for k, v in fields.items() if table is None
                           or k not in ("ground_truth", "dataset", "protocol_cells")})
    else:
        report = protocol_ranking(score, state, protocol, seed=seed, split=gt, dataset=dataset,
                                  metric=metric, exclude=recipe.exclude(state), mask=mask)
    if metric == "accuracy":
        report.update(_accuracy_fields(config, num_batches), skip_batches=skip_batches)
    report.update(step=int(state.step), epoch=epoch_of(state.step, recipe.run.steps_per_epoch))
    return report
