"""The space-specific parts of CLOSENet, one `Layout` per search space, so that the technique
(`close.technique`) is one flow for NB201 and DARTS.

NB201 (aw_nas `NB201CloseNet`): one GATE decision per edge of the one cell every cell repeats,
`k_max` blocks per cell. DARTS / NAS-Bench-301 (aw_nas `CloseNet`): a normal and a reduction
group decision per edge, `2 k_max` slots per cell (a reduction cell's stride-2 pool,
`pools_darts`).
"""

import zlib
from typing import Callable, NamedTuple

import numpy as np

import jaxnas.techniques.close.gate_darts as gate_darts  # the module, not the package: no cycle
import jaxnas.techniques.close.pools_darts as pools_darts
from jaxnas.errors import ConfigError
from jaxnas.supernet import darts, nb201
from jaxnas.techniques.close.curriculum import sharing_extent
from jaxnas.techniques.close.gate import close_sharing, gate, init_gate


class Layout(NamedTuple):
    """CLOSENet in one space. `GateConfig` is `gate.GateConfig` in every space."""

    slots_per_cell: Callable  # k_max -> pool slots each cell owns
    init_gate: Callable       # (key, GateConfig) -> GATE parameters
    gate: Callable            # (params, arch, level, key, GateConfig, *, train, noise)
                              #   -> (weights, active, blocks), laid out as `arch`
    apply: Callable           # the supernet's `apply` (takes `slot_mix=`)
    train_sharing: Callable   # (net_cfg, k_max) -> the training map, trailing axis k_max
    eval_sharing: Callable    # (blocks int [n, *arch_shape], net_cfg, k_max) -> [n, ...] maps
    extent: Callable          # (level, net_cfg, k_max) -> the loggable sharing-extent dict
    arch_seeds: Callable      # (space, archs [n, ...]) -> uint32 [n]: per-architecture
                              #   evaluation-noise seeds
    structure: bool           # whether `gate_variant="structure"` is ported


def _darts_seeds(space, archs):
    """CRC-32 of each genotype's op bytes (DARTS has no architecture indices)."""
    del space
    return np.array([zlib.crc32(np.asarray(a, np.int8).tobytes()) for a in archs], np.uint32)


LAYOUTS = {
    "nb201": Layout(
        slots_per_cell=lambda k_max: k_max,
        init_gate=init_gate,
        gate=gate,
        apply=nb201.apply,
        train_sharing=lambda cfg, k_max: close_sharing(None, cfg.N, k_max),
        eval_sharing=lambda blocks, cfg, k_max: close_sharing(
            np.asarray(blocks)[:, None, :], cfg.N, k_max),
        extent=lambda level, cfg, k_max: sharing_extent(level, cfg),
        arch_seeds=lambda space, archs: np.asarray(space.to_index(archs), np.uint32),
        structure=True),
    "darts": Layout(
        slots_per_cell=pools_darts.slots_per_cell,
        init_gate=gate_darts.init_gate,
        gate=gate_darts.gate,
        apply=darts.apply,
        train_sharing=lambda cfg, k_max: pools_darts.close_sharing(None, cfg, k_max),
        eval_sharing=pools_darts.close_sharing,
        extent=pools_darts.sharing_extent,
        arch_seeds=_darts_seeds,
        structure=False),
}


def layout(space_name):
    """The `Layout` of a space; ConfigError for a space CLOSE does not know."""
    if space_name not in LAYOUTS:
        raise ConfigError(f"close has no GATE for the {space_name} space (known: "
                          f"{', '.join(LAYOUTS)})")
    return LAYOUTS[space_name]
