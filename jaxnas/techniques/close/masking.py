"""Optimizer pieces that keep CLOSENet's inactive GLOW blocks frozen.

PyTorch never touches the parameters of a block that has not been activated yet (its grad is None:
no update, no momentum, no weight decay), so a new block starts from its own init + the previous
block (WIT). In JAX every leaf gets a gradient, and `add_decayed_weights` would decay inactive
slots and feed momentum. Here a runtime mask (a pytree argument, so changing the level never
recompiles) removes them from the update.

Recipe (`masked_sgd`): mask the incoming gradients (so the global-norm clip ignores inactive
slots), clip, add weight decay, mask again, then momentum and the learning rate. The second mask
must sit after the weight decay and before the momentum: then an inactive slot feeds exactly 0 into
a buffer that starts at 0, so `buf = m * 0 + 0 = 0`, its update is 0 and its parameters, momentum
buffer and everything else stay bit-identical. A mask only at the end of the chain would freeze the
parameters but let the buffer accumulate decay, released the moment the block is activated.
The invariant needs the buffers of inactive slots to be 0 when they are inactive: true when levels
only grow, or after `restart_opt_state`.
"""

import jax
import jax.numpy as jnp
import optax

from jaxnas.errors import ConfigError
from jaxnas.optim import apply_edits, sgd_parts
from jaxnas.train.technique import Edit


def _is_pool(path):
    return any(isinstance(k, jax.tree_util.DictKey) and k.key == "pools" for k in path)


def block_mask(params, level, *, k_max, slots_per_cell=None, num_cells_per_stage=None):
    """Bool masks, one per leaf of `params`, broadcastable to it: True where updates apply.

    Leaves under a `"pools"` dict key (the supernet's slot-stacked pools, `slots_per_cell` slots
    per cell, default `k_max`, in groups of `k_max` blocks: slot `c*k_max + b` being NB201 cell
    c's block b) are masked along the slot axis by `b < level`; every other leaf (stem,
    reductions, head, GATE parameters) gets True. `level` may be traced; `params` may be the
    supernet parameters or any tree containing them (e.g. `{"supernet": ..., "gate": ...}`).
    `num_cells_per_stage` (NB201) also checks each pool's cell count.
    """
    spc = k_max if slots_per_cell is None else slots_per_cell

    def leaf_mask(path, leaf):
        if not _is_pool(path):
            return jnp.ones((), bool)
        n = leaf.shape[0]
        if n % spc or (num_cells_per_stage is not None and n != num_cells_per_stage * spc):
            raise ConfigError(f"pool {jax.tree_util.keystr(path)} has {n} slots, expected "
                              f"whole cells of {spc} slots ({k_max} blocks per group)")
        active = jnp.arange(n) % spc % k_max < level
        return active.reshape(active.shape + (1,) * (leaf.ndim - 1))

    return jax.tree_util.tree_map_with_path(leaf_mask, params)


def freeze_inactive():
    """Stateless transformation zeroing the updates where `block_mask` (an extra arg) is False."""

    def init(params):
        del params
        return optax.EmptyState()

    def update(updates, state, params=None, *, block_mask, **extra):
        del params, extra
        def zero_inactive(u, m):
            return jnp.where(m, u, jnp.zeros_like(u))

        return jax.tree.map(zero_inactive, updates, block_mask), state

    return optax.GradientTransformationExtraArgs(init, update)


def freeze_edits(clip=5.0):
    """CLOSE's two masks as edits of the base SGD chain (`jaxnas.optim.sgd_parts`):
    "freeze_grads" before the clip (inactive blocks do not count in the global norm; before
    "decay" when `clip` is None) and "freeze" after the weight decay (so they are not decayed
    and feed nothing into the momentum)."""
    first = "clip" if clip is not None else "decay"
    return (Edit("before", "freeze_grads", freeze_inactive(), first),
            Edit("after", "freeze", freeze_inactive(), "decay"))


def masked_sgd(learning_rate, momentum=0.9, nesterov=False, weight_decay=5e-4, clip=5.0):
    """PyTorch-style SGD that leaves inactive blocks untouched; `update(..., block_mask=mask)`.

    `jaxnas.optim.sgd_torch` with `freeze_edits`: `g = clip(mask * grad)`,
    `d = mask * (g + weight_decay * p)`, `buf = momentum * buf + d` and the step `-lr * buf`
    (nesterov: `-lr * (d + momentum * buf)`), as torch.optim.SGD after global-norm clipping
    (aw_nas: lr 0.05, momentum 0.9, wd 5e-4, clip 5). `clip=None` skips the clipping.
    `learning_rate` may be an optax schedule.
    """
    parts = sgd_parts(learning_rate, momentum, nesterov, weight_decay, clip)
    return optax.named_chain(*apply_edits(parts, [("close", e) for e in freeze_edits(clip)]))


def restart_opt_state(opt_state):
    """The optimizer state of a fresh start: the reference's SRT restart (aw_nas
    `switch_epochs: [401]`).

    Re-creating the optimizer zeroes every buffer (momentum traces, and any other state that
    starts at zero). Step counters (`count` fields) are kept, so a step-indexed schedule built
    with restarts (`optim.cosine_schedule(..., restarts=...)`) stays aligned with the global step.
    """
    def reset(path, leaf):
        last = path[-1] if path else None
        return leaf if getattr(last, "name", None) == "count" else jnp.zeros_like(leaf)

    return jax.tree_util.tree_map_with_path(reset, opt_state)


def reset_group(opt_state, name):
    """`opt_state` with parameter group `name`'s whole state zeroed, step counts included.

    For the `optax.partition` state of `config.optim.groups` (`jaxnas.optim.partition`): a group
    whose state starts at zero (Adam's moments and count, SGD's momentum) is then exactly a fresh
    optimizer, as if it had never stepped. Unchanged when there is no such group.
    """
    inner = getattr(opt_state, "inner_states", None)
    if not inner or name not in inner:
        return opt_state
    fresh = jax.tree.map(jnp.zeros_like, inner[name])
    return opt_state._replace(inner_states={**inner, name: fresh})
