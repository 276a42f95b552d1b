"""Momentum separation (MS; Jeon et al., CVPR 2025, "DYNAS") as optax transforms.

Consecutive steps of supernet training train different subnets, whose gradients disagree; one
shared momentum buffer averages them into noise. MS groups the subnets and keeps one momentum
buffer per group: a step of group g reads and writes buffer g only, the other groups' buffers stay
exactly as they were (no decay, no update) until their group is sampled again.

`separate(inner, num_groups)` does this for any optax transformation: its state is `inner`'s
state with a leading group axis on every leaf (`[G, *leaf.shape]`), and a step runs `inner` on the
slice of its group (a dynamic index, so a new group never recompiles). `separated_trace` is the
reference's case, `optax.trace` per group; the reference keeps five whole `torch.optim.SGD`
(momentum 0.9, Nesterov, weight decay 5e-4), which is `clip -> add_decayed_weights ->
separated_trace -> scale_by_learning_rate`: clipping and the (stateless) weight decay act before
the group's buffer, exactly as with one SGD per group. Memory: G copies of `inner`'s state.

The group of a step comes from the `group` keyword argument of `update` (an int scalar), or from
`group_fn(**extra_args)`, a jittable rule over the step's keyword arguments (e.g.
`lambda arch, **_: arch[3]`, the reference's "op on one edge"). An explicit `group` wins over the
rule. Groups outside `[0, G)` are clipped into it.
"""

from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import optax


class SeparatedState(NamedTuple):
    inner: Any  # the inner transformation's state; every leaf has a leading group axis [G, ...]


def group_of(extra_args, group_fn, num_groups):
    """The int32 group of a step: the `group` keyword argument, else `group_fn(**extra_args)`."""
    if "group" in extra_args:
        g = extra_args["group"]
    elif group_fn is not None:
        g = group_fn(**extra_args)
    else:
        raise TypeError("momentum separation needs a `group` keyword argument in update or a "
                        f"group_fn (got {sorted(extra_args)})")
    return jnp.clip(jnp.asarray(g).astype(jnp.int32).reshape(()), 0, num_groups - 1)


def separate(inner: optax.GradientTransformation, num_groups: int,
             group_fn: Optional[Callable[..., Any]] = None,
             ) -> optax.GradientTransformationExtraArgs:
    """`inner` with one state per group; each update touches the state of its group only.

    Args:
      inner: any optax transformation (e.g. `optax.trace(0.9, nesterov=True)`, or a whole
        `optax.sgd`, as the reference's one torch optimizer per group).
      num_groups: G.
      group_fn: jittable `(**extra_args) -> int` giving the step's group, used when `update` gets
        no `group` keyword argument.
    """
    if num_groups < 1:
        raise ValueError(f"num_groups must be >= 1, got {num_groups}")
    inner = optax.with_extra_args_support(inner)

    def init(params):
        state = inner.init(params)
        return SeparatedState(jax.tree.map(
            lambda x: jnp.repeat(jnp.asarray(x)[None], num_groups, axis=0), state))

    def update(updates, state, params=None, **extra_args):
        g = group_of(extra_args, group_fn, num_groups)
        mine = jax.tree.map(lambda x: jax.lax.dynamic_index_in_dim(x, g, keepdims=False),
                            state.inner)
        updates, mine = inner.update(updates, mine, params, **extra_args)
        new = jax.tree.map(
            lambda x, y: jax.lax.dynamic_update_index_in_dim(x, y.astype(x.dtype), g, 0),
            state.inner, mine)
        return updates, SeparatedState(new)

    return optax.GradientTransformationExtraArgs(init, update)


def separated_trace(num_groups: int, decay: float = 0.9, nesterov: bool = False,
                    accumulator_dtype: Optional[Any] = None,
                    group_fn: Optional[Callable[..., Any]] = None,
                    ) -> optax.GradientTransformationExtraArgs:
    """`optax.trace` with one momentum buffer per group (PyTorch SGD momentum, dampening 0):
    `buf_g = g + decay * buf_g`, output `buf_g` or, Nesterov, `g + decay * buf_g`.

    With `num_groups=1` it equals `optax.trace`. State: `SeparatedState(TraceState(trace))`,
    each trace leaf `[G, *param.shape]`.
    """
    return separate(optax.trace(decay=decay, nesterov=nesterov,
                                accumulator_dtype=accumulator_dtype), num_groups, group_fn)


def group_traces(state) -> Any:
    """The `[G, ...]` momentum traces inside a `separated_trace` state (for inspection)."""
    return state.inner.trace
