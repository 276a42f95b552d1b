"""Architecture samplers: pure `sampler(key, step_args) -> int32[k, NUM_EDGES]` functions.

They run inside the jitted step, so sampling costs no host round trip and is reproduced exactly
on resume. They read the runtime mask `step_args["mask"]` (bool `[NUM_EDGES, NUM_OPS]`: which ops
each edge may take, e.g. after angle-based shrinking), so shrinking the space between epochs
changes what they draw without recompiling. A single-path sampler returns one architecture
(`k = 1`); FairNAS returns the five that cover every op of every edge once.
"""

import importlib

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.errors import ConfigError
from jaxnas.spaces import nb201


def full_mask():
    """The mask of the whole space: every op allowed on every edge."""
    return np.ones((nb201.NUM_EDGES, nb201.NUM_OPS), bool)


def uniform():
    """Uniform over the allowed cells (each edge's op uniform over its allowed ops): SPOS."""

    def sample(key, step_args):
        logits = jnp.where(step_args["mask"], 0.0, -jnp.inf)
        return jax.random.categorical(key, logits).astype(jnp.int32)[None]

    return sample


def unique():
    """Uniform over the non-isomorphic representatives (aw_nas's `deiso`) the mask allows."""
    table = jnp.asarray(nb201.all_archs()[nb201.unique_indices()], jnp.int32)
    edges = jnp.arange(nb201.NUM_EDGES)

    def sample(key, step_args):
        mask = step_args["mask"]
        allowed = mask[edges, table].all(axis=1)

        def any_rep(key):  # the whole space: one uniform index, as before masks were runtime
            return jax.random.randint(key, (), 0, table.shape[0])

        def allowed_rep(key):
            return jax.random.categorical(key, jnp.where(allowed, 0.0, -jnp.inf))

        i = jax.lax.cond(mask.all(), any_rep, allowed_rep, key)
        return table[i][None]

    return sample


# Samplers by config name; "fairnas" lives with the dynamic-supernet technique.
SAMPLERS = {"uniform": "jaxnas.train.samplers:uniform", "unique": "jaxnas.train.samplers:unique",
            "fairnas": "jaxnas.dynamic.fairnas:fairnas"}


def make(name):
    """The sampler named `name` (`config.sampler`)."""
    if name not in SAMPLERS:
        raise ConfigError(f"unknown sampler {name!r}; choose one of {sorted(SAMPLERS)}")
    module, attr = SAMPLERS[name].split(":")
    return getattr(importlib.import_module(module), attr)()
