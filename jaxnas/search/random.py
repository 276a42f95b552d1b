"""Random search: score `budget` distinct cells drawn uniformly from the (masked) space.

The baseline every weight-sharing paper reports (NB201's RSWS evaluates random cells with the
supernet and keeps the best). Cells are drawn without replacement, so a budget of at least the
size of the space scores every cell once. In a space that is not enumerated (DARTS, ~1e18
genotypes) the cells are uniform draws (`Space.sample_np`), repeats redrawn.
"""

import numpy as np

from jaxnas.errors import ArchError
from jaxnas.search.history import Found, History, as_rng, check_budget
from jaxnas.spaces import NB201, nb201


def candidates(mask=None, *, unique=False) -> np.ndarray:
    """Official indices of the cells a search may return: every cell whose ops the bool `[6, 5]`
    `mask` allows (all if None), or with `unique` only the isomorphism-class representatives."""
    allowed = nb201.check_mask(mask)
    indices = nb201.unique_indices() if unique else np.arange(nb201.NUM_ARCHS)
    archs = nb201.all_archs()[indices]
    return indices[allowed[np.arange(nb201.NUM_EDGES), archs].all(axis=1)]


def _distinct_draws(space, rng, n, mask):
    """`n` distinct uniform architectures of a space too large to enumerate (fewer only if the
    mask allows fewer: then all of them)."""
    if space.mask_size(space.check_mask(mask)) <= n:
        return space.mask_archs(mask)
    seen, rows = set(), []
    while len(rows) < n:
        for arch in space.sample_np(rng, n - len(rows), mask=mask):
            key = arch.tobytes()
            if key not in seen:
                seen.add(key)
                rows.append(arch)
    return np.stack(rows).astype(np.int32)


def search(score_fn, budget, *, seed=0, mask=None, unique=False, batch_size=100,
           progress=False, cache=None, on_scored=None, space=NB201) -> Found:
    """Random search.

    Args:
      score_fn: `archs int[n, 6] -> float[n]` (DARTS `[n, 28]`), higher is better.
      budget: number of cells scored (capped at the size of the space).
      seed: an int or a `numpy.random.Generator`.
      mask: optional bool `[6, 5]` (DARTS `[28, 8]`), the ops each edge may take (e.g. an
        ABS-shrunk space).
      unique: draw only isomorphism-class representatives (6,466 in the full space).
      batch_size: cells per `score_fn` call.
      progress: show a progress bar with ETA.
      cache, on_scored: see `History` (scores known beforehand, e.g. of an interrupted search).
      space: the `Space` (`jaxnas.spaces.NB201` or `DARTS`).
    """
    budget = check_budget(budget)
    if space.size is None:
        archs = _distinct_draws(space, as_rng(seed), budget, mask)
        return _score_all(score_fn, archs, batch_size, progress, cache, on_scored, space)
    pool = candidates(mask, unique=unique)
    if not pool.size:
        raise ArchError("mask allows no isomorphism-class representative")
    picks = as_rng(seed).choice(pool, min(budget, pool.size), replace=False)
    return _score_all(score_fn, nb201.all_archs()[picks], batch_size, progress, cache,
                      on_scored, space)


def _score_all(score_fn, archs, batch_size, progress, cache, on_scored, space):
    history = History(score_fn, budget=len(archs), progress=progress, desc="random search",
                      cache=cache, on_scored=on_scored, space=space)
    try:
        for start in range(0, len(archs), batch_size):
            history.evaluate(archs[start:start + batch_size])
    finally:
        history.close()
    return history.found()
