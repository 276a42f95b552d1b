"""The optimizer, built from config as an optax chain.

SGD with Nesterov momentum, L2 weight decay added to the clipped gradient (PyTorch's
`weight_decay`) and a cosine learning rate, as the NB201 search scripts use.
"""

import optax


def lr_schedule(optim_cfg, total_steps, restarts=()):
    """Cosine from `lr` to `min_lr` over `total_steps` (PyTorch CosineAnnealingLR per step).

    `restarts` (steps) split the run into segments, each a full cosine from `lr` to `min_lr`
    (a warm restart, e.g. CLOSE's SRT).
    """
    alpha = optim_cfg.min_lr / optim_cfg.lr if optim_cfg.lr else 0.0
    bounds = sorted({int(b) for b in restarts if 0 < b < total_steps})
    edges = [0, *bounds, max(1, total_steps)]
    parts = [optax.cosine_decay_schedule(optim_cfg.lr, max(1, b - a), alpha=alpha)
             for a, b in zip(edges[:-1], edges[1:])]
    return optax.join_schedules(parts, bounds) if bounds else parts[0]


def make_optimizer(optim_cfg, total_steps):
    """Clip by global norm -> weight decay -> SGD(momentum, nesterov) with a cosine schedule."""
    return optax.chain(
        optax.clip_by_global_norm(optim_cfg.clip),
        optax.add_decayed_weights(optim_cfg.weight_decay),
        optax.sgd(lr_schedule(optim_cfg, total_steps), momentum=optim_cfg.momentum,
                  nesterov=optim_cfg.nesterov),
    )
