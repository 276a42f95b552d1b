"""Architecture samplers of the base: pure `sampler(key, step_args, extra) -> int32[k, ...]`.

They run inside the jitted step, so sampling costs no host round trip and is reproduced exactly
on resume. They read the runtime space mask `step_args["mask"]` (bool `Space.mask_shape`, e.g.
after ABS shrinking), so a new space changes what they draw without recompiling. `make(name,
space)` returns the sampler of `config.sampler`, with its `num_paths` (architectures per step):

  uniform      each edge's op uniform over its allowed ops (SPOS), 1 path
  unique       uniform over the isomorphism classes the mask allows (aw_nas's `deiso`), 1 path
  unique_conv  `unique` over the classes with a convolution on a live path: CLOSE's reference
               sampler (aw_nas's `deiso` + `check_valid`), the CLOSE configs' default, 1 path
  fairnas      FairNAS's strict fairness (Chu et al., ICCV 2021): 5 paths per step that use
               every op of every edge once (on spaces with one op per edge)

FairNAS on a shrunk space: an edge with m < 5 allowed ops cannot use each once in 5 paths; here
strict fairness means *balanced*: each allowed op is used floor(5/m) or ceil(5/m) times in the
step (the 5 mod m extra uses go to allowed ops drawn without replacement), disallowed ops never,
and the slots are permuted per edge. With a full mask it is exactly FairNAS. The path count
stays 5 so the mask stays a runtime value.

A tied edge (the base step argument `"tied_edge"`, int32, -1 for none): that edge gets one op,
uniform over its allowed ops, in all 5 paths, and fairness holds on the other edges only.
DYNAS's FairNAS + momentum separation shares the split edge's op so that the 5 paths of a step
fall in one momentum group (`jaxnas.techniques.ms` sets the argument).
"""

import jax
import jax.numpy as jnp

from jaxnas.errors import ConfigError

FAIR_PATHS = 5


def uniform(space):
    """Uniform over the cells the mask allows (each edge's op uniform over its allowed ops)."""

    def sample(key, step_args, extra=None):
        del extra
        return space.sample(key, step_args["mask"])[None]

    sample.num_paths = 1
    return sample


def unique(space):
    """Uniform over the isomorphism-class representatives the mask allows."""

    def sample(key, step_args, extra=None):
        del extra
        return space.sample_canonical(key, step_args["mask"])[None]

    sample.num_paths = 1
    return sample


def unique_conv(space):
    """Uniform over the isomorphism-class representatives the mask allows that have a
    convolution on a live path (a path of non-`none` edges from the cell input to its output).

    As aw_nas samples for CLOSE: of the 15,625 NB201 cells, 1,983 (12.69%) have no convolution on
    a live path and are rejected there; 6,321 of the 6,466 representatives qualify
    (`tests/test_samplers.py`). The mask is a runtime value, so one that allows no qualifying
    representative cannot be refused: the sampler then draws from every representative the
    mask allows (`unique`).
    """

    def sample(key, step_args, extra=None):
        del extra
        return space.sample_canonical(key, step_args["mask"], require_conv=True)[None]

    sample.num_paths = 1
    return sample


def fair_archs(key, mask, tied_edge=None):
    """int32 `[5, edges]`: 5 architectures that use each allowed op of each edge in balance
    (`mask` bool `[edges, ops]`); `tied_edge` (int, possibly traced; None or -1: none) gets one
    op in all 5."""
    mask = jnp.asarray(mask, bool)
    num_edges, num_ops = mask.shape
    k_noise, k_tied = jax.random.split(key)
    noise = jax.random.uniform(k_noise, (2, num_edges, num_ops))
    # Allowed ops of each edge first, in a random order; slot j takes the (j mod m)-th of them.
    order = jnp.argsort(jnp.where(mask, noise[0], 2.0), axis=1)
    m = jnp.maximum(mask.sum(axis=1), 1)
    seq = jnp.take_along_axis(order, jnp.arange(FAIR_PATHS)[None, :] % m[:, None], axis=1)
    # Decorrelate the edges: an independent permutation of the 5 slots per edge.
    perms = jnp.argsort(noise[1], axis=1)
    archs = jnp.take_along_axis(seq, perms, axis=1).T
    if tied_edge is not None:
        e = jnp.asarray(tied_edge, jnp.int32)
        op = jax.random.categorical(k_tied, jnp.where(mask[jnp.maximum(e, 0)], 0.0, -jnp.inf))
        archs = jnp.where(jnp.arange(num_edges)[None, :] == e, op, archs)
    return archs.astype(jnp.int32)


def fairnas(space):
    """FairNAS's 5 paths per step; reads `step_args["tied_edge"]` when present."""
    if len(space.arch_shape) != 1 or tuple(space.mask_shape[:1]) != tuple(space.arch_shape):
        raise ConfigError(f"sampler 'fairnas' needs a space with one op per edge; {space.name} "
                          f"architectures have shape {space.arch_shape}")

    def sample(key, step_args, extra=None):
        del extra
        return fair_archs(key, step_args["mask"], step_args.get("tied_edge"))

    sample.num_paths = FAIR_PATHS
    return sample


SAMPLERS = {"uniform": uniform, "unique": unique, "unique_conv": unique_conv,
            "fairnas": fairnas}


def make(name, space):
    """The sampler named `name` (`config.sampler`) over `space`."""
    if name not in SAMPLERS:
        raise ConfigError(f"unknown sampler {name!r}; choose one of {sorted(SAMPLERS)}")
    return SAMPLERS[name](space)
