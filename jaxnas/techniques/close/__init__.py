"""CLOSE / CLOSENet (Zhou, Ning et al., ECCV 2022): curriculum learning on the sharing extent.

`gate` assigns edges to GLOW blocks (NB201; `gate_darts` in the DARTS space, whose pool layout
and sharing maps are `pools_darts`), `curriculum` grows the number of active blocks with WIT
inheritance, `masking` keeps not-yet-active blocks out of the optimizer, `layouts` holds each
space's parts, and `technique` combines them into the `close` technique
(`config.techniques = ("close",)`).
"""

from jaxnas.techniques.close.curriculum import (
    add_block,
    check_schedule,
    level_at,
    levels_added,
    params_in_use,
    sharing_extent,
)
from jaxnas.techniques.close.gate import (
    GateConfig,
    close_sharing,
    gate,
    gate_logits,
    init_gate,
    node_embeddings,
)
from jaxnas.techniques.close.masking import (block_mask, freeze_edits, freeze_inactive,
                                             masked_sgd, restart_opt_state)
from jaxnas.techniques.close.technique import NAME, config_block, prepare, technique

__all__ = [
    "NAME", "GateConfig", "add_block", "block_mask", "check_schedule", "close_sharing",
    "config_block", "freeze_edits", "freeze_inactive", "gate", "gate_logits", "init_gate",
    "level_at", "levels_added", "masked_sgd", "node_embeddings", "params_in_use", "prepare",
    "restart_opt_state", "sharing_extent", "technique",
]
