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


class _BeforeSpace(NamedTuple):
    """The train state's fields before it held the space."""

    params: Any
    opt_state: Any
    step: jax.Array
    rng: jax.Array
    extra: Any = None


def before_space(template):
    """The layout of checkpoints written before the state held the space (jaxnas 0.1.0 up to
    commit 0d8a1eb) and the upgrade that gives a state restored in it the template's space (the
    run's initial one). Runs whose techniques kept state under other names then (`angle`,
    `search.gdas`) still do not restore."""
    old = _BeforeSpace(template.params, template.opt_state, template.step, template.rng,
                       template.extra)
    return old, lambda s: TrainState(s.params, s.opt_state, s.step, s.rng, template.space, s.extra)
