"""Technique "calr": complexity-aware learning rate (DYNAS, CVPR 2025), config block `calr`.

Each step's subnet gets `lr * (1 - t/T) ** gamma(c)`, gamma log-linear in its parameter count c
between the simplest (all `none`, gamma = gamma_max) and the most complex cell (all
`nor_conv_3x3`, gamma = 1/gamma_max), T the run's steps (`jaxnas.optim.calr`). The reference
(`train_spos.py`, `train_fairnas.py`) applies it two ways, and so does this technique:

  * "lr" (SPOS, FSNAS): a true LR override. The base "lr" part becomes the constant
    `optim.lr` (the schedule of this technique, also what the log shows) and the part "calr",
    appended after it, scales the whole SGD update (momentum and weight decay included) by the
    factor of the step's first sampled subnet.
  * "loss" (FairNAS): the LR stays as configured (the reference's FairNAS keeps 0.025 constant;
    its configs set `optim.min_lr = optim.lr`) and each sampled subnet's cross-entropy is
    multiplied by its factor (`arch_weight`), so the weighted gradients enter the momentum and
    weight decay is not scaled. "auto" picks it when the base sampler draws several paths per
    step (`run.paths_per_step`, FairNAS), as the reference does.

Complexity: the reference's `get_num_params` counts conv weights of the C=16, N=5 network. Here
`complexity="num_params"` reads the space's parameter count at the run's width/N
(`Space.complexity`, the step's `num_params` argument): at paper scale
its gamma differs from the reference's by at most 0.03 (BN and bias parameters). With
`"conv_weights"` the reference's count itself is used, generalised to the run's C, N and classes
(gamma identical at paper scale); `"flops"` is offered for other spaces' conventions. In the
DARTS space the extremes are the cheapest and dearest genotypes of the search network
(`Space.complexity_bounds`: pools only, and sep_conv_5x5 on every used edge).
"""

import jax.numpy as jnp
import numpy as np
import optax

from jaxnas.errors import ConfigError
from jaxnas.optim.calr import calr_factor, decay_exponent, scale_by_calr
from jaxnas.spaces import nb201
from jaxnas.train.technique import Technique, append

NAME = "calr"
COMPLEXITIES = ("num_params", "flops", "conv_weights")
MODES = ("auto", "lr", "loss")
_CONV1, _CONV3 = nb201.OPS.index("nor_conv_1x1"), nb201.OPS.index("nor_conv_3x3")
_ALL_CONV3 = np.full(nb201.NUM_EDGES, _CONV3)


def config_block():
    return dict(
        gamma_max=4.0,           # largest decay exponent (reference --max_coeff); smallest 1/that
        eta_min=0.0,             # floor of the LR factor, a ratio of optim.lr (reference: 0)
        complexity="num_params",  # num_params (NB201 table), conv_weights (reference count), flops
        mode="auto",             # lr: scale the update; loss: weight each subnet's loss;
                                 # auto: loss when the sampler draws several paths (FairNAS)
    )


def conv_weights(arch, C=16, N=5, num_classes=10):
    """The reference's complexity (DYNAS `get_num_params`): conv and classifier weights only,
    at width C with N cells per stage; 72,752 + 26,880 * (n1x1 + 9 n3x3) at C=16, N=5.
    Jittable; `arch` int `[..., 6]`."""
    n1 = (arch == _CONV1).sum(-1)
    n3 = (arch == _CONV3).sum(-1)
    fixed = 27 * C + 9 * (C * 2 * C + 4 * C * C) + 2 * C * C \
        + 9 * (2 * C * 4 * C + 16 * C * C) + 8 * C * C + 4 * C * num_classes
    per_conv = N * (C * C + 4 * C * C + 16 * C * C)
    return fixed + per_conv * (n1 + 9 * n3)


def complexity_fn(kind, space, net_cfg, resolution):
    """`(arch -> complexity, c_min, c_max)` for `kind` at this size, jittable in `arch`; the
    extremes are the simplest and the most complex cells of `space` (`Space.complexity_bounds`;
    NB201: all `none` and all `nor_conv_3x3`)."""
    if kind == "conv_weights":
        if space.name != "nb201":
            raise ConfigError(f"calr.complexity='conv_weights' is the reference's NB201 count; "
                              f"use num_params or flops in the {space.name} space")
        C, N, num_classes = net_cfg.C, net_cfg.N, net_cfg.num_classes
        fn = lambda arch: conv_weights(arch, C, N, num_classes).astype(jnp.float32)  # noqa: E731
        lo, hi = conv_weights(np.zeros(6, int), C, N, num_classes), \
            conv_weights(_ALL_CONV3, C, N, num_classes)
        return fn, float(lo), float(hi)
    if kind not in COMPLEXITIES:
        raise ConfigError(f"calr.complexity must be one of {COMPLEXITIES}, got {kind!r}")
    table = space.complexity(net_cfg, resolution)
    fn = lambda arch: table(arch[None])[kind][0]  # noqa: E731
    lo, hi = space.complexity_bounds(net_cfg, resolution)[kind]
    return fn, float(lo), float(hi)


def resolve_mode(config, run):
    mode = config.calr.mode
    if mode not in MODES:
        raise ConfigError(f"calr.mode must be one of {MODES}, got {mode!r}")
    if mode == "auto":
        return "loss" if run.paths_per_step > 1 else "lr"
    return mode


def technique(config, run):
    c = config.calr
    if not c.gamma_max >= 1.0:
        raise ConfigError(f"calr.gamma_max must be >= 1, got {c.gamma_max}")
    if not 0.0 <= c.eta_min <= 1.0:
        raise ConfigError(f"calr.eta_min must be in [0, 1], got {c.eta_min}")
    arch_c, c_min, c_max = complexity_fn(c.complexity, run.space, run.net_cfg,
                                         config.data.resolution)
    total = max(1, run.total_steps)

    if resolve_mode(config, run) == "loss":
        def arch_weight(arch, ctx):
            gamma = decay_exponent(arch_c(arch), c_min, c_max, c.gamma_max)
            return calr_factor(ctx.step, total, gamma, c.eta_min)
        return Technique(name=NAME, arch_weight=arch_weight)

    lr0 = float(config.optim.lr)
    kwarg = c.complexity if c.complexity != "conv_weights" else (lambda arch, **_: arch_c(arch))
    scale = scale_by_calr(total, c_min, c_max, c.gamma_max, c.eta_min, complexity=kwarg)
    return Technique(name=NAME, schedule=optax.constant_schedule(lr0),
                     optimizer=(append("calr", scale),))
