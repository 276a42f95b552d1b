"""Optimizer pieces as optax transformations: the torch-style SGD the techniques edit, edits of
a named chain, parameter groups, complexity-aware LR (CaLR), momentum separation and the
architecture-parameter Adam."""

from jaxnas.optim.adam import adam_l2
from jaxnas.optim.calr import calr_factor, decay_exponent, scale_by_calr
from jaxnas.optim.chain import apply_edits
from jaxnas.optim.groups import partition, path_labels
from jaxnas.optim.momentum_separation import (SeparatedState, group_traces, separate,
                                              separated_trace)
from jaxnas.optim.sgd import cosine_schedule, sgd_parts, sgd_torch

__all__ = ["SeparatedState", "adam_l2", "apply_edits", "calr_factor", "cosine_schedule",
           "decay_exponent", "group_traces", "partition", "path_labels", "scale_by_calr",
           "separate", "separated_trace", "sgd_parts", "sgd_torch"]
