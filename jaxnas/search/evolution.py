"""Regularised (aging) evolution (Real et al., AAAI 2019) over a (masked) space.

A population of `population_size` random cells is scored; then, until `budget` cells have been
evaluated, a tournament of `tournament_size` members drawn with replacement picks the best as
parent, its child is one mutation away (`Space.mutate`: NB201 one edge to another allowed op;
DARTS one used edge's op, or one input of a node moved, always a valid genotype), joins the
population and the oldest member leaves. The result is the best cell ever evaluated. Defaults
are those of the Landmark paper's final search (population 50, tournament 10, one mutation,
1,000 cells).

`children_per_round > 1` runs that many tournaments on the same population and scores the
children in one `score_fn` call (then ages out as many members): fewer, larger calls, at the cost
of the children not seeing each other. The default 1 is Real et al.'s algorithm.
"""

import collections

import numpy as np

from jaxnas.errors import ConfigError
from jaxnas.search.history import Found, History, as_rng, check_budget
from jaxnas.spaces import NB201


def search(score_fn, budget=1000, *, seed=0, mask=None, population_size=50, tournament_size=10,
           children_per_round=1, progress=False, cache=None, on_scored=None,
           space=NB201) -> Found:
    """Regularised evolution.

    Args:
      score_fn: `archs int[n, 6] -> float[n]` (DARTS `[n, 28]`), higher is better.
      budget: architectures evaluated, the initial population included; a repeat counts but is
        looked up rather than rescored.
      seed: an int or a `numpy.random.Generator`.
      mask: optional bool `[6, 5]` (DARTS `[28, 8]`): initial cells and mutations use only
        allowed ops.
      population_size, tournament_size, children_per_round: see the module docstring.
      progress: show a progress bar with ETA.
      cache, on_scored: see `History` (scores known beforehand, e.g. of an interrupted search).
      space: the `Space` (`jaxnas.spaces.NB201` or `DARTS`).
    """
    budget = check_budget(budget)
    for name, value in (("population_size", population_size),
                        ("tournament_size", tournament_size),
                        ("children_per_round", children_per_round)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"evolution {name} must be a positive int, got {value!r}")
    rng = as_rng(seed)
    # With two or more allowed cells every cell has an allowed neighbour (in DARTS too: two
    # genotypes of a node differ by op changes and input moves the mask allows one by one).
    mutable = space.mask_size(space.check_mask(mask)) > 1
    history = History(score_fn, budget=budget, progress=progress, desc="evolution", cache=cache,
                      on_scored=on_scored, space=space)
    try:
        first = space.sample_np(rng, min(population_size, budget), mask=mask)
        population = collections.deque(zip(first, history.evaluate(first)))
        while len(history) < budget and mutable:
            n = min(children_per_round, budget - len(history))
            members = list(population)
            children = []
            for _ in range(n):
                contenders = rng.integers(0, len(members), tournament_size)
                parent = max((members[i] for i in contenders), key=lambda m: m[1])[0]
                children.append(space.mutate(rng, parent, mask=mask))
            children = np.stack(children)
            population.extend(zip(children, history.evaluate(children)))
            for _ in range(n):
                population.popleft()
    finally:
        history.close()
    return history.found()
