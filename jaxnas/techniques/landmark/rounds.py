"""The multi-round pipeline (paper Fig. 2): after a round, the supernet's best become landmarks.

The reference repository has no implementation; this follows the paper's text. After warm-up,
training is split into `rounds` rounds; at the first epoch of rounds 2..T the supernet scores a
pool of candidate cells, the `top_k` best that are not yet landmarks (nor isomorphic to one)
get their ground truth from the table and join the set, and training continues. The paper
samples 10 landmarks per iteration and uses T=3 (30 landmarks); its Table 6 trains 150 epochs
per iteration after a 250-epoch pre-training. The reference finds the top cells by regularised
evolution with a 1,000-cell budget; here the pool is a seeded sample of `pool` non-isomorphic
cells (or all 6,466), scored by any `score(archs) -> float[n]` (higher = better).
"""

import numpy as np

from jaxnas.errors import ConfigError
from jaxnas.techniques.landmark.landmarks import (LandmarkState, Table, exclusions, indices_of,
                                       make_state)
from jaxnas.spaces import nb201 as space


def round_starts(rounds, round_epochs, warmup_epochs, epochs):
    """1-based epochs at which rounds 2..`rounds` start (empty for one round).

    Rounds follow the warm-up; each lasts `round_epochs` epochs (0 = split the epochs after the
    warm-up evenly; the last round takes any remainder).
    """
    if not isinstance(rounds, int) or rounds < 1:
        raise ConfigError(f"landmark.rounds must be an int >= 1, got {rounds!r}")
    if not isinstance(round_epochs, int) or round_epochs < 0:
        raise ConfigError(f"landmark.round_epochs must be an int >= 0, got {round_epochs!r}")
    length = round_epochs or (epochs - warmup_epochs) // rounds
    starts = tuple(warmup_epochs + r * length + 1 for r in range(1, rounds))
    if rounds > 1 and (length < 1 or starts[-1] > epochs):
        raise ConfigError(f"{rounds} landmark rounds of {length} epoch(s) after a "
                          f"{warmup_epochs}-epoch warm-up do not fit in {epochs} epochs")
    return starts


def rounds_due(epoch, starts):
    """How many additions must have happened before the steps of the 1-based `epoch`."""
    return sum(1 for s in starts if s <= epoch)


def candidates(pool, *, seed, exclude=(), mask=None):
    """Sorted NB201 indices of the cells a round scores: `pool` class representatives sampled
    with `seed` ("unique" or a pool larger than what is left: all of them), minus `exclude`,
    within the space `mask` (bool `[6, 5]`, e.g. ABS-shrunk) when given."""
    if pool != "unique" and (not isinstance(pool, (int, np.integer)) or isinstance(pool, bool)
                             or pool < 1):
        raise ConfigError(f"landmark.round_pool must be a positive int or 'unique', got {pool!r}")
    reps = np.setdiff1d(space.unique_indices(), np.asarray(exclude, np.int64))
    if mask is not None:
        reps = reps[space.in_space(reps, mask)]
    if pool == "unique" or pool >= reps.size:
        return reps.astype(np.int64)
    return np.sort(np.random.default_rng(seed).choice(reps, int(pool), replace=False))


def best(scores, indices, state: LandmarkState, k, *, known=None, isomorphic=True):
    """The `k` best-scored cells of `indices` that may join the set, best first.

    Cells already in the set (or isomorphic to a landmark, with `isomorphic`) are passed over,
    and with `known` (a `Table`) so are cells it has no ground truth for. Ties in score keep the
    order of `indices`."""
    scores, indices = np.asarray(scores, np.float64), np.asarray(indices, np.int64)
    if scores.shape != indices.shape or indices.ndim != 1:
        raise ConfigError(f"scores {list(scores.shape)} and indices {list(indices.shape)} must "
                          "be equal 1-D arrays")
    taken = set(exclusions(state, isomorphic).tolist())
    canon = space.canonical_indices()
    chosen = []
    for i in np.argsort(-scores, kind="stable"):
        if len(chosen) == k:
            break
        index = int(indices[i])
        key = int(canon[index]) if isomorphic else index
        if index in taken or key in taken or (known is not None
                                              and np.isnan(known.lookup([index])[0])):
            continue
        chosen.append(index)
        taken.update({index, key})
    return np.array(chosen, np.int64)


def add_top_k(state: LandmarkState, scores, indices, table: Table, k, *, isomorphic=True):
    """Add the `k` best-scored cells of `indices` (with their ground truth) to the set.

    Cells already in the set (or isomorphic to a landmark, with `isomorphic`) and cells the
    table does not know are passed over (`best`). Returns `(new_state, added_indices)`; the
    capacity of `state` must hold the additions.
    """
    added = best(scores, indices, state, k, known=table, isomorphic=isomorphic)
    current = indices_of(state)
    capacity = state.archs.shape[0]
    if len(current) + len(added) > capacity:
        raise ConfigError(f"landmark capacity {capacity} cannot hold {len(current)} + "
                          f"{len(added)} landmarks")
    new = make_state(np.concatenate([current, added]).astype(np.int64), table, capacity,
                     rounds_done=int(state.rounds_done) + 1)
    return new, added
