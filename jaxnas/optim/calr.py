"""Complexity-aware learning rate (CaLR; Jeon et al., CVPR 2025, "DYNAS") as an optax transform.

One static LR schedule under-trains the complex subnets of a supernet: they converge more slowly.
CaLR gives each step the LR of a polynomial decay whose exponent depends on the complexity `c` of
the subnet sampled in that step (the authors' `AdaptiveParamSchedule`):

    gamma(c)  = gamma_max - (gamma_max - 1/gamma_max) * (ln c - ln c_min) / (ln c_max - ln c_min)
    factor(t) = eta_min + (1 - eta_min) * (1 - t/T) ** gamma(c)

so the simplest subnet (`c_min`) decays fast (gamma = gamma_max = 4) and the most complex one
(`c_max`) keeps a high LR for long (gamma = 1/gamma_max). The reference bounds gamma by taking
`c_min`/`c_max` from the simplest and the most complex cell; here gamma is also clipped to
`[1/gamma_max, gamma_max]`, which changes nothing inside that range. `eta_min` is a ratio of the
base LR (0 in every reference script).

`scale_by_calr` multiplies the incoming updates by `factor`; place it after the learning rate
(`optax.chain(..., optax.scale_by_learning_rate(lr0), scale_by_calr(...))` gives the reference's
`lr0 * (1 - t/T) ** gamma`). The complexity and the step are per-step keyword arguments of
`update`, so a new subnet never recompiles. The transform knows nothing of any search space:
`complexity` names the keyword argument holding it (or is a function of all of them).
"""

from typing import Any, Callable, NamedTuple, Union

import jax
import jax.numpy as jnp
import optax


def decay_exponent(complexity, c_min, c_max, gamma_max=4.0):
    """gamma(c): log-linear in `complexity`, `gamma_max` at `c_min`, `1/gamma_max` at `c_max`."""
    gamma_min = 1.0 / gamma_max
    s = (jnp.log(complexity) - jnp.log(c_min)) / (jnp.log(c_max) - jnp.log(c_min))
    return jnp.clip(gamma_max - (gamma_max - gamma_min) * s, gamma_min, gamma_max)


def calr_factor(step, total_steps, gamma, eta_min=0.0):
    """`eta_min + (1 - eta_min) * (1 - step/total_steps) ** gamma`; `step` clipped to [0, T].

    Computed as `((T - t) / T) ** gamma` (the reference's `(T-t)**g / T**g` overflows float32
    for gamma = 4 at paper scale; `1 - t/T` loses precision near the end).
    """
    left = jnp.clip(total_steps - jnp.asarray(step, jnp.float32), 0.0, total_steps) / total_steps
    return eta_min + (1.0 - eta_min) * left ** gamma


class ScaleByCaLRState(NamedTuple):
    count: jax.Array  # int32: updates so far, the step used when `update` gets no `step` argument


def _first(x):
    """The complexity of the first sampled subnet (`num_params` etc. are `[k]` per step)."""
    return jnp.ravel(jnp.asarray(x, jnp.float32))[0]


def scale_by_calr(total_steps: int, c_min: float, c_max: float, gamma_max: float = 4.0,
                  eta_min: float = 0.0,
                  complexity: Union[str, Callable[..., Any]] = "num_params",
                  ) -> optax.GradientTransformationExtraArgs:
    """Multiply updates by CaLR's `factor(step, complexity)`.

    Args:
      total_steps: T, the steps of the whole run.
      c_min, c_max: complexities of the simplest and the most complex subnet (same unit as the
        complexity argument).
      gamma_max: the largest decay exponent (the reference's `--max_coeff`, 4).
      eta_min: the factor's floor, a ratio of the base LR (0 in the reference).
      complexity: the name of the `update` keyword argument holding this step's complexity
        (a scalar, or `[k]` for k sampled subnets: the first is used), or a function called with
        all keyword arguments, e.g. `lambda arch, **_: table[code(arch)]`.

    `update` takes the global step from its `step` keyword argument when given, else from its
    own counter (state `count`), so it also works in a chain called without one.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if not 0 < c_min < c_max:
        raise ValueError(f"need 0 < c_min < c_max, got c_min={c_min}, c_max={c_max}")
    if gamma_max < 1:
        raise ValueError(f"gamma_max must be >= 1, got {gamma_max}")

    def init(params):
        del params
        return ScaleByCaLRState(count=jnp.zeros((), jnp.int32))

    def update(updates, state, params=None, **extra_args):
        del params
        if callable(complexity):
            c = _first(complexity(**extra_args))
        elif complexity in extra_args:
            c = _first(extra_args[complexity])
        else:
            raise TypeError(f"scale_by_calr needs the keyword argument {complexity!r} in update "
                            f"(got {sorted(extra_args)})")
        step = extra_args.get("step", state.count)
        factor = calr_factor(step, total_steps, decay_exponent(c, c_min, c_max, gamma_max),
                             eta_min)
        updates = jax.tree.map(lambda u: u * factor.astype(u.dtype), updates)
        return updates, ScaleByCaLRState(count=optax.safe_increment(state.count))

    return optax.GradientTransformationExtraArgs(init, update)
