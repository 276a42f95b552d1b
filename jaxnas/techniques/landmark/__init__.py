"""Landmark regularisation (Yu, Ranftl, Salzmann, CVPR 2021) for any supernet training.

A small set of architectures with known stand-alone accuracy (landmarks) is kept in order by a
pairwise ranking penalty on their supernet losses, added inside the jitted train step. List it
as a technique: `base_config(techniques=("landmark",))`, its settings in `config.landmark`.

  landmarks  ground-truth tables, landmark selection (random, diverse, fixed), the set's state
             and its move into a shrunk space (`within`)
  loss       the ranking penalty (hinge, softplus), pair sampling, the regulariser batch
  schedule   the per-epoch coefficient (warm-up, cosine increase)
  rounds     the multi-round pipeline (the supernet's top-k join the set)
  trained    landmarks trained stand-alone at the run's scale (`table="train"`), no table
  technique  the `Technique`: `technique(config, run)`, `config_block()`
"""

from jaxnas.techniques.landmark.landmarks import (LandmarkState, Table, archs_of, exclusions,
                                                  indices_of, keys_of, make_state, read_table,
                                                  select, within)
from jaxnas.techniques.landmark.loss import landmark_loss, rank_penalty, sample_pairs
from jaxnas.techniques.landmark.rounds import add_top_k, round_starts
from jaxnas.techniques.landmark.schedule import coefficient
from jaxnas.techniques.landmark.technique import NAME, config_block, technique

__all__ = [
    "NAME",
    "LandmarkState",
    "Table",
    "add_top_k",
    "archs_of",
    "coefficient",
    "config_block",
    "exclusions",
    "indices_of",
    "keys_of",
    "landmark_loss",
    "make_state",
    "rank_penalty",
    "read_table",
    "round_starts",
    "sample_pairs",
    "select",
    "technique",
    "within",
]
