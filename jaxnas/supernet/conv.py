"""2-D convolution with a backend-aware backward pass.

On the CPU, XLA only routes a convolution to its fast kernels when the convolution is in a canonical
form. Its own weight gradient of a convolution that sits inside a conditional (`lax.switch`, which
is how a single-path supernet skips the ops it did not sample) is not: it is emitted as a naive loop
and runs about 40x slower than the forward pass. `conv_nested` keeps the XLA forward pass and spells
out the backward pass as two canonical convolutions (input gradient with the flipped kernel, weight
gradient with batch and channels swapped), which stay fast inside conditionals and loops.

On GPU/TPU the plain `lax` gradient is the right choice; `conv2d` picks by `impl`.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax

_DN = ("NHWC", "HWIO", "NHWC")


def _conv(x, w, stride, padding):
    return lax.conv_general_dilated(x, w, (stride, stride), padding, dimension_numbers=_DN)


def _same_padding(k):
    p = k // 2
    return ((p, p), (p, p))


@jax.custom_vjp
def conv_nested(x, w):
    """Stride-1 'same' convolution (odd kernel) whose gradient is fast inside conditionals."""
    return _conv(x, w, 1, _same_padding(w.shape[0]))


def _conv_nested_fwd(x, w):
    return conv_nested(x, w), (x, w)


def _conv_nested_bwd(res, dy):
    x, w = res
    pad = _same_padding(w.shape[0])
    # dx: correlate dy with the spatially flipped kernel, in and out channels swapped.
    w_t = jnp.transpose(w[::-1, ::-1], (0, 1, 3, 2))
    dx = _conv(dy, w_t, 1, pad)
    if w.shape[0] == 1:  # 1x1: dw is one matrix product over all pixels, ~4x faster than a conv.
        dw = jnp.einsum("bhwc,bhwo->co", x, dy)[None, None]
        return dx, dw.astype(w.dtype)
    # dw[i, j, c, o] = sum_{b,h,w} x[b, h+i-p, w+j-p, c] dy[b, h, w, o]: a convolution of x
    # (channels as batch, batch as features) with dy (as a kernel). Padding inside the conv, not
    # jnp.pad, keeps it on the fast path.
    dw = _conv(jnp.transpose(x, (3, 1, 2, 0)), jnp.transpose(dy, (1, 2, 0, 3)), 1, pad)
    return dx, jnp.transpose(dw, (1, 2, 0, 3))


conv_nested.defvjp(_conv_nested_fwd, _conv_nested_bwd)


def conv2d(x, w, *, stride=1, padding=None, impl="xla"):
    """NHWC x HWIO convolution, PyTorch-style symmetric padding k//2 unless `padding` is given.

    Args:
      x: [B, H, W, C_in] input.
      w: [k, k, C_in, C_out] kernel.
      stride: spatial stride.
      padding: explicit ((top, bottom), (left, right)); default k//2 on each side.
      impl: "xla" (plain lax gradient) or "nested" (custom gradient that stays fast inside
        conditionals on the CPU; stride 1 and default padding only).
    """
    if padding is None:
        padding = _same_padding(w.shape[0])
    if impl == "nested" and stride == 1 and padding == _same_padding(w.shape[0]):
        return conv_nested(x, w)
    if impl not in ("xla", "nested"):
        raise ValueError(f"unknown conv impl {impl!r}")
    return _conv(x, w, stride, padding)


@functools.cache
def default_impl(backend=None):
    """The conv implementation that is fast on `backend` (default: JAX's default backend)."""
    return "nested" if (backend or jax.default_backend()) == "cpu" else "xla"
