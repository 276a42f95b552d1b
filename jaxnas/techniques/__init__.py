"""The techniques, each usable alone or combined with the others on the SPOS base.

  close     CLOSE: curriculum on the sharing extent, GLOW blocks, the GATE
  landmark  landmark regularisation: a pairwise ranking hinge on landmark architectures
  calr      complexity-aware learning rate (dynamic supernet training)
  ms        momentum separation (dynamic supernet training)
  abs       ABS: angle-based search-space shrinking (the angle metric is a base scorer)
  gdas      GDAS: Gumbel-softmax architecture logits trained beside the supernet

Each exposes `technique(config, run)` and `config_block()` (`jaxnas.train.technique`). They
import only the base (spaces, data, optim, supernet, train, evaluate), never each other.
"""
