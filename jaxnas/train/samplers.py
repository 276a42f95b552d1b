"""Architecture samplers for single-path training: pure `key -> int32[NUM_EDGES]` functions.

They run inside the jitted step, so sampling costs no host round trip and is reproduced exactly on
resume. A `mask` (bool `[NUM_EDGES, NUM_OPS]`, e.g. from angle-based shrinking) restricts the ops
each edge may take.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.errors import ConfigError
from jaxnas.spaces import nb201


def uniform(mask=None):
    """Uniform over all cells (each edge's op uniform over its allowed ops): SPOS."""
    logits = jnp.zeros((nb201.NUM_EDGES, nb201.NUM_OPS))
    if mask is not None:
        mask = np.asarray(mask, bool)
        if not mask.any(axis=1).all():
            raise ConfigError("sampler mask allows no op on some edge")
        logits = jnp.where(mask, 0.0, -jnp.inf)

    def sample(key):
        return jax.random.categorical(key, logits).astype(jnp.int32)

    return sample


def unique(mask=None):
    """Uniform over the non-isomorphic representatives (aw_nas's `deiso`), optionally masked."""
    table = nb201.all_archs()[nb201.unique_indices()]
    if mask is not None:
        mask = np.asarray(mask, bool)
        table = table[mask[np.arange(nb201.NUM_EDGES), table].all(axis=1)]
        if len(table) == 0:
            raise ConfigError("sampler mask allows no non-isomorphic architecture")
    table = jnp.asarray(table, jnp.int32)

    def sample(key):
        return table[jax.random.randint(key, (), 0, table.shape[0])]

    return sample


SAMPLERS = {"uniform": uniform, "unique": unique}


def make(name, mask=None):
    if name not in SAMPLERS:
        raise ConfigError(f"unknown sampler {name!r}; choose one of {sorted(SAMPLERS)}")
    return SAMPLERS[name](mask)
