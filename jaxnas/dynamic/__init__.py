"""Dynamic supernet training (Jeon et al., CVPR 2025, "DYNAS") and FairNAS sampling.

Techniques `dynamic.calr` (complexity-aware learning rate) and `dynamic.ms` (momentum
separation); the optax pieces they use are `jaxnas.optim.calr` and
`jaxnas.optim.momentum_separation`. `fairnas.fairnas` is the strict-fairness sampler.
"""
