"""GDAS (Dong & Yang, CVPR 2019) as a training technique: Gumbel-softmax architecture search.

Architecture logits `alpha` (float `Space.mask_shape`: NB201 `[6, 5]`, one row per edge; DARTS
`[28, 8]`, the normal cell's 14 edges then the reduction cell's, i.e. `[2, 14, 8]` flattened),
shared by every cell of a kind, are trained jointly with the supernet, as AutoDL's GDAS
(`exps/NAS-Bench-201-algos/GDAS.py` with `TinyNetworkGDAS` for NB201, `NASNetworkGDAS` for
DARTS):

  * weight step: the architecture is drawn from `softmax(alpha)` per edge (the argmax of the
    Gumbel-perturbed `log_softmax(alpha)`, which the temperature does not change) and the
    supernet takes the base's SGD step on a training batch. In DARTS every edge runs its drawn
    op (`none` included) and each node sums all its incoming edges, as GDAS's search cell;
  * architecture step (after it, inside the same jitted step): on a held-out batch (augmented as
    the training batches), a hard Gumbel-softmax sample per edge,
    `h = one_hot(argmax p) - stop_gradient(p) + p`, `p = softmax((log_softmax(alpha) + g) / tau)`,
    runs only the sampled op, its output scaled by `h[sampled]` (one in value); NB201 adds the
    other ops' `h` (zero in value, as `forward_gdas` does there), DARTS does not (AutoDL's
    NASNet `MixedOp.forward_gdas`). Adam (lr 3e-4, betas (0.5, 0.999), L2 weight decay 1e-3
    added to the gradient as torch's Adam does) updates `alpha`;
  * `tau` falls linearly from 10 to 0.1 over the GDAS epochs, one value per epoch (AutoDL's
    DARTS-space script `NASNet-space-search-by-GDAS.sh` uses the same settings as NB201's).

The found cell is `Space.derive(alpha)` among the allowed ops (`derive`): NB201 the argmax per
edge; DARTS per node the two incoming edges of largest non-`none` softmax weight, each with its
best non-`none` op (DARTS's derivation: a valid genotype; AutoDL's NASNet GDAS instead keeps the
two largest (op, input) pairs, which can name one input twice). The runtime mask
`step_args["mask"]` (ABS shrinking) restricts both samples and the result. `warmup_epochs`
first trains uniformly (SPOS; in DARTS uniform genotypes) without architecture steps, as the
Landmark paper's GDAS runs (its landmark terms combine with this technique like with the base).

Departures from the reference: the weight step runs the sampled cell plainly (the reference
multiplies each edge by its hard weight, one up to rounding, and discards alpha's gradient of
that step); each epoch draws its held-out batch order from (seed, epoch), so a resumed run
replays it.

State (`state.extra["gdas"]`): `alpha` and the Adam state `opt`. The sampler reads the current
`alpha` from the `extra` the step hands it (alpha changes every step, so it cannot come from
`epoch_start`); the found cell respects the run's space (`state.space`). GDAS needs the base
forward: its architecture step runs the plain supernet with Gumbel edge weights, so it refuses
a technique that replaces the forward (CLOSE's GATE mixture).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from jaxnas.config import epochs_of
from jaxnas.data import augment
from jaxnas.errors import ConfigError
from jaxnas.optim import adam_l2
from jaxnas.spaces import NB201
from jaxnas.supernet import darts as darts_supernet
from jaxnas.supernet import nb201 as supernet
from jaxnas.train.technique import Technique

NAME = "gdas"
_MASKED = -1e9          # logit of a masked op: never sampled, no NaN in the gradient
_ORDER_SALT = 0x6DA5    # seeds the held-out batch order apart from the training order


def config_block():
    return dict(
        tau_max=10.0,            # Gumbel-softmax temperature in the first GDAS epoch (AutoDL: 10)
        tau_min=0.1,             # ... in the last epoch; linear in between, one value per epoch
        arch_lr=3e-4,            # Adam learning rate of alpha (AutoDL --arch_learning_rate)
        arch_betas=(0.5, 0.999),  # Adam betas of alpha
        arch_weight_decay=1e-3,  # L2 on alpha, added to its gradient (torch Adam weight_decay)
        init_std=1e-3,           # alpha starts as init_std * N(0, 1) (AutoDL: 1e-3 * randn)
        warmup_epochs=0,         # uniform (SPOS) epochs before GDAS starts (Landmark's GDAS: W);
                                 # a value in [0, 1) is a fraction of train.epochs
    )


# ------------------------------------------------------------------------------ pure pieces


def masked(alpha, mask=None):
    """Alpha with disallowed ops pushed to a huge negative logit."""
    return alpha if mask is None else jnp.where(mask, alpha, _MASKED)


def sample_ops(key, alpha, mask=None):
    """int32 `[E]`: per edge an op drawn from `softmax(alpha)` over the allowed ops."""
    return jax.random.categorical(key, masked(alpha, mask)).astype(jnp.int32)


def hard_gumbel(key, alpha, tau, mask=None):
    """GDAS's straight-through hard Gumbel-softmax: `(ops int32[E], hard float[E, K])` for
    logits `[E, K]` (NB201 `[6, 5]`, DARTS `[28, 8]`).

    `hard` is one-hot in value at `ops`, with the gradient of the tempered softmax.
    """
    logits = jax.nn.log_softmax(masked(alpha, mask), axis=-1)
    probs = jax.nn.softmax((logits + jax.random.gumbel(key, logits.shape)) / tau, axis=-1)
    ops = jnp.argmax(probs, axis=-1).astype(jnp.int32)
    one_hot = jax.nn.one_hot(ops, probs.shape[-1], dtype=probs.dtype)
    return ops, one_hot - lax.stop_gradient(probs) + probs


def edge_affine(ops, hard):
    """Per-edge `(weights, offsets)` for the supernet's `apply`: the sampled op's hard weight
    (one in value) and the sum of the other ops' (zero in value; DARTS's forward drops them)."""
    chosen = jax.nn.one_hot(ops, hard.shape[-1], dtype=bool)
    return jnp.sum(jnp.where(chosen, hard, 0.0), -1), jnp.sum(jnp.where(chosen, 0.0, hard), -1)


def arch_loss(alpha, key, tau, mask, forward, x, labels):
    """Cross-entropy of one hard Gumbel sample on `(x, labels)`, differentiable in `alpha`.

    `forward(ops, x, edge_weights, edge_offsets) -> logits` runs the sampled cell.
    """
    ops, hard = hard_gumbel(key, alpha, tau, mask)
    logits = forward(ops, x, *edge_affine(ops, hard))
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def arch_step(alpha, opt_state, tx, key, tau, mask, forward, x, labels):
    """One architecture update: `(alpha, opt_state, loss)`."""
    loss, grads = jax.value_and_grad(arch_loss)(alpha, key, tau, mask, forward, x, labels)
    updates, opt_state = tx.update(grads, opt_state, alpha)
    return optax.apply_updates(alpha, updates), opt_state, loss


def derive(alpha, mask=None, space=NB201) -> np.ndarray:
    """The found cell of logits `alpha` in `space` (`Space.derive`): NB201 per edge the allowed
    op of largest alpha (int32 `[6]`); DARTS per node the two strongest edges (a genotype)."""
    return space.derive(jax.device_get(alpha), None if mask is None else jax.device_get(mask))


def tau_at(epoch, *, epochs, warmup_epochs, tau_max, tau_min):
    """Temperature of 1-based `epoch`: linear from tau_max (first GDAS epoch) to tau_min (last),
    as AutoDL's `tau_max - (tau_max - tau_min) * e / (E - 1)` over the GDAS epochs."""
    e, total = epoch - warmup_epochs - 1, epochs - warmup_epochs
    if e < 0:
        return float(tau_max)
    return float(tau_max - (tau_max - tau_min) * e / max(total - 1, 1))


# ------------------------------------------------------------------------------ the technique


def technique(config, run):
    """GDAS for `run`: the sampler, the architecture step in `update_state`, the epoch hook."""
    c = config.gdas
    epochs = config.train.epochs
    if not 0.0 < c.tau_min <= c.tau_max:
        raise ConfigError(f"gdas needs 0 < tau_min <= tau_max, got tau_min={c.tau_min}, "
                          f"tau_max={c.tau_max}")
    warmup = epochs_of(c.warmup_epochs, epochs, "gdas.warmup_epochs")
    if warmup >= epochs:
        raise ConfigError(f"gdas.warmup_epochs must lie in 0..{epochs - 1} (train.epochs="
                          f"{epochs}), got {c.warmup_epochs}")
    tx = adam_l2(c.arch_lr, *tuple(c.arch_betas), c.arch_weight_decay)
    batch_size, spe = config.train.batch_size, run.steps_per_epoch
    pad, flip = config.data.pad, config.data.flip
    net_cfg, space = run.net_cfg, run.space
    darts = space.name == "darts"

    def init_state(key, params):
        del params
        alpha = c.init_std * jax.random.normal(key, run.space.mask_shape)
        return {"alpha": alpha, "opt": tx.init(alpha)}

    def sampler(key, step_args, extra):
        args, mask = step_args["gdas"], step_args["mask"]
        alpha = extra[NAME]["alpha"]  # this step's logits (see the docstring)
        k_gdas, k_uniform = jax.random.split(key)
        ops = jnp.where(args["active"], sample_ops(k_gdas, alpha, mask),
                        space.sample(k_uniform, mask))  # warm-up: SPOS's uniform cell
        return ops[None]

    def update_state(tech_state, params, ctx):
        args, mask = ctx.step_args["gdas"], ctx.step_args["mask"]
        net = lax.stop_gradient(params["supernet"])

        def forward(ops, x, weights, offsets):
            if darts:  # AutoDL's NASNet cell scales the sampled op only (no offsets)
                return darts_supernet.apply(net, ops, x, ctx.step_args["sharing"], cfg=net_cfg,
                                            edge_weights=weights)
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

        return lax.cond(args["active"], step, lambda ts: ts, tech_state)

    def found(state):
        alpha = jax.device_get(state.extra[NAME]["alpha"])
        arch = derive(alpha, None if state.space is None else jax.device_get(state.space),
                      space)
        return arch, {"alpha": np.asarray(alpha).round(6).tolist()}

    def epoch_start(state, epoch):
        held_out = run.held_out()
        n = len(held_out["labels"])
        rng = np.random.default_rng([config.seed, _ORDER_SALT, epoch])
        order = np.concatenate([rng.permutation(n) for _ in range(-(-spe * batch_size // n))])
        tau = tau_at(epoch, epochs=epochs, warmup_epochs=warmup, tau_max=c.tau_max,
                     tau_min=c.tau_min)
        active = epoch > warmup
        args = {"images": held_out["images"], "labels": held_out["labels"],
                "order": jnp.asarray(order[:spe * batch_size], jnp.int32),
                "tau": jnp.float32(tau), "active": jnp.asarray(active)}
        arch, _ = found(state)
        log = {"gdas_tau": tau, "gdas_active": bool(active)}
        if space.size is not None:  # official indices (NB201)
            log["gdas_index"] = int(space.to_index(arch[None])[0])
        log["gdas_arch"] = space.to_str(arch)
        return state, {"gdas": args}, log

    return Technique(name=NAME, init_state=init_state, sampler=sampler,
                     update_state=update_state, epoch_start=epoch_start, found=found,
                     provides=("arch",),
                     needs={"base.forward": "GDAS's architecture step runs the plain supernet "
                                            "with Gumbel edge weights"})

