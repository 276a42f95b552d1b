"""CLOSENet GATE: encoder, Gumbel straight-through assignment, and its use in the supernet."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxnas.techniques.close import (GateConfig, close_sharing, gate, gate_logits, init_gate,
                                     node_embeddings)
from jaxnas.errors import ConfigError
from jaxnas.supernet import nb201

K = 3
FAST = {"xla_backend_optimization_level": 0}  # skip slow LLVM passes: these graphs run once
GCFG = GateConfig(k_max=K, op_emb_dim=8, node_emb_dim=8, hid_dim=8, gcn_out_dims=(8, 8),
                  mlp_dims=(16,))
NCFG = nb201.SupernetConfig(C=4, N=1, num_classes=5, slots_per_cell=K)
ARCH = jnp.array([3, 2, 3, 1, 4, 2], jnp.int32)  # convs on every path


jit_gate = jax.jit(gate, static_argnames=("cfg", "train", "noise"), compiler_options=FAST)


@pytest.fixture(scope="module")
def gate_params():
    return jax.jit(init_gate, static_argnums=1, compiler_options=FAST)(jax.random.key(0), GCFG)


@pytest.fixture(scope="module")
def net():
    """Supernet parameters of the right shapes (numpy draws: no RNG graphs to compile)."""
    shapes = jax.eval_shape(functools.partial(nb201.init, cfg=NCFG), jax.random.key(1))
    rng = np.random.default_rng(1)
    params = jax.tree.map(lambda s: jnp.asarray(rng.uniform(-0.5, 0.5, s.shape), s.dtype), shapes)
    x = jax.random.normal(jax.random.key(2), (4, 8, 8, 3))
    y = jnp.arange(4) % NCFG.num_classes
    return params, x, y


def test_reference_parameter_count():
    """Default sizes give aw_nas's GATE: 114,176 encoder + 132,805 MLP parameters (K_max=5)."""
    shapes = jax.eval_shape(functools.partial(init_gate, cfg=GateConfig(k_max=5)),
                            jax.random.key(0))
    assert sum(leaf.size for leaf in jax.tree.leaves(shapes)) == 246_981


def test_node_embeddings_flow_forward(gate_params):
    h = node_embeddings(gate_params, ARCH, GCFG)
    assert h.shape == (4, GCFG.gcn_out_dims[-1])
    cut = node_embeddings(gate_params, ARCH.at[3:].set(0), GCFG)  # all edges into node 3: none
    assert np.all(np.asarray(cut[3]) == 0)
    np.testing.assert_array_equal(cut[:3], h[:3])  # nodes 0..2 see nothing downstream


@pytest.mark.parametrize("level", [1, 2, 3])
def test_gate_modes(gate_params, level):
    key = jax.random.key(level)
    w, active, blocks = jit_gate(gate_params, ARCH, level, key, GCFG, train=True)
    hard = np.eye(K)[np.asarray(blocks)]
    np.testing.assert_array_equal(w, hard)  # exactly one-hot in value
    np.testing.assert_array_equal(active, np.broadcast_to(np.arange(K) < level, (6, K)))
    assert np.all(np.asarray(blocks) < level)
    for k in jax.random.split(key, 4):
        w, active, blocks = jit_gate(gate_params, ARCH, level, k, GCFG, train=False)
        np.testing.assert_array_equal(w, np.eye(K)[np.asarray(blocks)])
        np.testing.assert_array_equal(active, np.asarray(w) > 0)  # only the chosen block runs
        assert np.all(np.asarray(blocks) < level)
    z = np.asarray(gate_logits(gate_params, ARCH, GCFG, train=False))[:, :level]
    det = jit_gate(gate_params, ARCH, level, None, GCFG, train=False, noise=False)[2]
    np.testing.assert_array_equal(det, z.argmax(-1))  # deterministic variant: argmax of logits


def test_close_sharing_indexing():
    n = 2
    train_map = close_sharing(None, n, K)
    assert train_map.shape == (3 * n, 6, 5, K)
    cells = np.arange(3 * n)[:, None, None, None] % n
    np.testing.assert_array_equal(train_map, np.broadcast_to(cells * K + np.arange(K),
                                                             train_map.shape))
    blocks = np.array([2, 0, 1, 1, 0, 2])
    np.testing.assert_array_equal(close_sharing(blocks, n, K),
                                  np.take_along_axis(train_map, blocks[None, :, None, None],
                                                     -1)[..., 0])


def test_slot_mix_selects_block(net):
    """A one-hot slot mixture over the training map == the plain map of the chosen blocks."""
    params, x, _ = net
    apply = jax.jit(functools.partial(nb201.apply, cfg=NCFG), compiler_options=FAST)
    plain = []
    for b in range(K):
        mixed = apply(params, ARCH, x, close_sharing(None, NCFG.N, K),
                      slot_mix=(jax.nn.one_hot(jnp.full(6, b), K), jnp.ones((6, K), bool)))
        plain.append(apply(params, ARCH, x, close_sharing(jnp.full(6, b), NCFG.N, K)))
        np.testing.assert_allclose(mixed, plain[-1], rtol=1e-5, atol=1e-5)
    assert not np.allclose(plain[0], plain[1])  # the blocks really are different parameters
    blocks = jnp.array([2, 0, 1, 1, 0, 2])  # per edge; eval mode: only the chosen block runs
    hard = jax.nn.one_hot(blocks, K)
    mixed = apply(params, ARCH, x, close_sharing(None, NCFG.N, K), slot_mix=(hard, hard > 0))
    np.testing.assert_allclose(mixed, apply(params, ARCH, x, close_sharing(blocks, NCFG.N, K)),
                               rtol=1e-5, atol=1e-5)


def test_gate_gradient_and_no_recompile(gate_params, net):
    params, x, y = net

    @functools.partial(jax.jit, compiler_options=FAST)
    def grads(gate_params, params, level, key):
        def loss(gp, p):
            weights, active, _ = gate(gp, ARCH, level, key, GCFG, train=True)
            logits = nb201.apply(p, ARCH, x, close_sharing(None, NCFG.N, K), cfg=NCFG,
                                 slot_mix=(weights, active))
            return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(len(y)), y])
        return jax.grad(loss, argnums=(0, 1))(gate_params, params)

    out = {lvl: grads(gate_params, params, jnp.int32(lvl), jax.random.key(7)) for lvl in (1, 2, 3)}
    assert grads._cache_size() == 1
    g1, p1 = out[1]
    assert all(np.all(np.asarray(leaf) == 0) for leaf in jax.tree.leaves(g1))
    assert np.all(np.asarray(p1["pools"][0]["conv3x3"][1:]) == 0)  # inactive blocks: no grad
    g2, _ = out[2]
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(g2))
    assert any(np.any(np.asarray(leaf) != 0) for leaf in jax.tree.leaves(g2))
    assert np.all(np.asarray(g2["mlp"][-1]["w"][:, 2:]) == 0)  # beyond the level: no gradient


# --- variants: the reference GATE stays as it was; the structure GATE sees the cell --------

FIXTURE = "tests/fixtures/close_gate_faithful.npz"  # tests/fixtures/make_close_gate_faithful.py
FIXTURE_ARCHS = jnp.array([[3, 2, 3, 1, 4, 2], [0, 0, 0, 0, 0, 0], [3, 3, 3, 0, 0, 3],
                           [1, 4, 0, 2, 3, 1]], jnp.int32)
STRUCTURE = dict(gcn_norm="layer", center=True)


def test_faithful_gate_equals_the_fixture():
    """Default GateConfig fields reproduce the GATE written before the variants existed (floats
    within 1e-5 relative, 1e-6 absolute: XLA's results differ in the last bits between CPU
    models, and a gradient through two graph convolutions gathers a few of them; blocks
    exactly: every edge's two largest noisy logits differ by at least 0.13 here, so no
    last-bit difference can move an argmax)."""
    ref = np.load(FIXTURE)
    close = functools.partial(np.testing.assert_allclose, rtol=1e-5, atol=1e-6)
    cfg = GateConfig(k_max=3, op_emb_dim=8, node_emb_dim=8, hid_dim=8, gcn_out_dims=(8, 8),
                     mlp_dims=(16,))
    params = init_gate(jax.random.key(0), cfg)
    key = jax.random.key(5)
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        close(leaf, ref[f"init/{jax.tree_util.keystr(path)}"])
    close(jax.vmap(lambda a: node_embeddings(params, a, cfg))(FIXTURE_ARCHS), ref["embeddings"])
    close(jax.vmap(lambda a: gate_logits(params, a, cfg, train=False))(FIXTURE_ARCHS),
          ref["logits_eval"])
    close(jax.vmap(lambda a: gate_logits(params, a, cfg, key=key, train=True))(FIXTURE_ARCHS),
          ref["logits_train"])
    w, _, blocks = jax.vmap(lambda a: gate(params, a, 2, key, cfg, train=True))(FIXTURE_ARCHS)
    close(w, ref["weights_train"])
    np.testing.assert_array_equal(blocks, ref["blocks_train"])
    np.testing.assert_array_equal(
        jax.vmap(lambda a: gate(params, a, 3, key, cfg, train=False)[2])(FIXTURE_ARCHS),
        ref["blocks_eval"])
    target = jax.random.normal(jax.random.key(9), (6, 3))
    grads = jax.grad(lambda p: jnp.sum(gate(p, FIXTURE_ARCHS[0], 3, key, cfg,
                                            train=True)[0] * target))(params)
    for path, leaf in jax.tree_util.tree_leaves_with_path(grads):
        close(leaf, ref[f"grad/{jax.tree_util.keystr(path)}"])


def test_layer_norm_gives_unit_node_states_and_keeps_the_flow(gate_params):
    cfg = GateConfig(**{**GCFG.__dict__, "gcn_norm": "layer"})
    h = np.asarray(node_embeddings(gate_params, ARCH, cfg))
    np.testing.assert_allclose(h.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(h.std(-1), 1, rtol=1e-3)  # faithful: far from 1 (next test)
    assert not np.allclose(np.asarray(node_embeddings(gate_params, ARCH, GCFG)).std(-1), 1,
                           rtol=0.1)
    cut = np.asarray(node_embeddings(gate_params, ARCH.at[3:].set(0), cfg))
    assert np.all(cut[3] == 0)  # a node that receives nothing stays zero
    np.testing.assert_array_equal(cut[:3], h[:3])


def test_variance_init_draws_he_weights():
    cfg = GateConfig(k_max=4, gcn_init="variance")
    params = jax.jit(init_gate, static_argnums=1, compiler_options=FAST)(jax.random.key(0), cfg)
    for layer, d_in in zip(params["gcn"], (cfg.hid_dim,) + cfg.gcn_out_dims):
        assert np.std(np.asarray(layer["w"])) == pytest.approx(np.sqrt(2 / d_in), rel=0.05)


def test_centring_removes_any_preference_shared_by_all_cells(gate_params):
    """A shift of the head's bias (a global preference for a block) changes no centred logit."""
    cfg = GateConfig(**{**GCFG.__dict__, **STRUCTURE})
    shifted = jax.tree.map(lambda x: x, gate_params)
    shifted["mlp"][-1]["b"] = shifted["mlp"][-1]["b"] + jnp.array([3.0, 0.0, -1.0])
    logits = jax.vmap(lambda p, a: gate_logits(p, a, cfg, train=False), in_axes=(None, 0))
    np.testing.assert_allclose(logits(shifted, FIXTURE_ARCHS), logits(gate_params, FIXTURE_ARCHS),
                               atol=1e-5)
    plain = jax.vmap(lambda a: gate_logits(shifted, a, GCFG, train=False))(FIXTURE_ARCHS)
    assert not np.allclose(plain, logits(gate_params, FIXTURE_ARCHS), atol=1e-2)
    from jaxnas.techniques.close.gate import reference_cells
    cells = reference_cells()
    assert all(np.all(np.bincount(cells[:, e], minlength=5) == 5) for e in range(6))
    ref = logits(gate_params, jnp.asarray(cells))
    np.testing.assert_allclose(np.asarray(ref).mean(0), 0, atol=1e-5)  # centred on them


def test_structure_gate_sends_gradient_into_the_encoder():
    """At the reference sizes the faithful encoder gets ~1% of the MLP's gradient; with layer
    norm (and centring) it gets as much as the MLP."""
    target = jax.random.normal(jax.random.key(9), (6, 4))
    ratios = {}
    for name, extra in (("faithful", {}), ("structure", {"gcn_norm": "layer",
                                                         "center": True})):
        cfg = GateConfig(k_max=4, **extra)
        params = jax.jit(init_gate, static_argnums=1, compiler_options=FAST)(jax.random.key(0),
                                                                             cfg)

        @functools.partial(jax.jit, compiler_options=FAST)
        def grads(p):
            return jax.grad(lambda p: jnp.sum(gate(p, ARCH, 2, jax.random.key(3), cfg,
                                                   train=True)[0] * target))(p)

        g = grads(params)
        encoder = {k: v for k, v in g.items() if k != "mlp"}
        ratios[name] = float(optax.tree.norm(encoder) / optax.tree.norm(g["mlp"]))
        for layer in g["gcn"]:
            assert np.any(np.asarray(layer["w"]) != 0)
    assert ratios["faithful"] < 0.05 and ratios["structure"] > 0.3, ratios


@pytest.mark.parametrize("field,value", [("gcn_norm", "batch"), ("gcn_init", "xavier"),
                                         ("center", 1)])
def test_gate_variant_fields_are_checked(field, value):
    with pytest.raises(ConfigError, match=field):
        GateConfig(**{field: value})
