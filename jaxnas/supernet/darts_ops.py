"""DARTS's candidate operations (quark0/darts `operations.py`) as pure functions, shared by the
search supernet (`jaxnas.supernet.darts`) and the evaluation network (`darts_eval`).

On the CPU the depthwise convolutions and 3x3 pools are sums of strided slices and the 1x1
convolutions matrix products: XLA's CPU grouped convolution and `reduce_window` gradient are
slow, and a convolution's weight gradient inside a conditional is emitted as a naive loop
(`jaxnas.supernet.conv`). Elsewhere they are XLA's convolutions and `reduce_window`. Both forms
compute the same numbers.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxnas.supernet import ops as base_ops

_DN = ("NHWC", "HWIO", "NHWC")


def conv(x, w, stride=1, padding=0, dilation=1, groups=1):
    """NHWC x HWIO convolution with symmetric padding."""
    pad = ((padding, padding), (padding, padding))
    return lax.conv_general_dilated(x, w, (stride, stride), pad, rhs_dilation=(dilation,) * 2,
                                    dimension_numbers=_DN, feature_group_count=groups)


def bn(x, p=None, axis_name=None):
    """Batch norm with batch statistics; affine when `p` ({scale, bias}) is given."""
    if p is None:
        return base_ops.batch_norm(x, axis_name=axis_name)
    return base_ops.batch_norm(x, p["scale"], p["bias"], axis_name=axis_name)


def _on_cpu():
    return jax.default_backend() == "cpu"


def _depthwise_slices(x, w, stride, padding, dilation):
    """Depthwise conv as a sum of k*k strided slices times per-channel weights: the same
    numbers as the grouped convolution, but elementwise code XLA's CPU backend fuses forward and
    backward (3-7x faster than its grouped convolution: a [96, 32, 32, 16] batch's gradient
    took 0.09-0.32 s against 0.43-0.96 s, k 3/5, dilation 1/2; run on the loaded 2-core CPU)."""
    k = w.shape[0]
    b, h, wd, c = x.shape
    xp = jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    ho = (h + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    wo = (wd + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    out = 0.0
    for i in range(k):
        for j in range(k):
            start = (0, i * dilation, j * dilation, 0)
            end = (b, start[1] + (ho - 1) * stride + 1, start[2] + (wo - 1) * stride + 1, c)
            out = out + lax.slice(xp, start, end, (1, stride, stride, 1)) * w[i, j, 0]
    return out


def depthwise(x, w, stride, padding, dilation):
    """Depthwise kxk convolution (weights `[k, k, 1, C]`): slices on the CPU, XLA's grouped
    convolution elsewhere."""
    if _on_cpu():
        return _depthwise_slices(x, w, stride, padding, dilation)
    return conv(x, w, stride, padding, dilation, groups=x.shape[-1])


def _window_slices(x, stride, fill):
    """The 9 strided slices of a 3x3 window with padding 1 (padded with `fill`)."""
    b, h, w, c = x.shape
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=fill)
    ho, wo = (h - 1) // stride + 1, (w - 1) // stride + 1
    return [lax.slice(xp, (0, i, j, 0), (b, i + (ho - 1) * stride + 1,
                                         j + (wo - 1) * stride + 1, c), (1, stride, stride, 1))
            for i in range(3) for j in range(3)]


def _pool_xla(x, stride, kind):
    window, strides = (1, 3, 3, 1), (1, stride, stride, 1)
    pad = ((0, 0), (1, 1), (1, 1), (0, 0))
    if kind == "max":
        return lax.reduce_window(x, -jnp.inf, lax.max, window, strides, pad)
    total = lax.reduce_window(x, 0.0, lax.add, window, strides, pad)
    ones = jnp.ones((1,) + x.shape[1:3] + (1,), x.dtype)
    return total / lax.reduce_window(ones, 0.0, lax.add, window, strides, pad)


def pool(x, stride, kind):
    """3x3 pool, padding 1: max ("max"), or average over the in-bounds pixels ("avg",
    count_include_pad=False). On the CPU as elementwise max / sum of slices."""
    if not _on_cpu():
        return _pool_xla(x, stride, kind)
    if kind == "max":
        return functools.reduce(jnp.maximum, _window_slices(x, stride, -jnp.inf))
    h, w = x.shape[1:3]
    ones = np.pad(np.ones((1, h, w, 1), np.float32), ((0, 0), (1, 1), (1, 1), (0, 0)))
    counts = sum(ones[:, i:i + h:stride, j:j + w:stride] for i in range(3) for j in range(3))
    return sum(_window_slices(x, stride, 0.0)) * (1.0 / counts).astype(x.dtype)


def pointwise(x, w):
    """1x1 stride-1 convolution as a matrix product over channels."""
    return x @ w[0, 0]


def dw_pw(x, dw, pw, stride, padding, dilation, bn_params=None, axis_name=None):
    """ReLU, depthwise conv, pointwise 1x1, BN: half of a sep_conv, all of a dil_conv."""
    y = depthwise(jax.nn.relu(x), dw, stride, padding, dilation)
    return bn(pointwise(y, pw), bn_params, axis_name)


def factorized_reduce(x, w1, w2, bn_params=None, axis_name=None):
    """DARTS's FactorizedReduce: ReLU, two stride-2 1x1 convs (the second shifted by one pixel),
    channels concatenated, BN. On an even-sized map a stride-2 1x1 conv is a product over
    channels of every other pixel."""
    r = jax.nn.relu(x)
    y = jnp.concatenate([pointwise(r[:, ::2, ::2], w1), pointwise(r[:, 1::2, 1::2], w2)],
                        axis=-1)
    return bn(y, bn_params, axis_name)


def relu_conv1x1_bn(x, w, bn_params=None, axis_name=None):
    """ReLU, 1x1 conv, BN: the preprocessing of a cell input (ReLUConvBN)."""
    return bn(pointwise(jax.nn.relu(x), w), bn_params, axis_name)
