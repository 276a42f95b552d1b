"""Explicitly indexed parameter pools and the sharing maps that index them.

The parameters of the parametric candidate ops (`nor_conv_1x1`, `nor_conv_3x3`) of one stage live in
stacked arrays with a leading *slot* axis: `[num_slots, k, k, C, C]`. A *sharing map* is an int32
array `[num_cells, NUM_EDGES, NUM_OPS]` giving, for every (cell, edge, op), the slot of its stage's
pool it reads. It is an ordinary runtime array: changing it never recompiles.

A stage of N cells has `N * slots_per_cell` slots, so the map can express any sharing pattern
within a stage: one slot per (cell, edge) is the vanilla one-shot supernet, one slot per cell is
the extreme of sharing (every edge of a cell reads the same parameters), and an
architecture-dependent block per edge is CLOSENet.
"""

import numpy as np

from jaxnas.errors import ConfigError
from jaxnas.spaces.nb201 import NUM_EDGES, NUM_OPS

NUM_STAGES = 3


def sharing_from_blocks(blocks, num_cells_per_stage, slots_per_cell):
    """Sharing map from a per-(cell, edge) block index in `[0, slots_per_cell)`.

    Args:
      blocks: int array broadcastable to `[3 * N, NUM_EDGES]`; every op of an edge reads the same
        block (a block holds the parameters of all candidate ops, like a CLOSENet GLOW block).
      num_cells_per_stage: N.
      slots_per_cell: slots each cell owns in its stage's pool.

    Works on numpy and jax arrays alike (it is used inside jitted steps).
    """
    n = num_cells_per_stage
    cell = np.arange(NUM_STAGES * n)[:, None] % n
    slots = cell * slots_per_cell + blocks
    return (slots[..., None] + 0 * np.arange(NUM_OPS)).astype(np.int32)


def vanilla_sharing(num_cells_per_stage):
    """One slot per (cell, edge): the ordinary one-shot supernet (needs `slots_per_cell >= 6`)."""
    return sharing_from_blocks(np.arange(NUM_EDGES)[None], num_cells_per_stage, NUM_EDGES)


def cell_sharing(num_cells_per_stage, slots_per_cell=NUM_EDGES):
    """All edges of a cell read one slot: the largest sharing extent in a cell."""
    blocks = np.zeros((1, NUM_EDGES), np.int32)
    return sharing_from_blocks(blocks, num_cells_per_stage, slots_per_cell)


def check_sharing(sharing, num_cells_per_stage, slots_per_cell, *, batched=False):
    """Raise ConfigError unless `sharing` is a valid map for this supernet (host-side check).

    With `batched`, `sharing` is a stack of maps `[n, 3N, NUM_EDGES, NUM_OPS]` (one per arch).
    """
    sharing = np.asarray(sharing)
    shape = (NUM_STAGES * num_cells_per_stage, NUM_EDGES, NUM_OPS)
    if sharing.shape[int(batched):] != shape or sharing.ndim != len(shape) + int(batched):
        lead = "[n] + " if batched else ""
        raise ConfigError(f"sharing map has shape {sharing.shape}, expected {lead}{shape}")
    if not np.issubdtype(sharing.dtype, np.integer):
        raise ConfigError(f"sharing map must be integer, got {sharing.dtype}")
    size = num_cells_per_stage * slots_per_cell
    if sharing.min() < 0 or sharing.max() >= size:
        raise ConfigError(f"sharing map slots must lie in [0, {size}), got "
                          f"[{sharing.min()}, {sharing.max()}]")
    return sharing
