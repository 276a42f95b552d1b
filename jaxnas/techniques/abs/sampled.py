"""Operator scores over sampled architectures, for spaces too large to enumerate (DARTS).

AngleNAS `DARTS/shrinking/shrinking.py` scores an operator (edge, op) by the mean angle of up to
1,000 child models of the current space that contain it. Here, for every operator of an edge
with more than one allowed op, `num` architectures are drawn uniformly from the current space
restricted to that op on that edge (the space's jittable `sample` under the restricted mask; one
compilation per space and `num`), seeded by `key`. Duplicates are dropped (AngleNAS visits each
child once per step), and the pool is scored by `shrink.operator_scores`: every architecture
credits every operator it contains (as there; the reference's cap of 1,000 per operator is not
applied).
"""

import functools

import jax
import numpy as np

from jaxnas.errors import ArchError


def restricted_masks(space, mask):
    """`(masks [E*O, E, O], ok [E*O])`: per operator (row-major over edge, op), `mask` with that
    edge allowed only that op; `ok` where the operator is allowed on an edge with other ops and
    the restricted mask still allows an architecture."""
    mask = np.asarray(mask, bool)
    edges, num_ops = mask.shape
    masks = np.repeat(mask[None], edges * num_ops, axis=0)
    ok = np.zeros(edges * num_ops, bool)
    for e in range(edges):
        for o in range(num_ops):
            i = e * num_ops + o
            masks[i, e] = np.arange(num_ops) == o
            if mask[e, o] and mask[e].sum() > 1:
                try:
                    space.check_mask(masks[i])
                    ok[i] = True
                except ArchError:
                    pass
    return masks, ok


@functools.partial(jax.jit, static_argnames=("space", "num"))
def _draw(space, key, masks, num):
    """`[masks, num, *arch_shape]`: `num` draws of `space.sample` under each mask."""
    keys = jax.random.split(key, masks.shape[0] * num).reshape(masks.shape[0], num)
    return jax.vmap(lambda ks, m: jax.vmap(lambda k: space.sample(k, m))(ks))(keys, masks)


def containing(space, mask, num, key) -> np.ndarray:
    """Distinct architectures `[n, ...]`: `num` uniform draws of the space `mask` containing each
    operator of an edge that has more than one allowed op (`restricted_masks`)."""
    masks, ok = restricted_masks(space, mask)
    if not ok.any():
        return np.zeros((0, *space.arch_shape), np.int32)
    archs = np.asarray(_draw(space, key, masks, num))[ok]
    return np.unique(archs.reshape(-1, *space.arch_shape), axis=0)
