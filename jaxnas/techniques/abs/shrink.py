"""Search-space shrinking: operator scores, the drop rules and the space mask (numpy, host side).

A space is a bool mask `[edges, ops]` (NB201 `[6, 5]`, DARTS `[28, 8]`: edge x op allowed), the
runtime `step_args["mask"]` every sampler reads. ABS (AngleNAS `NAS-Bench-201/exps/angle/
dropnode_by_angle.py`, `DARTS/shrinking/shrinking.py`):

  * `operator_scores`: an operator (edge, op) scores the mean metric of the cells of the current
    space that contain it (exhaustive on NB201, 5^6 = 15,625 cells at the first step; sampled
    in DARTS, `jaxnas.techniques.abs.sampled`);
  * `drop_operators`, rule "lowest" (NB201): sort the operators of edges with more than one op
    left by score, ascending; walk the list and drop an operator when an operator of the same
    edge comes later in it (so the best operator of every edge survives) until `num` are
    dropped. Rule "per_edge" (AngleNAS's DARTS code): each edge with more than one op drops its
    lowest operator, edge by edge, at most `num`. Both skip a drop after which the space's
    `check_mask` refuses the mask: in DARTS every node must keep two distinct input edges with
    an allowed non-`none` op (and `none` allowed on its other edges); on NB201 no drop is ever
    skipped (each edge keeps an op by the order alone).

Masks, their sizes and text form are the space's (`Space.mask_to_str`).
"""

import numpy as np

from jaxnas.errors import ArchError
from jaxnas.spaces import nb201 as nb201_space

RULES = ("lowest", "per_edge")


def operator_scores(archs, scores, mask) -> np.ndarray:
    """Mean score of the cells containing each (edge, op): float64 `[edges, ops]`, NaN where the
    op is not allowed or no cell of `archs` contains it."""
    mask = np.asarray(mask, bool)
    num_edges, num_ops = mask.shape
    archs = np.asarray(archs).reshape(-1, num_edges)
    scores = np.asarray(scores, np.float64)
    totals = np.zeros((num_edges, num_ops))
    counts = np.zeros((num_edges, num_ops))
    for e in range(num_edges):
        totals[e] = np.bincount(archs[:, e], scores, minlength=num_ops)
        counts[e] = np.bincount(archs[:, e], minlength=num_ops)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = totals / counts
    return np.where(mask & (counts > 0), mean, np.nan)


def _valid(space, mask) -> bool:
    try:
        space.check_mask(mask)
        return True
    except ArchError:
        return False


def drop_operators(scores, mask, num, *, space=nb201_space.SPACE, rule="lowest"):
    """The drop rule `rule` (module docstring) on `space`'s mask. Returns `(new_mask, dropped)`,
    `dropped` the (edge, op) pairs in drop order. NaN scores rank last (never dropped before a
    scored op); ties keep (edge, op) order."""
    mask = space.check_mask(np.asarray(mask, bool)).copy()
    scores = np.where(np.isnan(scores), np.inf, np.asarray(scores, np.float64))
    cands = [(e, o) for e in range(mask.shape[0]) if mask[e].sum() > 1
             for o in np.flatnonzero(mask[e])]
    order = sorted(cands, key=lambda c: scores[c])  # stable: ties keep (edge, op) order
    if rule == "per_edge":  # per edge: its ops but the best, lowest first
        walk = [[c for c in order if c[0] == e][:-1] for e in range(mask.shape[0])]
    else:
        walk = [[c for i, c in enumerate(order) if any(e2 == c[0] for e2, _ in order[i + 1:])]]
    dropped = []
    for group in walk:
        for e, o in group:
            if len(dropped) >= num:
                return mask, dropped
            mask[e, o] = False
            if _valid(space, mask):
                dropped.append((int(e), int(o)))
                if rule == "per_edge":
                    break
            else:
                mask[e, o] = True
    return mask, dropped


def describe(dropped, space=nb201_space.SPACE) -> str:
    """Dropped operators as text, e.g. "1<-0:none 3<-2:avg_pool_3x3" (NB201) or
    "normal:2<-0:none reduce:5<-4:sep_conv_3x3" (DARTS): `Space.edge_names`, then the op."""
    return " ".join(f"{space.edge_names[e]}:{space.ops[o]}" for e, o in dropped)
