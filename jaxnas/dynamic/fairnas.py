"""FairNAS strict-fairness sampling (Chu et al., ICCV 2021) on the NB201 cell.

Each step trains 5 subnets that together use every op of every edge exactly once: the op column
of every edge is an independent random permutation of the 5 ops. The step sums their losses
(gradients accumulated) and makes one update.

On a shrunk space (`step_args["mask"]`, bool `[6, 5]`, e.g. from angle-based shrinking) an edge
with m < 5 allowed ops cannot use each once in 5 subnets. Here strict fairness means *balanced*:
on every edge each allowed op is used floor(5/m) or ceil(5/m) times in the step (the 5 mod m
extra uses go to allowed ops drawn uniformly without replacement), disallowed ops never, and the
slots are randomly permuted per edge. Every allowed op of an edge is then trained equally often
in expectation and at most once more than any other within a step; with a full mask it is exactly
FairNAS. The number of subnets stays 5 so the mask stays a runtime value (no recompilation).

A shared edge (DYNAS's FairNAS + momentum separation, `train_fairnas.py`): that edge gets one
op, drawn uniformly from its allowed ops, in all 5 subnets (so they share one momentum group),
and fairness holds on the other edges only. The `dynamic.ms` technique passes its split edge as
the runtime step argument `"fairnas_shared_edge"`.
"""

from typing import Optional

import jax
import jax.numpy as jnp

from jaxnas.errors import ConfigError

NUM_EDGES, NUM_OPS, NUM_PATHS = 6, 5, 5


def fair_archs(key, mask=None, shared_edge=None):
    """int32 `[5, 6]`: 5 architectures that use each allowed op of each edge in balance.

    `shared_edge` (an int, possibly traced; None or -1: none) gets one op in all 5."""
    mask = jnp.ones((NUM_EDGES, NUM_OPS), bool) if mask is None else jnp.asarray(mask, bool)
    k_noise, k_shared = jax.random.split(key)
    noise = jax.random.uniform(k_noise, (2, NUM_EDGES, NUM_OPS))
    # Allowed ops of each edge first, in a random order; slot j takes the (j mod m)-th of them.
    order = jnp.argsort(jnp.where(mask, noise[0], 2.0), axis=1)
    m = jnp.maximum(mask.sum(axis=1), 1)
    seq = jnp.take_along_axis(order, jnp.arange(NUM_PATHS)[None, :] % m[:, None], axis=1)
    # Decorrelate the edges: an independent permutation of the 5 slots per edge.
    perms = jnp.argsort(noise[1], axis=1)
    archs = jnp.take_along_axis(seq, perms, axis=1).T
    if shared_edge is not None:
        e = jnp.asarray(shared_edge, jnp.int32)
        op = jax.random.categorical(k_shared, jnp.where(mask[jnp.maximum(e, 0)], 0.0, -jnp.inf))
        archs = jnp.where(jnp.arange(NUM_EDGES)[None, :] == e, op, archs)
    return archs.astype(jnp.int32)


def fairnas(shared_edge: Optional[int] = None):
    """The sampler `(key, step_args) -> int32[5, 6]` (registered as `config.sampler = "fairnas"`).

    It reads `step_args["mask"]` when present (all ops allowed otherwise) and the shared edge
    from `step_args["fairnas_shared_edge"]` (int32 scalar, -1 for none; set by the `dynamic.ms`
    technique) when present, else `shared_edge`. An edge whose mask allows no op gets op 0;
    callers keep at least one op per edge.
    """
    if shared_edge is not None and not (isinstance(shared_edge, int) and
                                         0 <= shared_edge < NUM_EDGES):
        raise ConfigError(f"fairnas shared_edge must be an edge 0..5, got {shared_edge!r}")

    def sample(key, step_args=None):
        step_args = step_args or {}
        edge = step_args.get("fairnas_shared_edge", shared_edge)
        return fair_archs(key, step_args.get("mask"), edge)

    return sample
