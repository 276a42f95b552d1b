"""Rank a set of cells scored by a run against the NB201 ground truth (`ranking`)."""

import time

import numpy as np

from jaxnas.errors import ConfigError
from jaxnas.evaluate import groundtruth, scoring
from jaxnas.spaces import nb201

GT_METRICS = {"valid": "valid_acc", "test": "test_acc"}


def ranking(score, state, which, *, seed=0, gt="valid", metric="accuracy", exclude=(),
            mask=None):
    """Score the evaluation set `which` (see `scoring.evaluation_archs`; within the space
    `mask` when given) without the official indices `exclude` (e.g. landmarks), and rank it
    against the ground truth. `score(state, archs, metric) -> float[n]` is a run's scorer."""
    if gt not in GT_METRICS:
        raise ConfigError(f"gt must be one of {sorted(GT_METRICS)}, got {gt!r}")
    indices = scoring.evaluation_archs(which, seed=seed, mask=mask)
    kept = indices[~np.isin(indices, np.asarray(exclude, np.int64))]
    truth = groundtruth.load_table("cifar10-valid").get(GT_METRICS[gt])
    start = time.perf_counter()
    scores = score(state, nb201.all_archs()[kept], metric)
    report = scoring.rank_report(scores, kept, truth, time.perf_counter() - start)
    report.update(metric=metric, gt=GT_METRICS[gt], archs=str(which), seed=seed,
                  excluded=int(indices.size - kept.size))
    if mask is not None:
        report["space"] = nb201.mask_to_str(mask)
    return report
