"""The reference's learning-rate schedule: PyTorch `ReduceLROnPlateau` on the epoch's training loss.

aw_nas trains CLOSE with `plateau(patience 30, factor 0.5)`: at each epoch start the scheduler
sees the mean training loss of the previous epoch and halves the learning rate after more than
`patience` epochs without a relative improvement of `threshold` (torch's defaults: mode "min",
threshold mode "rel", 1e-4, no cooldown). Here the same rule is an optax transformation placed
after the learning rate: it scales the updates by `factor ** reductions`, sums the `loss` every
step receives, and decides at the last step of each epoch, so the new rate applies from the next
epoch's first step, as in the reference.

The state is all zeros at the start (`reductions`, `has_best`, ...), so zeroing it is a fresh
scheduler: `jaxnas.techniques.close.masking.restart_opt_state` (CLOSE's SRT, which in aw_nas
re-creates the optimizer *and* the scheduler) resets it without knowing about it. Not
CLOSE-specific; it lives here because CLOSE is the technique whose reference uses it.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxnas.errors import ConfigError


class PlateauState(NamedTuple):
    reductions: jax.Array   # int32: times the rate was multiplied by `factor`
    best: jax.Array         # float32: best epoch-mean loss so far (valid when has_best)
    has_best: jax.Array     # int32 0/1: torch's initial best is +inf
    bad_epochs: jax.Array   # int32: epochs since the last improvement (torch `num_bad_epochs`)
    loss_sum: jax.Array     # float32: sum of this epoch's step losses so far
    steps: jax.Array        # int32: steps of this epoch so far


def reduce_on_plateau(*, factor, patience, threshold, steps_per_epoch):
    """Scale updates by `factor ** reductions`; update the plateau rule once per epoch.

    Args:
      factor: multiplier of the learning rate at a plateau, in (0, 1) (reference 0.5).
      patience: epochs without improvement tolerated; the rate drops when exceeded (reference 30).
      threshold: relative improvement needed, `mean < best * (1 - threshold)` (torch 1e-4).
      steps_per_epoch: steps whose losses make one epoch's mean (the run's).
    """
    if not 0.0 < factor < 1.0:
        raise ConfigError(f"close.plateau.factor must lie in (0, 1), got {factor!r}")
    if not isinstance(patience, int) or patience < 0:
        raise ConfigError(f"close.plateau.patience must be an integer >= 0, got {patience!r}")
    if not 0.0 <= threshold < 1.0:
        raise ConfigError(f"close.plateau.threshold must lie in [0, 1), got {threshold!r}")

    def init(params):
        del params
        # Distinct arrays: the train step donates the state, and a buffer may be donated once.
        return PlateauState(*(jnp.zeros((), t) for t in (jnp.int32, jnp.float32, jnp.int32,
                                                         jnp.int32, jnp.float32, jnp.int32)))

    def update(updates, state, params=None, *, loss, **extra):
        del params, extra
        scale = jnp.asarray(factor, jnp.float32) ** state.reductions
        updates = jax.tree.map(lambda u: (scale * u).astype(u.dtype), updates)
        loss_sum = state.loss_sum + loss.astype(jnp.float32)
        steps = state.steps + 1
        end = steps >= steps_per_epoch
        mean = loss_sum / steps
        improved = (state.has_best == 0) | (mean < state.best * (1.0 - threshold))
        bad = jnp.where(improved, 0, state.bad_epochs + 1)
        reduce = bad > patience
        new = PlateauState(
            reductions=state.reductions + reduce.astype(jnp.int32),
            best=jnp.where(improved, mean, state.best),
            has_best=jnp.ones((), jnp.int32),
            bad_epochs=jnp.where(reduce, 0, bad),
            loss_sum=jnp.zeros((), jnp.float32),
            steps=jnp.zeros((), jnp.int32))
        kept = state._replace(loss_sum=loss_sum, steps=steps)
        return updates, jax.tree.map(lambda a, b: jnp.where(end, a, b), new, kept)

    return optax.GradientTransformationExtraArgs(init, update)


def lr_scale(opt_state, factor):
    """The current multiplier `factor ** reductions` found in `opt_state` (None if absent)."""
    found = [s for s in jax.tree.leaves(opt_state, is_leaf=lambda x: isinstance(x, PlateauState))
             if isinstance(s, PlateauState)]
    return float(factor ** int(found[0].reductions)) if found else None
