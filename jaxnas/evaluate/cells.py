"""Rank a set of cells against the NB201 ground truth: a run's scorer over an evaluation set
(`ranking`), or supernet accuracy of given parameters (`evaluate`); the report (`rank_report`).

Kept apart from `scoring` so that scoring cells imports no statistics (scipy).
"""

import time

import numpy as np

from jaxnas.errors import ConfigError
from jaxnas.evaluate import groundtruth, protocols, scoring
from jaxnas.evaluate.ranking import ranking_report
from jaxnas.spaces import nb201

GT_METRICS = {"valid": "valid_acc", "test": "test_acc"}


def ranking(score, state, which, *, seed=0, gt="valid", metric="accuracy", exclude=(),
            mask=None, table=None):
    """Score the evaluation set `which` (see `scoring.evaluation_archs`; within the space
    `mask` when given) without the official indices `exclude` (e.g. landmarks), and rank it
    against the ground truth. `score(state, archs, metric) -> float[n]` is a run's scorer.

    `table`: a stand-alone ground truth (`groundtruth.read_standalone_table`, e.g. a
    `jaxnas standalone` table at the run's own scale) to rank against instead of NB201's; the
    cells scored are then the table's (within `mask`, without `exclude`; `which` and `seed`
    are not used) and `gt` picks its held-out ("valid") or test column."""
    if gt not in GT_METRICS:
        raise ConfigError(f"gt must be one of {sorted(GT_METRICS)}, got {gt!r}")
    if table is None:
        indices = scoring.evaluation_archs(which, seed=seed, mask=mask)
        truth = groundtruth.load_table("cifar10-valid").get(GT_METRICS[gt])
    else:
        indices = np.sort(table.indices)
        if mask is not None:
            indices = indices[nb201.in_space(indices, mask)]
        truth = np.full(nb201.NUM_ARCHS, np.nan)
        truth[table.indices] = table.get(GT_METRICS[gt])
    kept = indices[~np.isin(indices, np.asarray(exclude, np.int64))]
    if table is not None and kept.size < 2:
        raise ConfigError(f"only {kept.size} cell(s) of the ground-truth table remain to rank "
                          f"(landmarks and cells outside the space are left out)")
    start = time.perf_counter()
    scores = score(state, nb201.all_archs()[kept], metric)
    report = rank_report(scores, kept, truth, time.perf_counter() - start)
    report.update(metric=metric, gt=GT_METRICS[gt], archs=str(which), seed=seed,
                  excluded=int(indices.size - kept.size), protocol="default",
                  ground_truth=protocols.describe_truth("default", split=gt))
    if table is not None:  # the table's values travel with the report (`jaxnas compare`)
        report.update(archs="table", gt_table=table.source, gt_epochs=table.epochs,
                      ground_truth=f"{table.source} ({GT_METRICS[gt]})",
                      truth=[float(t) for t in truth[kept]])
    if mask is not None:
        report["space"] = nb201.mask_to_str(mask)
    return report


def arch_table_ranking(score, state, table, *, gt="valid", metric="accuracy", mask=None,
                       space=None, exclude=()):
    """Score the architectures of a `groundtruth.ArchTable` (a space without official indices,
    e.g. DARTS genotypes; within `mask` when given; without those whose canonical text is in
    `exclude`, e.g. landmarks) and rank them against its `gt` column."""
    if gt not in GT_METRICS:
        raise ConfigError(f"gt must be one of {sorted(GT_METRICS)}, got {gt!r}")
    archs, truth = table.archs, table.get(GT_METRICS[gt])
    keep = np.ones(len(archs), bool) if mask is None else space.allowed(archs, mask)
    keep &= ~np.isin(np.array(table.texts, dtype=object), np.array(list(exclude), dtype=object))
    if keep.sum() < 2:
        raise ConfigError(f"only {int(keep.sum())} architecture(s) of the ground-truth table "
                          f"remain to rank (those outside the space and landmarks are left out)")
    start = time.perf_counter()
    scores = np.asarray(score(state, archs[keep], metric), np.float64)
    seconds = time.perf_counter() - start
    report = ranking_report(scores, truth[keep])
    report.update(num_archs=int(keep.sum()), seconds=float(seconds),
                  archs_per_second=keep.sum() / seconds if seconds else None,
                  archs_text=[t for t, k in zip(table.texts, keep) if k],
                  scores=[float(a) for a in scores], metric=metric, gt=GT_METRICS[gt],
                  archs="table", excluded=int((~keep).sum()), protocol="default",
                  space=table.space, gt_table=table.source, gt_epochs=table.epochs,
                  ground_truth=f"{table.source} ({GT_METRICS[gt]})",
                  truth=[float(t) for t in truth[keep]])
    return report


def protocol_ranking(score, state, protocol, *, seed=0, split=None,
                     dataset=protocols.DEFAULT_DATASET, metric="accuracy", exclude=(),
                     mask=None):
    """Score and rank the cells of a paper's evaluation protocol (`protocols.PROTOCOLS`; not
    `default`, which is `ranking`) against its ground-truth column; the report names the
    protocol, its paper, cells, headline metrics and ground truth."""
    fields = protocols.fields(protocol, dataset, split)
    truth = protocols.truth_column(protocol, dataset, split)
    everything = protocols.cells(protocol, seed=seed, dataset=dataset, split=split, mask=mask)
    kept = protocols.cells(protocol, seed=seed, exclude=exclude, dataset=dataset, split=split,
                           mask=mask)
    start = time.perf_counter()
    scores = score(state, nb201.all_archs()[kept], metric)
    report = rank_report(scores, kept, truth, time.perf_counter() - start)
    report.update(fields, metric=metric, gt=f"{split or protocols.get(protocol).split}_acc",
                  archs=protocol, seed=seed,
                  excluded=int(np.setdiff1d(everything, kept).size))
    if mask is not None:
        report["space"] = nb201.mask_to_str(mask)
    return report


def check_indices(indices):
    """`indices` as a 1-D int array of NB201 indices; ConfigError otherwise."""
    indices = np.asarray(indices)
    if indices.ndim != 1 or indices.dtype.kind not in "iu":
        raise ConfigError(f"indices must be a 1-D int array, got {indices.dtype} "
                          f"{list(indices.shape)}")
    if indices.size and (indices.min() < 0 or indices.max() >= nb201.NUM_ARCHS):
        raise ConfigError(f"indices must lie in 0..{nb201.NUM_ARCHS - 1}, got "
                          f"{indices.min()}..{indices.max()}")
    return indices


def rank_report(scores, indices, truth, seconds):
    """The ranking report of `scores` (higher = better) of the architectures `indices` against
    `truth`, a `[15625]` array in official NB201 index order (an architecture's truth is its own
    entry, so a class representative is compared with the representative's benchmark numbers).

    Returns a JSON-ready dict: the metrics of `ranking_report`, `num_archs`, `seconds`,
    `archs_per_second`, and the lists `indices` and `scores` for later re-analysis.
    """
    truth = np.asarray(truth, np.float64)
    if truth.shape != (nb201.NUM_ARCHS,):
        raise ConfigError(f"truth must be a [{nb201.NUM_ARCHS}] array in NB201 index order, got "
                          f"{list(truth.shape)}")
    report = ranking_report(scores, truth[indices])
    report.update(num_archs=int(indices.size), seconds=float(seconds),
                  archs_per_second=indices.size / seconds if seconds else None,
                  indices=[int(i) for i in indices], scores=[float(a) for a in scores])
    return report


def evaluate(params, *, cfg, sharing, images, labels, indices, truth, batch_size=256,
             num_batches=None, progress=True):
    """Score the architectures `indices` by supernet accuracy and rank them against `truth`.

    Returns `rank_report` (scores = supernet accuracy) plus `images_per_arch`, `batch_size`, and
    the per-architecture lists `supernet_acc` and `supernet_loss`.
    """
    indices = check_indices(indices)
    scores = scoring.score_archs(params, nb201.all_archs()[indices], images, labels, cfg=cfg,
                                 sharing=sharing, batch_size=batch_size, num_batches=num_batches,
                                 progress=progress)
    report = rank_report(scores["acc"], indices, truth, scores["seconds"])
    report.update(images_per_arch=scores["images_per_arch"], batch_size=int(batch_size),
                  supernet_acc=report["scores"],
                  supernet_loss=[float(v) for v in scores["loss"]])
    return report
