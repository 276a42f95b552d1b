"""Quality of an ABS-shrunk NB201 space against the ground truth: how much of the true top
survives, what is left, and what a perfect metric would have kept (`oracle`).

Per space (`quality`): its size, the number of the true top-50 (and top-1%) cells inside, the
best ground-truth accuracy left and its rank among all 15,625, the mean ground truth inside and
over the whole space, and the ground-truth rank (1 = best of 30) of every dropped operator,
operators ranked as the reference's `real_acc`: by the summed ground truth of their cells.
"""

import numpy as np

from jaxnas.evaluate import groundtruth
from jaxnas.spaces.nb201 import NUM_ARCHS, SPACE, all_archs, archs_to_indices, mask_to_str, \
    space_archs
from jaxnas.techniques.abs import describe, drop_operators


def truth_table(gt="test"):
    """The packaged cifar10-valid `{gt}_acc` column, `[15625]`."""
    return np.asarray(groundtruth.load_table("cifar10-valid").get(f"{gt}_acc"))


def operator_truth_ranks(truth):
    """Rank (1 = best) of each of the 30 operators by the summed truth of its cells, `[6, 5]`."""
    archs = all_archs()
    summed = np.stack([np.bincount(archs[:, e], truth, minlength=5) for e in range(6)])
    order = np.argsort(-summed.ravel(), kind="stable")
    ranks = np.empty(30, int)
    ranks[order] = np.arange(1, 31)
    return ranks.reshape(6, 5)


def quality(mask, truth, op_ranks, dropped=None):
    """The numbers of the module docstring for the space `mask` (bool `[6, 5]`)."""
    inside = archs_to_indices(space_archs(mask))
    order = np.argsort(-truth)
    best = inside[np.argmax(truth[inside])]
    out = {"space": mask_to_str(mask), "size": int(inside.size),
           "top50_kept": int(np.isin(order[:50], inside).sum()),
           "top1pct_kept": int(np.isin(order[:NUM_ARCHS // 100], inside).sum()),
           "best_truth": float(truth[best]), "best_rank": int(np.sum(truth > truth[best]) + 1),
           "mean_truth": float(truth[inside].mean()), "mean_truth_full": float(truth.mean())}
    if dropped is None:
        dropped = [tuple(x) for x in np.argwhere(~mask)]
    out["dropped_truth_ranks"] = sorted(int(op_ranks[e, o]) for e, o in dropped)
    return out


def oracle(truth, op_ranks, drop):
    """The space the drop rule gives from the ground truth itself (operators scored by the
    summed truth of their cells): what a perfect metric would keep."""
    mask, dropped = drop_operators(-op_ranks.astype(np.float64), SPACE.full_mask(), drop)
    return {**quality(mask, truth, op_ranks, dropped), "dropped": describe(dropped)}
