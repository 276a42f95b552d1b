"""The functional supernet: shapes, parameter counts, sharing maps, formulations, compilation."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas.errors import ConfigError
from jaxnas.spaces import nb201 as space
from jaxnas.supernet import nb201, ops, pools

CFG = nb201.SupernetConfig(C=4, N=2)


@pytest.fixture(scope="module")
def params():
    return nb201.init(jax.random.key(0), CFG)


@pytest.fixture(scope="module")
def images():
    return jax.random.normal(jax.random.key(1), (6, 8, 8, 3))


def _archs(n, seed=0):
    return space.sample(np.random.default_rng(seed), n)


def _shared_params(params):
    return sum(x.size for k, v in params.items() if k != "pools" for x in jax.tree.leaves(v))


@pytest.mark.parametrize("arch", list(_archs(5)) + [np.full(6, 3), np.zeros(6, int)])
def test_params_read_by_an_architecture_match_the_analytic_count(params, arch):
    # The stand-alone network of `arch` reads the shared parts plus one conv per conv edge.
    sizes = {2: 1 * 1, 3: 3 * 3}
    cells = sum(sizes.get(int(op), 0) * c * c * CFG.N for c in CFG.widths for op in arch)
    expected = space.num_params(arch, C=CFG.C, N=CFG.N, cell_bn_affine=False)
    assert _shared_params(params) + cells == expected


def test_logits_shape_and_finite(params, images):
    out = nb201.apply(params, _archs(1)[0], images, pools.vanilla_sharing(CFG.N), cfg=CFG)
    assert out.shape == (6, 10) and bool(jnp.isfinite(out).all())


def test_no_recompilation_across_architectures_and_sharing_maps(params, images):
    fn = jax.jit(lambda p, a, x, s: nb201.apply(p, a, x, s, cfg=CFG))
    for arch in _archs(6):
        for sharing in (pools.vanilla_sharing(CFG.N), pools.cell_sharing(CFG.N)):
            fn(params, arch, images, sharing).block_until_ready()
    assert fn._cache_size() == 1


def test_cell_sharing_reads_one_slot_per_cell(params, images):
    arch = np.full(6, 3)  # every edge a 3x3 conv
    sharing = pools.cell_sharing(CFG.N)
    apply = jax.jit(functools.partial(nb201.apply, cfg=CFG))  # one program for every map
    base = apply(params, arch, images, sharing)
    grads = jax.jit(jax.grad(lambda p: apply(p, arch, images, sharing).sum()))(params)
    pool = grads["pools"][0]["conv3x3"]
    used = {int(s) for s in np.asarray(sharing)[:CFG.N, :, 3].ravel()}
    assert used == {0, 6}
    for slot in range(pool.shape[0]):
        assert bool(jnp.any(pool[slot] != 0)) == (slot in used)
    # Changing an unused slot changes nothing; the vanilla map reads it and changes.
    bumped = jax.tree.map(lambda x: x, params)
    bumped["pools"][0]["conv3x3"] = params["pools"][0]["conv3x3"].at[1].add(1.0)
    np.testing.assert_array_equal(apply(bumped, arch, images, sharing), base)
    vanilla = pools.vanilla_sharing(CFG.N)
    assert not np.allclose(apply(bumped, arch, images, vanilla),
                           apply(params, arch, images, vanilla))


@functools.cache
def _loss_and_grads(cfg):
    sharing = pools.vanilla_sharing(cfg.N)
    def f(p, arch, x):
        return jnp.sum(jnp.sin(nb201.apply(p, arch, x, sharing, cfg=cfg)))
    return jax.jit(jax.value_and_grad(f))


def _reduce_window_pool(x, size, stride, padding):
    """Average pool by `lax.reduce_window`, zero padding not counted (PyTorch's
    count_include_pad=False): the textbook definition the ops must equal."""
    window, strides = (1, size, size, 1), (1, stride, stride, 1)
    total = jax.lax.reduce_window(x, 0.0, jax.lax.add, window, strides, padding)
    ones = jnp.ones((1,) + x.shape[1:3] + (1,), x.dtype)
    return total / jax.lax.reduce_window(ones, 0.0, jax.lax.add, window, strides, padding)


@pytest.mark.parametrize("shape", [(2, 5, 7, 3), (3, 8, 8, 4)])
def test_pools_equal_reduce_window_with_gradients(shape):
    x = jax.random.normal(jax.random.key(2), shape)
    pad = ((0, 0), (1, 1), (1, 1), (0, 0))
    cases = [(ops.avg_pool_3x3, lambda x: _reduce_window_pool(x, 3, 1, pad)),
             (ops.avg_pool_2x2, lambda x: _reduce_window_pool(x, 2, 2, "VALID"))]
    for fast, plain in cases:
        want = plain(x)
        np.testing.assert_allclose(fast(x), want, rtol=1e-6, atol=1e-6)
        probe = jax.random.normal(jax.random.key(3), want.shape)  # a generic output cotangent
        def grad(f):
            return jax.grad(lambda x: jnp.sum(f(x) * probe))(x)
        np.testing.assert_allclose(grad(fast), grad(plain), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("edge_impl,conv_impl,loop", [
    ("switch", "nested", "scan"), ("switch", "xla", "unroll"), ("masked", "nested", "unroll"),
    ("switch_autodiff", "nested", "scan")])
def test_fast_formulations_compute_the_plain_function(params, images, edge_impl, conv_impl, loop):
    small = dataclasses.replace(CFG, N=1)
    params = nb201.init(jax.random.key(0), small)
    plain = dataclasses.replace(small, edge_impl="switch_autodiff", conv_impl="xla",
                                cell_loop="unroll")
    fast = dataclasses.replace(small, edge_impl=edge_impl, conv_impl=conv_impl, cell_loop=loop)
    for arch in _archs(3, seed=3):
        want_v, want_g = _loss_and_grads(plain)(params, arch, images)
        got_v, got_g = _loss_and_grads(fast)(params, arch, images)
        np.testing.assert_allclose(got_v, want_v, rtol=1e-5, atol=1e-5)
        # float32: batch norm over few values amplifies rounding; compare at the gradient's scale
        scale = max(float(jnp.abs(w).max()) for w in jax.tree.leaves(want_g))
        for g, w in zip(jax.tree.leaves(got_g), jax.tree.leaves(want_g)):
            np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-4 * scale)


def test_slot_mixture_with_one_hot_weights_equals_the_plain_map(params, images):
    arch = _archs(1, seed=5)[0]
    vanilla, cell = pools.vanilla_sharing(CFG.N), pools.cell_sharing(CFG.N)
    stacked = np.stack([vanilla, cell], axis=-1)
    active = np.ones((6, 2), bool)
    for k, plain in enumerate((vanilla, cell)):
        weights = jax.nn.one_hot(jnp.full(6, k), 2)
        mixed = nb201.apply(params, arch, images, stacked, cfg=CFG, slot_mix=(weights, active))
        np.testing.assert_allclose(mixed, nb201.apply(params, arch, images, plain, cfg=CFG),
                                   rtol=1e-6, atol=1e-6)


def test_fast_slot_mixture_computes_the_plain_mixture(images):
    # CLOSENet's straight-through mixture: the fast switch edge runs only the chosen slot with a
    # gradient; values and gradients (parameters and gate weights) must match the plain sum, with
    # one slot active and with three. The active slots are a runtime argument, as in training, so
    # one compilation of each form serves both.
    k_max = 3
    small = nb201.SupernetConfig(C=4, N=1, slots_per_cell=k_max)
    params = nb201.init(jax.random.key(2), small)
    sharing = np.stack([pools.sharing_from_blocks(np.full((1, 6), k), 1, k_max)
                        for k in range(k_max)], axis=-1)
    logits = jax.random.normal(jax.random.key(3), (6, k_max))

    def loss(cfg):
        def f(p, logits, arch, active):
            probs = jax.nn.softmax(jnp.where(active, logits, -jnp.inf))
            hard = jax.nn.one_hot(jnp.argmax(probs, -1), k_max)
            weights = hard + probs - jax.lax.stop_gradient(probs)
            out = nb201.apply(p, arch, images, sharing, cfg=cfg, slot_mix=(weights, active))
            return jnp.sum(jnp.sin(out))
        return jax.jit(jax.value_and_grad(f, argnums=(0, 1)))

    plain = loss(dataclasses.replace(small, edge_impl="switch_autodiff", cell_loop="unroll"))
    fast = loss(dataclasses.replace(small, edge_impl="switch"))
    for level in (1, 3):
        active = np.broadcast_to(np.arange(k_max) < level, (6, k_max))
        for arch in list(_archs(3, seed=4)) + [np.array([3, 2, 3, 1, 4, 2])]:
            want_v, want_g = plain(params, logits, arch, active)
            got_v, got_g = fast(params, logits, arch, active)
            np.testing.assert_allclose(got_v, want_v, rtol=1e-5, atol=1e-5)
            scale = max(float(jnp.abs(w).max()) for w in jax.tree.leaves(want_g))
            for g, w in zip(jax.tree.leaves(got_g), jax.tree.leaves(want_g)):
                np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-4 * scale)
            if level > 1:
                assert np.abs(np.asarray(got_g[1])).max() > 0  # the gate weights get a gradient
    assert plain._cache_size() == fast._cache_size() == 1


def test_bad_configs_and_maps_raise_config_error():
    with pytest.raises(ConfigError, match="supernet.C"):
        nb201.SupernetConfig(C=0)
    with pytest.raises(ConfigError, match="edge_impl"):
        nb201.SupernetConfig(edge_impl="fast")
    with pytest.raises(ConfigError, match="shape"):
        pools.check_sharing(np.zeros((3, 6, 5), np.int32), 2, 6)
    with pytest.raises(ConfigError, match="slots"):
        pools.check_sharing(np.full((6, 6, 5), 12, np.int32), 2, 6)


def test_first_cell_table_path_equals_apply(params, images):
    """stem -> first_cell_table rows + edge (3,2) -> apply_cells(start=1) gives `apply`'s logits
    for every value of edges (1,0), (2,1), (3,1) (N=2: stage 1's second cell runs per cell)."""
    sharing = jnp.asarray(pools.vanilla_sharing(CFG.N))
    x = images

    @jax.jit
    def split(arch, rows):
        x0 = nb201.stem(params, x)
        table = nb201.first_cell_table(params, x0, sharing)
        node2 = nb201.first_cell_node2(table, rows)
        last = nb201.first_cell_last_edge(params, arch[5], node2, sharing, cfg=CFG)
        h = nb201.first_cell_output(table, rows, last)
        return nb201.apply_cells(params, arch, h, sharing, cfg=CFG, start=1)

    whole = jax.jit(lambda arch: nb201.apply(params, arch, x, sharing, cfg=CFG))
    archs = np.array([[a, 2, b, 3, c, d] for a in range(5) for b in range(5) for c in (1, 3)
                      for d in (0, 4)], np.int32)
    for arch, rows in zip(archs, nb201.first_cell_rows(archs)):
        np.testing.assert_allclose(split(arch, rows), whole(arch), rtol=0, atol=1e-5)
