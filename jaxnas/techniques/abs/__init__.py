"""ABS: angle-based search-space shrinking (Hu et al., ECCV 2020).

The angle between a cell's weight vector at a reference point W0 and now ranks architectures
without data (the metric is a base scorer, `jaxnas.evaluate.angle`, so any run can use it);
operators are scored by the mean metric of the cells containing them and the worst are dropped
from the run's space (`TrainState.space`), which every sampler reads. List it as a technique:
`base_config(techniques=("abs",))` (formerly "angle"), its settings in `config.abs`.

  magnitude  the DARTS-alpha baseline (joint forward, Adam step, operator and cell scores)
  shrink     operator scores and the drop rules (NB201's lowest-first; AngleNAS DARTS per edge)
  sampled    architectures containing each operator, for spaces not enumerated (DARTS)
  technique  the `Technique`: `technique(config, run)`, `config_block()`
"""

from jaxnas.techniques.abs.magnitude import arch_log_prob, joint_forward, operator_magnitude
from jaxnas.techniques.abs.shrink import describe, drop_operators, operator_scores
from jaxnas.techniques.abs.technique import NAME, config_block, steps_due, technique

__all__ = [
    "NAME",
    "arch_log_prob",
    "config_block",
    "describe",
    "drop_operators",
    "joint_forward",
    "operator_magnitude",
    "operator_scores",
    "steps_due",
    "technique",
]
