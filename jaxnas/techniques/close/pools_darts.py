"""CLOSENet's GLOW-block layout in the DARTS supernet's pools, and its sharing maps.

aw_nas's NB301 `CloseCell` gives a normal cell K stride-1 blocks and a reduction cell two pools:
K stride-1 blocks, and K stride-2 blocks read by the edges from the cell's two inputs (the
stride-2 edges) at the same gate index. Here every cell owns `slots_per_cell = 2K` slots of its
width group's pool: block b of the stride-1 pool is slot `local * 2K + b`, of the stride-2 pool
`local * 2K + K + b` (`local`: the cell's position in its width group). Normal cells never read
the upper half; the optimizer's block mask keeps it at its init.
"""

import functools

import jax
import numpy as np

from jaxnas.spaces.darts import EDGES, NUM_EDGES
from jaxnas.supernet import darts


def slots_per_cell(k_max):
    return 2 * k_max


def _stride2(cfg: darts.SupernetConfig):
    """bool `[layers, 14]`: the edges that read the stride-2 pool (reduction cell, input node)."""
    reduce = np.array([cell[1] for cell in cfg.cells])
    from_input = np.array([src < 2 for _, src in EDGES])
    return reduce[:, None] & from_input[None]


def close_sharing(blocks, cfg: darts.SupernetConfig, k_max):
    """CLOSENet sharing maps of the DARTS supernet (`cfg.slots_per_cell = 2 k_max`).

    Args:
      blocks: None for the training map `[layers, 14, 8, k_max]` whose slice k points every
        edge at its block k (use with `apply(..., slot_mix=)`); or int `[..., 28]` (laid out as
        an architecture) chosen blocks for plain maps `[..., layers, 14, 8]` (numpy).
      cfg: the DARTS `SupernetConfig`.
      k_max: blocks per pool.
    """
    offset = k_max * _stride2(cfg)
    if blocks is None:
        return np.stack([darts.sharing_from_blocks(k + offset, cfg) for k in range(k_max)], -1)
    blocks = np.asarray(blocks)
    reduce = np.array([cell[1] for cell in cfg.cells])[:, None]
    per_cell = np.where(reduce, blocks[..., None, NUM_EDGES:], blocks[..., None, :NUM_EDGES])
    return darts.sharing_from_blocks(per_cell + offset, cfg)


@functools.cache
def _params_per_slot(cfg: darts.SupernetConfig):
    """Pool parameters of one slot of each width group."""
    shapes = jax.eval_shape(functools.partial(darts.init, cfg=cfg), jax.random.key(0))["pools"]
    return tuple(sum(int(np.prod(leaf.shape[1:])) for leaf in jax.tree.leaves(pool))
                 for pool in shapes)


def sharing_extent(level, cfg: darts.SupernetConfig, k_max):
    """Loggable sharing-extent figures at `level`, as NB201's `curriculum.sharing_extent`:
    `level`, `active_blocks` / `total_blocks` over all cells (a reduction cell's two pools
    count twice), `active_op_params` / `pool_op_params` (pool weights in them; a stride-1 block
    holds the FactorizedReduce of `skip_connect` too, unused at stride 1), `edges_per_block`
    (a genotype's 8 edges of a cell per active block)."""
    per_slot = _params_per_slot(cfg)
    pools = [(2 if red else 1, per_slot[group]) for _, red, _, _, _, group, _ in cfg.cells]
    return {
        "level": int(level),
        "active_blocks": sum(n for n, _ in pools) * int(level),
        "total_blocks": sum(n for n, _ in pools) * k_max,
        "active_op_params": sum(n * p for n, p in pools) * int(level),
        "pool_op_params": sum(n * p for n, p in pools) * k_max,
        "edges_per_block": 8 / level,
    }
