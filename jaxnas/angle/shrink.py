"""Search-space shrinking: operator scores, the drop rule and the space mask (numpy, host side).

A space is a bool mask `[6, 5]` (edge x op allowed), the runtime `step_args["mask"]` every sampler
reads. ABS (AngleNAS `NAS-Bench-201/exps/angle/dropnode_by_angle.py`):

  * `operator_scores`: an operator (edge, op) scores the mean metric of all cells of the current
    space that contain it (exhaustive on NB201, 5^6 = 15,625 cells at the first step);
  * `drop_operators`: sort the operators of edges with more than one op left by score, ascending;
    walk the list and drop an operator when an operator of the same edge comes later in it (so
    the best operator of every edge survives) until `num` are dropped.

Text form of a space (`mask_to_str`): six comma-separated groups, edge by edge in `EDGES` order,
each the digits of the allowed op indices (0 none, 1 skip_connect, 2 nor_conv_1x1,
3 nor_conv_3x3, 4 avg_pool_3x3), e.g. "3,23,1234,3,23,234". "" is the whole space.
"""

import numpy as np

from jaxnas.errors import ConfigError
from jaxnas.spaces.nb201 import EDGES, NUM_EDGES, NUM_OPS, OPS, check_mask


def full_mask():
    return np.ones((NUM_EDGES, NUM_OPS), bool)


def space_size(mask) -> int:
    """Number of cells the mask allows."""
    return int(np.prod(np.asarray(mask).sum(axis=1), dtype=np.int64))


def space_archs(mask) -> np.ndarray:
    """All cells of the space as int32 `[n, 6]`, in increasing base-5 code (edge 0 slowest)."""
    allowed = [np.flatnonzero(row) for row in check_mask(np.asarray(mask, bool))]
    grid = np.meshgrid(*allowed, indexing="ij")
    return np.stack([g.reshape(-1) for g in grid], 1).astype(np.int32)


def mask_to_str(mask) -> str:
    mask = check_mask(np.asarray(mask, bool))
    return ",".join("".join(str(o) for o in np.flatnonzero(row)) for row in mask)


def str_to_mask(text) -> np.ndarray:
    """Parse the text form (module docstring); "" is the whole space."""
    text = str(text).replace(" ", "")
    if not text:
        return full_mask()
    groups = text.split(",")
    mask = np.zeros((NUM_EDGES, NUM_OPS), bool)
    if len(groups) != NUM_EDGES or not all(g and set(g) <= set("01234") for g in groups):
        raise ConfigError(f"angle.space must be {NUM_EDGES} comma-separated groups of op digits "
                          f"0-4 (e.g. '3,23,1234,3,23,234'), got {text!r}")
    for e, group in enumerate(groups):
        mask[e, [int(c) for c in group]] = True
    return mask


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
