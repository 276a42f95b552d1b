"""Search-space shrinking: operator scores, the drop rule and the space mask (numpy, host side).

A space is a bool mask `[6, 5]` (edge x op allowed), the runtime `step_args["mask"]` every sampler
reads. ABS (AngleNAS `NAS-Bench-201/exps/angle/dropnode_by_angle.py`):

  * `operator_scores`: an operator (edge, op) scores the mean metric of all cells of the current
    space that contain it (exhaustive on NB201, 5^6 = 15,625 cells at the first step);
  * `drop_operators`: sort the operators of edges with more than one op left by score, ascending;
    walk the list and drop an operator when an operator of the same edge comes later in it (so
    the best operator of every edge survives) until `num` are dropped.

Masks, their sizes and text form are the space's (`jaxnas.spaces.nb201`: `mask_to_str`).
"""

import numpy as np

from jaxnas.spaces.nb201 import EDGES, NUM_EDGES, NUM_OPS, OPS, check_mask


def operator_scores(archs, scores, mask) -> np.ndarray:
    """Mean score of the cells containing each (edge, op): float64 `[6, 5]`, NaN where the op is
    not allowed or no cell of `archs` contains it."""
    archs = np.asarray(archs)
    scores = np.asarray(scores, np.float64)
    totals = np.zeros((NUM_EDGES, NUM_OPS))
    counts = np.zeros((NUM_EDGES, NUM_OPS))
    for e in range(NUM_EDGES):
        totals[e] = np.bincount(archs[:, e], scores, minlength=NUM_OPS)
        counts[e] = np.bincount(archs[:, e], minlength=NUM_OPS)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = totals / counts
    return np.where(np.asarray(mask, bool) & (counts > 0), mean, np.nan)


def drop_operators(scores, mask, num):
    """The reference drop rule (module docstring). Returns `(new_mask, dropped)`, `dropped` the
    (edge, op) pairs in drop order. NaN scores rank last (never dropped before a scored op)."""
    mask = check_mask(np.asarray(mask, bool)).copy()
    scores = np.where(np.isnan(scores), np.inf, np.asarray(scores, np.float64))
    cands = [(e, o) for e in range(NUM_EDGES) if mask[e].sum() > 1
             for o in np.flatnonzero(mask[e])]
    order = sorted(cands, key=lambda c: scores[c])  # stable: ties keep (edge, op) order
    dropped = []
    for i, (e, o) in enumerate(order):
        if len(dropped) >= num:
            break
        if any(e2 == e for e2, _ in order[i + 1:]):
            mask[e, o] = False
            dropped.append((int(e), int(o)))
    return mask, dropped


def describe(dropped) -> str:
    """Dropped operators as text, e.g. "1<-0:none 3<-2:avg_pool_3x3"."""
    return " ".join(f"{EDGES[e][0]}<-{EDGES[e][1]}:{OPS[o]}" for e, o in dropped)
