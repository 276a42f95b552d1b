"""CLOSE: the curriculum on the sharing extent, as host-side functions between epochs.

Training starts with one active GLOW block per cell (every edge of every architecture shares it)
and activates one more block at each epoch of `cl_schedule` (1-based, as in aw_nas: block L becomes
active at epoch `cl_schedule[L-1]`). All `k_max` blocks exist from the start, so adding a block is
an in-place-shaped array edit (WIT: the new block = its untouched init + the previous block, and the
GATE's output unit for it = its own + the previous one's) and nothing recompiles.
"""

import jax
import numpy as np

from jaxnas.errors import ConfigError
from jaxnas.spaces.nb201 import NUM_EDGES
from jaxnas.supernet.nb201 import SupernetConfig


def check_schedule(cl_schedule, k_max=None):
    """The schedule as a tuple of ints; ConfigError unless sorted, starting at 1, <= k_max long."""
    sched = tuple(cl_schedule)
    if not sched or any(not isinstance(s, (int, np.integer)) or isinstance(s, bool)
                        for s in sched):
        raise ConfigError(f"cl_schedule must be a non-empty list of epochs, got {cl_schedule!r}")
    if sched[0] != 1 or list(sched) != sorted(sched):
        raise ConfigError(f"cl_schedule must be sorted and start at epoch 1, got {list(sched)}")
    if k_max is not None and len(sched) > k_max:
        raise ConfigError(f"cl_schedule has {len(sched)} entries but only k_max={k_max} blocks")
    return tuple(int(s) for s in sched)


def level_at(epoch, cl_schedule):
    """Active blocks at 1-based `epoch`: `#{s in cl_schedule : s <= epoch}`."""
    sched = check_schedule(cl_schedule)
    if epoch < 1:
        raise ConfigError(f"epochs are 1-based, got epoch {epoch}")
    return sum(s <= epoch for s in sched)


def levels_added(epoch, cl_schedule):
    """Levels that start at `epoch` and need `add_block`, in order (level 1 needs none).

    Repeated schedule entries activate several blocks at once; each is inherited in turn.
    """
    before = level_at(epoch - 1, cl_schedule) if epoch > 1 else 1
    return tuple(range(before + 1, level_at(epoch, cl_schedule) + 1))


def _check_level(level, k_max, low=1):
    if not isinstance(level, (int, np.integer)) or not low <= level <= k_max:
        raise ConfigError(f"curriculum level must be an int in [{low}, {k_max}], got {level!r}")


def _block_slots(n, level, k_max, slots_per_cell, num_cells):
    """Slots of block `level` (1-based) in a pool of `n` slots, `slots_per_cell` per cell, each
    cell's slots being groups of `k_max` blocks (NB201: one group; DARTS: two, the stride-1 and
    the stride-2 pool); ConfigError when `n` does not fit."""
    if n % slots_per_cell or (num_cells is not None and n != num_cells * slots_per_cell):
        cells = f"{num_cells} cells" if num_cells is not None else "whole cells"
        raise ConfigError(f"pool has {n} slots, expected {cells} x {slots_per_cell} slots "
                          f"({k_max} blocks per group)")
    return np.flatnonzero(np.arange(n) % slots_per_cell % k_max == level - 1)


def add_block(supernet_params, gate_params, level, *, k_max, slots_per_cell=None,
              num_cells_per_stage=None):
    """Activate block `level` (1-based, >= 2) with WIT inheritance; returns new params.

    For every pool leaf, every cell and every group of `k_max` blocks among the cell's
    `slots_per_cell` slots (default `k_max`: one group; DARTS reduction cells have two):
    `pool[s] += pool[s - 1]` for the slots s of block `level`, i.e. NB201's
    `pool[c*k_max + level-1] += pool[c*k_max + level-2]`. For the GATE's last MLP layer (`w` is
    `[in, k_max]`): `w[:, level-1] += w[:, level-2]` and the same for the bias, so the new
    block's logit starts near the previous block's. Shapes are unchanged. Other leaves are
    returned as they are. `num_cells_per_stage` (NB201) also checks each pool's cell count.
    """
    _check_level(level, k_max, low=2)
    spc = k_max if slots_per_cell is None else slots_per_cell
    if spc % k_max:
        raise ConfigError(f"slots_per_cell ({spc}) must be a multiple of k_max ({k_max})")

    def grow(pool):
        new = _block_slots(pool.shape[0], level, k_max, spc, num_cells_per_stage)
        return pool.at[new].add(pool[new - 1])

    supernet_params = {**supernet_params, "pools": jax.tree.map(grow, supernet_params["pools"])}
    head = gate_params["mlp"][-1]
    head = {"w": head["w"].at[:, level - 1].add(head["w"][:, level - 2]),
            "b": head["b"].at[level - 1].add(head["b"][level - 2])}
    gate_params = {**gate_params, "mlp": list(gate_params["mlp"][:-1]) + [head]}
    return supernet_params, gate_params


def params_in_use(level, cfg_supernet: SupernetConfig):
    """Operation parameters (conv1x1 + conv3x3) in the active blocks of all cells."""
    _check_level(level, cfg_supernet.slots_per_cell)
    per_block = sum(10 * c * c for c in cfg_supernet.widths)  # 1x1 + 3x3 weights, one cell/stage
    return cfg_supernet.N * level * per_block


def sharing_extent(level, cfg_supernet: SupernetConfig):
    """Loggable sharing-extent figures at `level` for a CLOSENet with `slots_per_cell = k_max`.

    Keys: `level`, `active_blocks` and `total_blocks` (over all cells), `active_op_params` and
    `pool_op_params` (conv weights in the active blocks / in the whole pools), `edges_per_block`
    (edges of a cell per active block: 6 at level 1, the largest sharing).
    """
    k_max = cfg_supernet.slots_per_cell
    return {
        "level": int(level),
        "active_blocks": cfg_supernet.num_cells * int(level),
        "total_blocks": cfg_supernet.num_cells * k_max,
        "active_op_params": params_in_use(level, cfg_supernet),
        "pool_op_params": params_in_use(k_max, cfg_supernet),
        "edges_per_block": NUM_EDGES / level,
    }
