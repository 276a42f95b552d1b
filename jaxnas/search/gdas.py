"""GDAS (Dong & Yang, CVPR 2019) as a training technique: Gumbel-softmax architecture search.

Architecture logits `alpha` (float `[6, 5]`, one row per edge, shared by every cell) are trained
jointly with the supernet, as AutoDL's NB201 GDAS (`exps/NAS-Bench-201-algos/GDAS.py`,
`TinyNetworkGDAS`):

  * weight step: the architecture is drawn from `softmax(alpha)` per edge (the argmax of the
    Gumbel-perturbed `log_softmax(alpha)`, which the temperature does not change) and the
    supernet takes the base's SGD step on a training batch;
  * architecture step (after it, inside the same jitted step): on a held-out batch (augmented as
    the training batches), a hard Gumbel-softmax sample per edge,
    `h = one_hot(argmax p) - stop_gradient(p) + p`, `p = softmax((log_softmax(alpha) + g) / tau)`,
    runs only the sampled op, its output scaled by `h[sampled]` (one in value) plus the other
    ops' `h` (zero in value, as `forward_gdas` adds them), and Adam (lr 3e-4, betas (0.5, 0.999),
    L2 weight decay 1e-3 added to the gradient as torch's Adam does) updates `alpha`;
  * `tau` falls linearly from 10 to 0.1 over the GDAS epochs, one value per epoch.

The found cell is `argmax(alpha)` per edge among the allowed ops (`derive`). The runtime mask
`step_args["mask"]` (ABS shrinking) restricts both samples and the result. `warmup_epochs` first
trains uniformly (SPOS) without architecture steps, as the Landmark paper's GDAS runs (its
landmark terms combine with this technique like with the base).

Departures from the reference: the weight step runs the sampled cell plainly (the reference
multiplies each edge by its hard weight, one up to rounding, and discards alpha's gradient of
that step); each epoch draws its held-out batch order from (seed, epoch), so a resumed run
replays it.

State (`state.extra["search.gdas"]`): `alpha`, the Adam state `opt`, and `mask`, the space mask
of the last step (so the result respects a shrunk space). The sampler reads the current `alpha`
as `step_args["extra"]["search.gdas"]["alpha"]`: the train step must pass its state's `extra`
to the sampler that way (alpha changes every step, so it cannot come from `epoch_start`).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from jaxnas.data import augment
from jaxnas.errors import ConfigError
from jaxnas.spaces import nb201
from jaxnas.supernet import nb201 as supernet
from jaxnas.train.technique import Technique

NAME = "search.gdas"
_MASKED = -1e9          # logit of a masked op: never sampled, no NaN in the gradient
_ORDER_SALT = 0x6DA5    # seeds the held-out batch order apart from the training order
INCOMPATIBLE = {
    "close": "GDAS's architecture step runs the plain supernet with Gumbel edge weights, while "
             "close replaces the forward with the GATE's slot mixture",
}


def config_block():
    return dict(
        tau_max=10.0,            # Gumbel-softmax temperature in the first GDAS epoch (AutoDL: 10)
        tau_min=0.1,             # ... in the last epoch; linear in between, one value per epoch
        arch_lr=3e-4,            # Adam learning rate of alpha (AutoDL --arch_learning_rate)
        arch_betas=(0.5, 0.999),  # Adam betas of alpha
        arch_weight_decay=1e-3,  # L2 on alpha, added to its gradient (torch Adam weight_decay)
        init_std=1e-3,           # alpha starts as init_std * N(0, 1) (AutoDL: 1e-3 * randn)
        warmup_epochs=0,         # uniform (SPOS) epochs before GDAS starts (Landmark's GDAS: W)
    )


# ------------------------------------------------------------------------------ pure pieces


def masked(alpha, mask=None):
    """Alpha with disallowed ops pushed to a huge negative logit."""
    return alpha if mask is None else jnp.where(mask, alpha, _MASKED)


def sample_ops(key, alpha, mask=None):
    """int32 `[6]`: per edge an op drawn from `softmax(alpha)` over the allowed ops."""
    return jax.random.categorical(key, masked(alpha, mask)).astype(jnp.int32)


def hard_gumbel(key, alpha, tau, mask=None):
    """GDAS's straight-through hard Gumbel-softmax: `(ops int32[6], hard float[6, 5])`.

    `hard` is one-hot in value at `ops`, with the gradient of the tempered softmax.
    """
    logits = jax.nn.log_softmax(masked(alpha, mask), axis=-1)
    probs = jax.nn.softmax((logits + jax.random.gumbel(key, logits.shape)) / tau, axis=-1)
    ops = jnp.argmax(probs, axis=-1).astype(jnp.int32)
    one_hot = jax.nn.one_hot(ops, nb201.NUM_OPS, dtype=probs.dtype)
    return ops, one_hot - lax.stop_gradient(probs) + probs


def edge_affine(ops, hard):
    """Per-edge `(weights, offsets)` for `nb201.apply`: the sampled op's hard weight (one in
    value) and the sum of the other ops' (zero in value)."""
    chosen = jax.nn.one_hot(ops, nb201.NUM_OPS, dtype=bool)
    return jnp.sum(jnp.where(chosen, hard, 0.0), -1), jnp.sum(jnp.where(chosen, 0.0, hard), -1)


def arch_loss(alpha, key, tau, mask, forward, x, labels):
    """Cross-entropy of one hard Gumbel sample on `(x, labels)`, differentiable in `alpha`.

    `forward(ops, x, edge_weights, edge_offsets) -> logits` runs the sampled cell.
    """
    ops, hard = hard_gumbel(key, alpha, tau, mask)
    logits = forward(ops, x, *edge_affine(ops, hard))
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def arch_optimizer(learning_rate=3e-4, betas=(0.5, 0.999), weight_decay=1e-3, eps=1e-8):
    """torch.optim.Adam with (coupled, L2) weight decay, as the reference's architecture
    optimizer."""
    return optax.chain(optax.add_decayed_weights(weight_decay),
                       optax.scale_by_adam(b1=betas[0], b2=betas[1], eps=eps),
                       optax.scale(-learning_rate))


def arch_step(alpha, opt_state, tx, key, tau, mask, forward, x, labels):
    """One architecture update: `(alpha, opt_state, loss)`."""
    loss, grads = jax.value_and_grad(arch_loss)(alpha, key, tau, mask, forward, x, labels)
    updates, opt_state = tx.update(grads, opt_state, alpha)
    return optax.apply_updates(alpha, updates), opt_state, loss


def derive(alpha, mask=None) -> np.ndarray:
    """The found cell: per edge the allowed op of largest alpha (int32 `[6]`)."""
    alpha = np.asarray(alpha, np.float64)
    allowed = nb201.check_mask(None if mask is None else np.asarray(mask, bool))
    return np.argmax(np.where(allowed, alpha, -np.inf), axis=-1).astype(np.int32)


def tau_at(epoch, *, epochs, warmup_epochs, tau_max, tau_min):
    """Temperature of 1-based `epoch`: linear from tau_max (first GDAS epoch) to tau_min (last),
    as AutoDL's `tau_max - (tau_max - tau_min) * e / (E - 1)` over the GDAS epochs."""
    e, total = epoch - warmup_epochs - 1, epochs - warmup_epochs
    if e < 0:
        return float(tau_max)
    return float(tau_max - (tau_max - tau_min) * e / max(total - 1, 1))


def arch_of(extra):
    """The cell GDAS returns from a train state's `extra` (or this technique's state)."""
    own = (extra or {}).get(NAME, extra or {})
    if "alpha" not in own:
        raise ConfigError(f"no {NAME} state: the run was not trained with {NAME}")
    return derive(jax.device_get(own["alpha"]), jax.device_get(own.get("mask")))


# ------------------------------------------------------------------------------ the technique


def technique(config, run):
    """GDAS for `run`: the sampler, the architecture step in `update_state`, the epoch hook."""
    c = config.gdas
    epochs = config.train.epochs
    if not 0.0 < c.tau_min <= c.tau_max:
        raise ConfigError(f"gdas needs 0 < tau_min <= tau_max, got tau_min={c.tau_min}, "
                          f"tau_max={c.tau_max}")
    if not 0 <= c.warmup_epochs < epochs:
        raise ConfigError(f"gdas.warmup_epochs must lie in 0..{epochs - 1} (train.epochs="
                          f"{epochs}), got {c.warmup_epochs}")
    tx = arch_optimizer(c.arch_lr, tuple(c.arch_betas), c.arch_weight_decay)
    batch_size, spe = config.train.batch_size, run.steps_per_epoch
    pad, flip = config.data.pad, config.data.flip
    net_cfg = run.net_cfg
    held_out = {}  # the held-out split on the device, put there once

    def init_state(key, params):
        del params
        alpha = c.init_std * jax.random.normal(key, (nb201.NUM_EDGES, nb201.NUM_OPS))
        return {"alpha": alpha, "opt": tx.init(alpha),
                "mask": jnp.ones((nb201.NUM_EDGES, nb201.NUM_OPS), bool)}

    def sampler(key, step_args):
        args, mask = step_args["gdas"], step_args["mask"]
        alpha = step_args["extra"][NAME]["alpha"]  # this step's logits (see the docstring)
        k_gdas, k_uniform = jax.random.split(key)
        ops = jnp.where(args["active"], sample_ops(k_gdas, alpha, mask),
                        sample_ops(k_uniform, jnp.zeros_like(alpha), mask))
        return ops[None]

    def update_state(tech_state, params, ctx):
        args, mask = ctx.step_args["gdas"], ctx.step_args["mask"]
        net = lax.stop_gradient(params["supernet"])

        def forward(ops, x, weights, offsets):
            return supernet.apply(net, ops, x, ctx.step_args["sharing"], cfg=net_cfg,
                                  edge_weights=weights, edge_offsets=offsets)

        def step(ts):
            k_aug, k_gumbel = jax.random.split(ctx.key)
            idx = lax.dynamic_slice_in_dim(args["order"], (ctx.step % spe) * batch_size,
                                           batch_size)
            x = augment(k_aug, jnp.take(args["images"], idx, axis=0), pad=pad, flip=flip)
            labels = jnp.take(args["labels"], idx, axis=0)
            alpha, opt, _ = arch_step(ts["alpha"], ts["opt"], tx, k_gumbel, args["tau"], mask,
                                      forward, x, labels)
            return {**ts, "alpha": alpha, "opt": opt}

        tech_state = lax.cond(args["active"], step, lambda ts: ts, tech_state)
        return {**tech_state, "mask": mask}

    def epoch_start(state, epoch):
        if run.valid_data is None:
            raise ConfigError("gdas needs the held-out split (build the run with its data)")
        if not held_out:
            images, labels = run.valid_data
            held_out.update(images=jnp.asarray(images), labels=jnp.asarray(labels, jnp.int32))
        n = len(held_out["labels"])
        rng = np.random.default_rng([config.seed, _ORDER_SALT, epoch])
        order = np.concatenate([rng.permutation(n) for _ in range(-(-spe * batch_size // n))])
        tau = tau_at(epoch, epochs=epochs, warmup_epochs=c.warmup_epochs, tau_max=c.tau_max,
                     tau_min=c.tau_min)
        active = epoch > c.warmup_epochs
        args = {"images": held_out["images"], "labels": held_out["labels"],
                "order": jnp.asarray(order[:spe * batch_size], jnp.int32),
                "tau": jnp.float32(tau), "active": jnp.asarray(active)}
        arch = arch_of(state.extra)
        log = {"gdas_tau": tau, "gdas_active": bool(active),
               "gdas_index": nb201.arch_to_index(arch), "gdas_arch": nb201.arch_to_str(arch)}
        return state, {"gdas": args}, log

    def check(names):
        for name in names:
            if name in INCOMPATIBLE:
                raise ConfigError(f"{NAME} cannot combine with {name}: {INCOMPATIBLE[name]}")

    return Technique(name=NAME, init_state=init_state, sampler=sampler,
                     update_state=update_state, epoch_start=epoch_start, check=check)

