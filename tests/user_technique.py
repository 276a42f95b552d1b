"""A user's own technique, as the README shows it: a loss term and an optax piece.

`config.techniques = ("user_technique",)` finds this module by name (any importable module with
`technique` and `config_block`); its config block is `config.user_technique`.
"""

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
import optax

from jaxnas.train.technique import Technique, append


def config_block():
    # l2: weight of the loss term; max_flops: see below; probe: cells of the run's space scored
    # at each epoch start (0 = none)
    return dict(l2=1e-4, max_flops=0.0, probe=0)


class SeenState(NamedTuple):
    flops: jnp.ndarray      # the sampled cell's FLOPs at the last update
    arch: jnp.ndarray       # ... and its ops


def record_and_scale(max_flops):
    """Scale the update by min(1, max_flops / flops) (0 = no scaling); remember what it saw."""
    def init(params):
        del params
        return SeenState(jnp.zeros(()), jnp.zeros(6, jnp.int32))

    def update(updates, state, params=None, *, flops, arch, **extra):
        del params, extra
        scale = jnp.where(max_flops > 0, jnp.minimum(1.0, max_flops / flops[0]), 1.0)
        return optax.tree.scale(scale, updates), SeenState(flops[0], arch)

    return optax.GradientTransformationExtraArgs(init, update)


def technique(config, run):
    c = config.user_technique

    def l2_of_cell_weights(params, ctx):  # a loss term sees params and the step's context
        del ctx
        return c.l2 * sum(jnp.sum(p ** 2) for p in params["supernet"]["pools"][0].values())

    def probe(state, epoch):  # a host hook: the run's space and scorer, through `run`
        if not c.probe:
            return state, {}, {}
        rng = np.random.default_rng(epoch)
        archs = run.space.sample_np(rng, c.probe, mask=np.asarray(state.space))
        scores = run.score(state, archs, "accuracy", num_batches=1)
        return state, {}, {"probe_best": float(scores.max())}

    return Technique(name="user_technique", loss_terms={"l2": l2_of_cell_weights},
                     optimizer=(append("seen", record_and_scale(c.max_flops)),),
                     epoch_start=probe)
