"""What a search strategy returns: the best architecture and every evaluation in order.

Strategies are host-side loops over a `score_fn(archs int[n, ...]) -> float[n]` (higher is
better, e.g. a supernet's held-out accuracy) in a `Space` (NB201 `[n, 6]` by default, DARTS
`[n, 28]`); `History` records each scored architecture so a result file can show the search
trajectory.
"""

from typing import NamedTuple

import numpy as np
from tqdm.auto import tqdm

from jaxnas.errors import ConfigError
from jaxnas.spaces import NB201


class Found(NamedTuple):
    """The outcome of a search.

    Attributes:
      arch: int32 `[6]` (DARTS `[28]`), the best architecture found.
      score: its score.
      archs: int32 `[n, 6]` (`[n, 28]`), every evaluated architecture in evaluation order.
      scores: float64 `[n]`, their scores.
    """

    arch: np.ndarray
    score: float
    archs: np.ndarray
    scores: np.ndarray


class History:
    """Evaluation order and scores; repeated architectures are looked up instead of rescored
    (a supernet's score of an architecture is deterministic for fixed weights and data)."""

    def __init__(self, score_fn, *, budget=None, progress=False, desc="search", cache=None,
                 on_scored=None, space=NB201):
        """`cache`: a dict `arch_keys` key -> score, read and extended (e.g. one kept on disk
        to resume a search); `on_scored(n)` is called after each `score_fn` call of n cells."""
        self._space = space
        self._score_fn = score_fn
        self._cache = {} if cache is None else cache
        self._on_scored = on_scored
        self.archs, self.scores = [], []
        self._bar = tqdm(total=budget, desc=desc, unit="arch", dynamic_ncols=True,
                         leave=False) if progress else None

    def __len__(self):
        return len(self.archs)

    def evaluate(self, archs) -> np.ndarray:
        """Scores of `archs` `[n, ...]`, in order; every row counts as one evaluation."""
        archs = np.asarray(archs, np.int32).reshape((-1,) + tuple(self._space.arch_shape))
        indices = arch_keys(self._space, archs)
        new = {}  # index -> first row, in order of appearance
        for row, index in enumerate(indices):
            if index not in self._cache:
                new.setdefault(index, row)
        if new:
            values = np.asarray(self._score_fn(archs[list(new.values())]), np.float64)
            if values.shape != (len(new),):
                raise ConfigError(f"score function returned shape {list(values.shape)} for "
                                  f"{len(new)} architectures")
            self._cache.update(zip(new, values.tolist()))
            if self._on_scored is not None:
                self._on_scored(len(new))
        scores = np.array([self._cache[i] for i in indices], np.float64)
        self.archs.extend(archs)
        self.scores.extend(scores.tolist())
        if self._bar is not None:
            self._bar.update(len(indices))
            self._bar.set_postfix(best=f"{max(self.scores):.4g}")
        return scores

    def close(self):
        if self._bar is not None:
            self._bar.close()

    def found(self) -> Found:
        if not self.archs:
            raise ConfigError("the search evaluated no architecture (budget 0?)")
        scores = np.asarray(self.scores)
        best = int(np.argmax(scores))  # the first of equal bests
        archs = np.stack(self.archs).astype(np.int32)
        return Found(archs[best].copy(), float(scores[best]), archs, scores)


def arch_keys(space, archs) -> list:
    """One hashable key per architecture: the official index in an enumerable space (NB201),
    else the canonical text form (DARTS's Genotype text)."""
    archs = np.asarray(archs, np.int32).reshape((-1,) + tuple(space.arch_shape))
    if space.size is not None:
        return [int(i) for i in space.to_index(archs)]
    return [space.to_str(a) for a in space.canonical(archs)]


def check_budget(budget) -> int:
    if not isinstance(budget, (int, np.integer)) or isinstance(budget, bool) or budget < 1:
        raise ConfigError(f"search budget must be a positive int, got {budget!r}")
    return int(budget)


def as_rng(seed) -> np.random.Generator:
    """A numpy Generator from a seed, or the Generator itself."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
