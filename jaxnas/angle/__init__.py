"""ABS: angle-based search-space shrinking (Hu et al., ECCV 2020) and the angle metric.

The angle between a cell's weight vector at a reference point W0 and now ranks architectures
without data; operators are scored by the mean angle of the cells containing them and the worst
are dropped from the runtime space mask every sampler reads. List it as a technique:
`base_config(techniques=("angle",))`, its settings in `config.angle`.

  angle      the per-path weight vector, the direct angle and the exact all-cell fast path
  magnitude  the DARTS-alpha baseline (joint forward, Adam step, operator and cell scores)
  shrink     operator scores, the reference's drop rule, masks and their text form
  scorers    `SCORERS`: the `angle` and `magnitude` metrics for `jaxnas evaluate` and search
  abs_technique  the `Technique`: `technique(config, run)`, `config_block()`
"""

from jaxnas.angle.angle import (PATHS, AngleTables, all_angles, angle_tables, arch_angle,
                                angles_from_tables, subnet_vector, vector_angle)
from jaxnas.angle.magnitude import arch_log_prob, joint_forward, operator_magnitude
from jaxnas.angle.scorers import SCORERS
from jaxnas.angle.shrink import (drop_operators, mask_to_str, operator_scores, space_archs,
                                 space_size, str_to_mask)
from jaxnas.angle.abs_technique import config_block, space_mask, technique

__all__ = [
    "PATHS",
    "SCORERS",
    "AngleTables",
    "all_angles",
    "angle_tables",
    "angles_from_tables",
    "arch_angle",
    "arch_log_prob",
    "config_block",
    "drop_operators",
    "joint_forward",
    "mask_to_str",
    "operator_magnitude",
    "operator_scores",
    "space_archs",
    "space_mask",
    "space_size",
    "str_to_mask",
    "subnet_vector",
    "technique",
    "vector_angle",
]
