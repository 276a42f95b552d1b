"""The NAS-Bench-201 candidate operations and the building blocks around them, as pure functions.

Activations are NHWC. Batch norm always normalises with the statistics of the current batch, as the
reference supernets do (train-mode BN also at evaluation); cell BNs have no affine parameters. With
`axis_name`, the statistics are those of the whole batch across the devices of that mapped axis
(synchronised BN), so a data-parallel step computes exactly what a single-device step does.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxnas.supernet.conv import conv2d

BN_EPS = 1e-5


def _mean(x, axis_name):
    m = jnp.mean(x, axis=(0, 1, 2))
    return m if axis_name is None else lax.pmean(m, axis_name)


def _normalize(z, axis_name):
    """Batch-normalised z and the per-channel reciprocal standard deviation."""
    mean = _mean(z, axis_name)
    rstd = lax.rsqrt(_mean(jnp.square(z - mean), axis_name) + BN_EPS)
    return (z - mean) * rstd, rstd


def batch_norm(x, scale=None, bias=None, *, axis_name=None):
    """Normalise over (batch, height, width) with batch statistics; optional affine transform."""
    y = _normalize(x, axis_name)[0]
    return y if scale is None else y * scale + bias


def relu_conv_bn(x, w, bn=None, *, stride=1, impl="xla", axis_name=None):
    """ReLU -> conv (no bias) -> BN, the `nor_conv_kxk` op and the reduction block's halves."""
    y = conv2d(jax.nn.relu(x), w, stride=stride, impl=impl)
    bn = bn or {}
    return batch_norm(y, bn.get("scale"), bn.get("bias"), axis_name=axis_name)


def avg_pool_3x3(x):
    """3x3 average pool, stride 1, padding 1, padded zeros not counted (count_include_pad=False).

    Written as sums of shifted slices (separable: rows, then columns) rather than `reduce_window`:
    the same numbers, but plain slices and adds fuse into one elementwise loop forward and backward,
    where XLA's CPU `reduce_window` and its gradient are ~10x slower.
    """
    h, w = x.shape[1:3]
    p = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    rows = p[:, :, :-2] + p[:, :, 1:-1] + p[:, :, 2:]
    total = rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]
    return total * _inverse_counts(h, w).astype(x.dtype)


@functools.cache
def _inverse_counts(h, w):
    """1 / (number of in-bounds pixels of each 3x3 window), `[1, h, w, 1]` (a trace-time
    constant)."""
    ones = np.pad(np.ones((h, w), np.float32), 1)
    counts = sum(ones[i:i + h, j:j + w] for i in range(3) for j in range(3))
    return (1.0 / counts)[None, :, :, None]


def avg_pool_2x2(x):
    """2x2 average pool with stride 2, no padding (the reduction block's shortcut): an odd last
    row or column is dropped, as a VALID `reduce_window` would."""
    b, h, w, c = x.shape
    x = x[:, :h - h % 2, :w - w % 2]
    return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def _branches(impl, axis_name):
    """The five candidate ops in `nb201.OPS` order, each `(x, w1x1, w3x3) -> y`."""
    conv = functools.partial(relu_conv_bn, impl=impl, axis_name=axis_name)
    return (
        lambda x, w1, w3: jnp.zeros_like(x),  # none
        lambda x, w1, w3: x,  # skip_connect
        lambda x, w1, w3: conv(x, w1),  # nor_conv_1x1
        lambda x, w1, w3: conv(x, w3),  # nor_conv_3x3
        lambda x, w1, w3: avg_pool_3x3(x),  # avg_pool_3x3
    )


# ----------------------------------------------------------------------------------------------
# Single-path edge with a hand-written gradient.


def _conv_fwd(x, w, impl, axis_name):
    return _normalize(conv2d(jax.nn.relu(x), w, impl=impl), axis_name)


def _conv_bwd(x, w, y, rstd, dy, impl, axis_name):
    # BN backward from its output: dz = rstd * (dy - mean(dy) - y * mean(dy * y)).
    dz = rstd * (dy - _mean(dy, axis_name) - y * _mean(dy * y, axis_name))
    # The primal convolution of this vjp is unused and removed by XLA; only its transpose runs.
    return jax.vjp(lambda x, w: conv2d(jax.nn.relu(x), w, impl=impl), x, w)[1](dz)


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def _edge_switch(op, x, w1, w3, conv_impl, axis_name):
    return _edge_switch_fwd(op, x, w1, w3, conv_impl, axis_name)[0]


def _edge_switch_fwd(op, x, w1, w3, conv_impl, axis_name):
    ones = jnp.ones(x.shape[-1:], x.dtype)
    branches = (
        lambda x, w1, w3: (jnp.zeros_like(x), ones),
        lambda x, w1, w3: (x, ones),
        lambda x, w1, w3: _conv_fwd(x, w1, conv_impl, axis_name),
        lambda x, w1, w3: _conv_fwd(x, w3, conv_impl, axis_name),
        lambda x, w1, w3: (avg_pool_3x3(x), ones),
    )
    y, rstd = lax.switch(op, branches, x, w1, w3)
    return y, (op, x, w1, w3, y, rstd)


def _edge_switch_bwd(conv_impl, axis_name, res, dy):
    op, x, w1, w3, y, rstd = res
    zero1, zero3 = jnp.zeros_like(w1), jnp.zeros_like(w3)

    def conv1(x, dy):
        dx, dw = _conv_bwd(x, w1, y, rstd, dy, conv_impl, axis_name)
        return dx, dw, zero3

    def conv3(x, dy):
        dx, dw = _conv_bwd(x, w3, y, rstd, dy, conv_impl, axis_name)
        return dx, zero1, dw

    branches = (
        lambda x, dy: (jnp.zeros_like(x), zero1, zero3),
        lambda x, dy: (dy, zero1, zero3),
        conv1,
        conv3,
        lambda x, dy: (jax.vjp(avg_pool_3x3, x)[1](dy)[0], zero1, zero3),
    )
    return (None,) + tuple(lax.switch(op, branches, x, dy))


_edge_switch.defvjp(_edge_switch_fwd, _edge_switch_bwd)


def edge_switch(op, x, w1, w3, *, conv_impl="xla", axis_name=None):
    """Run only the sampled op: a conditional over the five candidates (single-path).

    The gradient is written by hand. Differentiating `lax.switch` directly makes every branch emit
    zero-filled copies of the residuals of every other branch, on every edge, whatever op was
    sampled. Here the residuals are the edge's input and output (and a per-channel BN scale), and
    the backward pass is one conditional that runs the sampled op's transpose only.
    """
    return _edge_switch(op, x, w1, w3, conv_impl, axis_name)


# ----------------------------------------------------------------------------------------------
# Edge over a mixture of parameter slots (CLOSENet's straight-through block assignment).


def _conv_out(op, x, w1, w3, impl, axis_name):
    """The (normalised) output of conv op `op` (2 or 3) with the given weights; forward only."""
    return lax.cond(op == 2, lambda: _conv_fwd(x, w1, impl, axis_name)[0],
                    lambda: _conv_fwd(x, w3, impl, axis_name)[0])


@functools.partial(jax.custom_vjp, nondiff_argnums=(6, 7))
def _edge_mix_switch(op, x, w1, w3, weights, active, conv_impl, axis_name):
    return _edge_mix_switch_fwd(op, x, w1, w3, weights, active, conv_impl, axis_name)[0]


def _edge_mix_switch_fwd(op, x, w1, w3, weights, active, conv_impl, axis_name):
    b = jnp.argmax(weights)
    y, res = _edge_switch_fwd(op, x, w1[b], w3[b], conv_impl, axis_name)
    return weights[b] * y, (res, b, w1, w3, weights, active)


def _edge_mix_switch_bwd(conv_impl, axis_name, res, dout):
    res, b, w1, w3, weights, active = res
    op, x, _, _, y, _ = res
    _, dx, dw1_b, dw3_b = _edge_switch_bwd(conv_impl, axis_name, res, weights[b] * dout)
    dw1 = jnp.zeros_like(w1).at[b].set(dw1_b)
    dw3 = jnp.zeros_like(w3).at[b].set(dw3_b)
    # d/dweights[k] = <dout, op(x; slot k)>: the chosen slot's output for parameter-free ops and
    # for k = b, a forward-only convolution with slot k's weights otherwise; 0 for inactive slots.
    same = jnp.vdot(dout, y)
    is_conv = (op == 2) | (op == 3)
    dweights = []
    for k in range(weights.shape[0]):
        own = lax.cond(active[k] & is_conv & (k != b),
                       lambda k=k: jnp.vdot(dout, _conv_out(op, x, w1[k], w3[k], conv_impl,
                                                            axis_name)),
                       lambda: same)
        dweights.append(jnp.where(active[k], own, 0.0))
    return None, dx, dw1, dw3, jnp.stack(dweights).astype(weights.dtype), None


_edge_mix_switch.defvjp(_edge_mix_switch_fwd, _edge_mix_switch_bwd)


def edge_mix_switch(op, x, w1, w3, weights, active, *, conv_impl="xla", axis_name=None):
    """`sum_k weights[k] * op(x; slot k)` for `weights` one-hot in value (straight-through).

    `w1`, `w3` are `[K, ...]` slot stacks; `weights` float `[K]` (exactly one-hot in value, e.g.
    `one_hot + p - stop_gradient(p)`), `active` bool `[K]`. Only the chosen slot runs with a
    gradient, as single-path `edge_switch`; the other active slots run one forward convolution
    each in the backward pass, for their weight's gradient; inactive slots cost nothing. Values and
    gradients equal those of `edge_mix_generic` for one-hot-valued weights.
    """
    return _edge_mix_switch(op, x, w1, w3, weights, active, conv_impl, axis_name)


def edge_mix_generic(edge_fn):
    """`sum_k weights[k] * edge_fn(op, x; slot k)` over the active slots, for any edge_fn.

    Every slot runs (an inactive one as `none`), differentiated by JAX: the reference formula,
    used with the `masked` and `switch_autodiff` edges.
    """
    def mix(op, x, w1, w3, weights, active, **kwargs):
        total = 0.0
        for k in range(weights.shape[0]):
            slot_op = jnp.where(active[k], op, 0)  # 0 = none: an inactive slot adds zeros
            total = total + weights[k] * edge_fn(slot_op, x, w1[k], w3[k], **kwargs)
        return total
    return mix


def edge_switch_autodiff(op, x, w1, w3, *, conv_impl="xla", axis_name=None):
    """`lax.switch` over the candidates, differentiated by JAX (the plain reference)."""
    return lax.switch(op, _branches(conv_impl, axis_name), x, w1, w3)


def edge_masked(op, x, w1, w3, *, conv_impl="xla", axis_name=None):
    """Run all five candidates and keep the sampled one: no conditional, 5x the work.

    The fallback for backends where conditionals are costlier than the wasted compute (TPU).
    """
    outs = jnp.stack([f(x, w1, w3) for f in _branches(conv_impl, axis_name)])
    return jnp.tensordot(jax.nn.one_hot(op, outs.shape[0], dtype=x.dtype), outs, axes=1)


EDGE_IMPLS = {
    "switch": edge_switch, "switch_autodiff": edge_switch_autodiff, "masked": edge_masked}
# The slot-mixture edge of each edge implementation.
EDGE_MIX_IMPLS = {"switch": edge_mix_switch,
                  "switch_autodiff": edge_mix_generic(edge_switch_autodiff),
                  "masked": edge_mix_generic(edge_masked)}
