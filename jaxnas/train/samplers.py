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
               every op of every edge once (on spaces with one op per edge); in DARTS 7 paths
               on one topology, every non-`none` op of every used edge once (below)

FairNAS on a shrunk space: an edge with m < 5 allowed ops cannot use each once in 5 paths; here
strict fairness means *balanced*: each allowed op is used floor(5/m) or ceil(5/m) times in the
step (the 5 mod m extra uses go to allowed ops drawn without replacement), disallowed ops never,
and the slots are permuted per edge. With a full mask it is exactly FairNAS. The path count
stays 5 so the mask stays a runtime value.

A tied edge (the base step argument `"tied_edge"`, int32, -1 for none): that edge gets one op,
uniform over its allowed ops, in all 5 paths, and fairness holds on the other edges only.
DYNAS's FairNAS + momentum separation shares the split edge's op so that the 5 paths of a step
fall in one momentum group (`jaxnas.techniques.ms` sets the argument).

Spaces where a used edge takes only some ops (`Space.split_ops`; DARTS: not `none`, which marks
the edges a node does not use). A genotype uses 2 of a node's incoming edges, so FairNAS's "every
op of every edge in one step" gives no genotypes. Here a step draws one topology (which edges
each node uses) uniformly, as `Space.sample` (every genotype equally likely), and its
`len(split_ops)` paths (7) share it: each used edge takes every allowed non-`none` op once
(balanced as above under a mask), unused edges stay `none`. Strict fairness thus holds on the
edges a step trains, and the inputs are chosen fairly across steps (FairNAS applied to the
step's sub-supernet; FairDARTS and FairNAS discuss no DARTS topology rule of their own).
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


def fair_archs(key, mask, tied_edge=None, num_paths=FAIR_PATHS):
    """int32 `[num_paths, edges]`: architectures that use each allowed op of each edge in
    balance (`mask` bool `[edges, ops]`); `tied_edge` (int, possibly traced; None or -1: none)
    gets one op in all of them."""
    mask = jnp.asarray(mask, bool)
    num_edges, num_ops = mask.shape
    k_noise, k_tied = jax.random.split(key)
    noise = jax.random.uniform(k_noise, (2, num_edges, num_ops))
    # Allowed ops of each edge first, in a random order; slot j takes the (j mod m)-th of them.
    order = jnp.argsort(jnp.where(mask, noise[0], 2.0), axis=1)
    m = jnp.maximum(mask.sum(axis=1), 1)
    seq = jnp.take_along_axis(order, jnp.arange(num_paths)[None, :] % m[:, None], axis=1)
    # Decorrelate the edges: an independent permutation of the slots per edge.
    slots = noise[1] if num_paths == num_ops else \
        jax.random.uniform(jax.random.fold_in(k_noise, 1), (num_edges, num_paths))
    perms = jnp.argsort(slots, axis=1)
    archs = jnp.take_along_axis(seq, perms, axis=1).T
    if tied_edge is not None:
        e = jnp.asarray(tied_edge, jnp.int32)
        op = jax.random.categorical(k_tied, jnp.where(mask[jnp.maximum(e, 0)], 0.0, -jnp.inf))
        archs = jnp.where(jnp.arange(num_edges)[None, :] == e, op, archs)
    return archs.astype(jnp.int32)


def fair_topology_archs(space, key, mask, tied_edge=None):
    """int32 `[len(space.split_ops), edges]`: one topology drawn by `space.sample`, its used
    edges taking every allowed op of `space.split_ops` once (module docstring)."""
    ops = jnp.asarray(space.split_ops, jnp.int32)
    mask = jnp.asarray(mask, bool)
    k_topo, k_ops = jax.random.split(key)
    topology = space.sample(k_topo, mask)
    used = (topology[:, None] == ops[None, :]).any(-1)
    fair = fair_archs(k_ops, mask[:, ops], tied_edge, num_paths=len(space.split_ops))
    return jnp.where(used[None, :], ops[fair], topology[None, :]).astype(jnp.int32)


def fairnas(space):
    """FairNAS's paths per step (5 in NB201, 7 on one topology in DARTS); reads
    `step_args["tied_edge"]` when present."""
    if len(space.arch_shape) != 1 or tuple(space.mask_shape[:1]) != tuple(space.arch_shape):
        raise ConfigError(f"sampler 'fairnas' needs a space with one op per edge; {space.name} "
                          f"architectures have shape {space.arch_shape}")
    every_op = tuple(space.split_ops) == tuple(range(space.mask_shape[1]))

    def sample(key, step_args, extra=None):
        del extra
        if every_op:
            return fair_archs(key, step_args["mask"], step_args.get("tied_edge"))
        return fair_topology_archs(space, key, step_args["mask"], step_args.get("tied_edge"))

    sample.num_paths = FAIR_PATHS if every_op else len(space.split_ops)
    return sample


SAMPLERS = {"uniform": uniform, "unique": unique, "unique_conv": unique_conv,
            "fairnas": fairnas}


def make(name, space):
    """The sampler named `name` (`config.sampler`) over `space`."""
    if name not in SAMPLERS:
        raise ConfigError(f"unknown sampler {name!r}; choose one of {sorted(SAMPLERS)}")
    return SAMPLERS[name](space)
