"""The train state: one pytree holding everything a step reads and writes."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class TrainState(NamedTuple):
    """Parameters, optimizer state, step counter, base PRNG key, current space, technique state.

    `params` is whatever the forward function trains (the supernet, plus e.g. a CLOSE gate);
    `space` is the space the run samples from, a bool mask of the run's `Space`
    (`Space.mask_shape`; narrowed by a technique that provides "space", e.g. ABS); `extra`
    holds technique state that is not trained by the optimizer, by canonical technique name.
    The per-step key is `fold_in(rng, step)`, so a resumed run draws the same architectures and
    augmentations as an uninterrupted one.
    """

    params: Any
    opt_state: Any
    step: jax.Array
    rng: jax.Array
    space: Any = None
    extra: Any = None


def create(params, tx, seed, *, space=None, extra=None):
    """The state at step 0 for `params` and optimizer `tx` (the step key from `seed`)."""
    return TrainState(params=params, opt_state=tx.init(params), step=jnp.zeros((), jnp.int32),
                      rng=jax.random.key_data(jax.random.key(seed)), space=space, extra=extra)
