"""Optimizer pieces as optax transformations: the torch-style SGD the techniques edit, edits of
a named chain, parameter groups."""

from jaxnas.optim.chain import apply_edits
from jaxnas.optim.groups import partition, path_labels
from jaxnas.optim.sgd import cosine_schedule, sgd_parts, sgd_torch

__all__ = ["apply_edits", "cosine_schedule", "partition", "path_labels", "sgd_parts", "sgd_torch"]
