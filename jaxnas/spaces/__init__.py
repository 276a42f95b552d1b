"""Search spaces behind one protocol (`base.Space`): encodings, official indices, isomorphism,
sampling under a space mask and complexity.

  base    the `Space` protocol, and `EdgeOpSpace`, what one-op-per-edge spaces share
  nb201   NAS-Bench-201's cell space (functions, and `SPACE`, its `Space`)
  darts   the DARTS / NAS-Bench-301 cell space (functions, and `SPACE`, its `Space`)
"""

from jaxnas.errors import ConfigError
from jaxnas.spaces.base import Space
from jaxnas.spaces.nb201 import (
    EDGES,
    NUM_ARCHS,
    NUM_EDGES,
    NUM_NODES,
    NUM_OPS,
    OPS,
    all_archs,
    arch_to_index,
    arch_to_str,
    archs_to_indices,
    canonical_index,
    canonical_indices,
    flops,
    hamming,
    index_to_arch,
    is_connected,
    live_conv,
    mutate,
    num_params,
    parse_arch,
    sample,
    str_to_arch,
    unique_indices,
)
from jaxnas.spaces.darts import SPACE as DARTS
from jaxnas.spaces.nb201 import SPACE as NB201

SPACES = {"nb201": NB201, "darts": DARTS}


def get(name) -> Space:
    """The space called `name` (`config.space`)."""
    if name not in SPACES:
        raise ConfigError(f"unknown space {name!r}; choose one of {sorted(SPACES)}")
    return SPACES[name]


__all__ = [
    "DARTS",
    "EDGES",
    "NB201",
    "NUM_ARCHS",
    "NUM_EDGES",
    "NUM_NODES",
    "NUM_OPS",
    "OPS",
    "SPACES",
    "Space",
    "all_archs",
    "arch_to_index",
    "arch_to_str",
    "archs_to_indices",
    "canonical_index",
    "canonical_indices",
    "flops",
    "get",
    "hamming",
    "index_to_arch",
    "is_connected",
    "live_conv",
    "mutate",
    "num_params",
    "parse_arch",
    "sample",
    "str_to_arch",
    "unique_indices",
]
