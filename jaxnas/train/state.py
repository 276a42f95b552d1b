"""The train state: one pytree holding everything a step reads and writes."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class TrainState(NamedTuple):
    """Parameters, optimizer state, step counter and base PRNG key.

    `params` is whatever the forward function trains (the supernet, plus e.g. a CLOSE gate);
    `extra` holds technique state that is not trained by the optimizer (e.g. initial weights for
    angle metrics). The per-step key is `fold_in(rng, step)`, so a resumed run draws the same
    architectures and augmentations as an uninterrupted one.
    """

    params: Any
    opt_state: Any
    step: jax.Array
    rng: jax.Array
    extra: Any = None


def create(params, tx, seed, extra=None):
    return TrainState(params=params, opt_state=tx.init(params), step=jnp.zeros((), jnp.int32),
                      rng=jax.random.key_data(jax.random.key(seed)), extra=extra)
