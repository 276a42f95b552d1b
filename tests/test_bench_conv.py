"""`experiments/bench_conv.py`'s rewritings of the 3x3 convolution compute the convolution they
are timed against: each variant equals XLA's convolution, each weight-gradient variant equals
JAX's gradient of it."""

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
import bench_conv  # noqa: E402


@pytest.mark.parametrize("shape", [(4, 6, 3), (2, 4, 8)])
def test_variants_equal_the_convolution(shape):
    b, size, c = shape
    kx, kw, kg = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, (b, size, size, c))
    w = jax.random.normal(kw, (3, 3, c, c))
    dy = jax.random.normal(kg, (b, size, size, c))
    variants = bench_conv.jax_variants()
    ref = variants["xla"](x, w)
    for name, f in variants.items():
        np.testing.assert_allclose(f(x, w), ref, rtol=1e-5, atol=1e-4, err_msg=name)
    dw = jax.grad(lambda w: jnp.vdot(variants["xla"](x, w), dy))(w)
    for name, f in bench_conv.weight_grads().items():
        np.testing.assert_allclose(f(x, dy), dw, rtol=1e-5, atol=1e-3, err_msg=name)
