"""`experiments/bench_standalone.py`'s one-program-per-cell network (`static_network`) is the same
network as the stand-alone trainer's: same parameters in, same logits and gradients out. The
benchmark compares their speed; this checks that it compares like with like."""

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import spaces
from jaxnas.train import standalone, standalone_step as sstep

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
import bench_standalone as bench  # noqa: E402


def _loss(apply, params, arch, x, labels):
    logits = apply(params, arch, x)
    return jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(len(labels)), labels]), logits


@pytest.mark.parametrize("space_name, arch_text", [
    ("nb201", "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"),
    ("darts", None),
])
def test_static_network_equals_runtime_network(monkeypatch, space_name, arch_text):
    monkeypatch.setattr(bench, "SPACE", space_name)
    if space_name == "nb201":
        monkeypatch.setattr(bench, "SIZES", dict(C=4, N=1, resolution=8))
    space = spaces.get(space_name)
    arch = (space.from_str(arch_text) if arch_text
            else space.sample_np(np.random.default_rng(3)))
    runtime = sstep.network_for(space, standalone.net_config(bench.setting("mini")))
    static = bench.static_network("mini", arch)
    params = runtime.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (8, 8, 8, 3))
    labels = jnp.arange(8) % 10
    arch = jnp.asarray(arch)
    grad = jax.value_and_grad(_loss, argnums=1, has_aux=True)
    (loss_r, logits_r), g_r = jax.jit(lambda p: grad(runtime.apply, p, arch, x, labels))(params)
    (loss_s, logits_s), g_s = jax.jit(lambda p: grad(static.apply, p, arch, x, labels))(params)
    np.testing.assert_allclose(logits_s, logits_r, rtol=1e-5, atol=1e-5)
    for a, b in zip(jax.tree.leaves(g_s), jax.tree.leaves(g_r)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert np.abs(np.asarray(logits_r)).max() > 0  # a real network, not a constant
