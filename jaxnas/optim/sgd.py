"""PyTorch-style SGD as an optax `named_chain`, and the cosine schedule of the NB201 scripts.

`sgd_torch` is `torch.optim.SGD` after `clip_grad_norm_`: clip the global norm, add L2 weight
decay to the gradient (PyTorch's coupled `weight_decay`), momentum (Nesterov optional), scale by
the learning rate. Its parts are named, so a technique can insert or replace one
(`jaxnas.optim.chain.apply_edits`) and a user can read one's state (`opt_state["momentum"]`).
"""

import optax


def cosine_schedule(lr, min_lr, total_steps, restarts=()):
    """Cosine from `lr` to `min_lr` over `total_steps` (PyTorch CosineAnnealingLR per step).

    `restarts` (steps) split the run into segments, each a full cosine from `lr` to `min_lr`
    (a warm restart, e.g. CLOSE's SRT).
    """
    alpha = min_lr / lr if lr else 0.0
    bounds = sorted({int(b) for b in restarts if 0 < b < total_steps})
    edges = [0, *bounds, max(1, total_steps)]
    parts = [optax.cosine_decay_schedule(lr, max(1, b - a), alpha=alpha)
             for a, b in zip(edges[:-1], edges[1:])]
    return optax.join_schedules(parts, bounds) if bounds else parts[0]


def sgd_parts(learning_rate, momentum=0.9, nesterov=False, weight_decay=0.0, clip=None):
    """The `(name, transform)` parts of `sgd_torch`, in order: "clip" (absent when `clip` is
    None), "decay", "momentum", "lr"."""
    parts = [] if clip is None else [("clip", optax.clip_by_global_norm(clip))]
    return parts + [
        ("decay", optax.add_decayed_weights(weight_decay)),
        ("momentum", optax.trace(decay=momentum, nesterov=nesterov)),
        ("lr", optax.scale_by_learning_rate(learning_rate)),
    ]


def sgd_torch(learning_rate, momentum=0.9, nesterov=False, weight_decay=0.0, clip=None):
    """`clip -> decay -> momentum -> lr` as `optax.named_chain`; `learning_rate` may be a
    schedule. The NB201 search scripts use lr 0.025 cosine to 0.001, momentum 0.9, Nesterov,
    weight decay 5e-4, clip 5."""
    return optax.named_chain(*sgd_parts(learning_rate, momentum, nesterov, weight_decay, clip))
