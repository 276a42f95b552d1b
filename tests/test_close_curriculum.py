"""CLOSE curriculum: schedule, WIT block addition, sharing extent, masked optimizer."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxnas.techniques.close import (
    GateConfig,
    add_block,
    block_mask,
    check_schedule,
    init_gate,
    level_at,
    levels_added,
    masked_sgd,
    params_in_use,
    restart_opt_state,
    sharing_extent,
)
from jaxnas.techniques.close.masking import freeze_inactive
from jaxnas.errors import ConfigError
from jaxnas.supernet import nb201

K, N = 3, 2
NCFG = nb201.SupernetConfig(C=4, N=N, slots_per_cell=K)
GCFG = GateConfig(k_max=K, op_emb_dim=4, node_emb_dim=4, hid_dim=4, gcn_out_dims=(4,),
                  mlp_dims=(8,))


FAST = {"xla_backend_optimization_level": 0}  # skip slow LLVM passes: these graphs run once


@pytest.fixture(scope="module")
def params():
    """Supernet and GATE parameters of the right shapes from numpy draws (nothing to compile)."""
    rng = np.random.default_rng(0)
    shapes = {"supernet": jax.eval_shape(functools.partial(nb201.init, cfg=NCFG),
                                         jax.random.key(0)),
              "gate": jax.eval_shape(functools.partial(init_gate, cfg=GCFG), jax.random.key(1))}
    return jax.tree.map(lambda s: jnp.asarray(rng.uniform(-0.5, 0.5, s.shape), s.dtype), shapes)


def test_schedule():
    sched = [1, 201, 401]
    assert [level_at(e, sched) for e in (1, 200, 201, 400, 401, 1000)] == [1, 1, 2, 2, 3, 3]
    assert levels_added(1, sched) == () and levels_added(201, sched) == (2,)
    assert levels_added(202, sched) == () and levels_added(201, [1, 201, 201]) == (2, 3)
    assert check_schedule(sched, k_max=3) == (1, 201, 401)
    for bad in ([2, 201], [1, 401, 201], [], [1, 1.5]):
        with pytest.raises(ConfigError):
            check_schedule(bad)
    with pytest.raises(ConfigError):
        check_schedule([1, 201, 401, 601], k_max=3)
    with pytest.raises(ConfigError):
        level_at(0, sched)


def test_add_block_inheritance(params):
    net, gp = params["supernet"], params["gate"]
    net2, gp2 = add_block(net, gp, 2, num_cells_per_stage=N, k_max=K)
    for old, new in zip(net["pools"], net2["pools"]):
        for name in ("conv1x1", "conv3x3"):
            o, n = np.asarray(old[name]), np.asarray(new[name])
            assert n.shape == o.shape
            for c in range(N):
                np.testing.assert_array_equal(n[c * K + 1], o[c * K + 1] + o[c * K])
                np.testing.assert_array_equal(n[[c * K, c * K + 2]], o[[c * K, c * K + 2]])
    for key in ("stem", "reduce", "head"):
        jax.tree.map(np.testing.assert_array_equal, net2[key], net[key])
    w, b = np.asarray(gp["mlp"][-1]["w"]), np.asarray(gp["mlp"][-1]["b"])
    w2, b2 = np.asarray(gp2["mlp"][-1]["w"]), np.asarray(gp2["mlp"][-1]["b"])
    np.testing.assert_array_equal(w2[:, 1], w[:, 1] + w[:, 0])
    np.testing.assert_array_equal(b2[1], b[1] + b[0])
    np.testing.assert_array_equal(w2[:, [0, 2]], w[:, [0, 2]])
    jax.tree.map(np.testing.assert_array_equal, gp2["gcn"], gp["gcn"])
    net3, _ = add_block(net2, gp2, 3, num_cells_per_stage=N, k_max=K)
    pool2, pool3 = np.asarray(net2["pools"][1]["conv3x3"]), np.asarray(net3["pools"][1]["conv3x3"])
    np.testing.assert_array_equal(pool3[K + 2], pool2[K + 2] + pool2[K + 1])
    for level in (1, 4):
        with pytest.raises(ConfigError):
            add_block(net, gp, level, num_cells_per_stage=N, k_max=K)


def test_sharing_extent_matches_reference_counts():
    """aw_nas NB201 CLOSENet: 268,800 op parameters per block set; 5 blocks: 1,344,000."""
    cfg = nb201.SupernetConfig(C=16, N=5, slots_per_cell=5)
    assert params_in_use(1, cfg) == 268_800
    ext = sharing_extent(3, cfg)
    assert ext == {"level": 3, "active_blocks": 45, "total_blocks": 75,
                   "active_op_params": 806_400, "pool_op_params": 1_344_000,
                   "edges_per_block": 2.0}


def _trace(state):
    return optax.tree_utils.tree_get(state, "trace")


def test_masked_sgd_freezes_inactive_blocks(params):
    tx = masked_sgd(0.05, momentum=0.9, nesterov=True, weight_decay=5e-4, clip=5.0)

    @functools.partial(jax.jit, compiler_options=FAST)
    def step(p, state, grads, level):
        mask = block_mask(p, level, num_cells_per_stage=N, k_max=K)
        updates, state = tx.update(grads, state, p, block_mask=mask)
        return optax.apply_updates(p, updates), state

    def pool(tree, slot):
        """Block `slot` of every cell, both convs, all stages, flattened."""
        return np.concatenate([np.asarray(leaf)[slot::K].ravel()
                               for leaf in jax.tree.leaves(tree["supernet"]["pools"])])

    p, state = params, tx.init(params)
    rng = np.random.default_rng(3)
    for level in (1, 1, 1, 2, 2, 2):
        grads = jax.tree.map(lambda a: jnp.asarray(rng.normal(1.0, 1.0, a.shape), a.dtype), p)
        p, state = step(p, state, grads, jnp.int32(level))
        if level == 1:
            np.testing.assert_array_equal(pool(p, 1), pool(params, 1))
            assert np.all(pool(_trace(state), 1) == 0)
    assert step._cache_size() == 1
    np.testing.assert_array_equal(pool(p, 2), pool(params, 2))  # never active: bit-identical
    assert np.all(pool(_trace(state), 2) == 0)
    for slot in (0, 1):
        assert np.all(pool(p, slot) != pool(params, slot))
    stem, stem0 = p["supernet"]["stem"]["w"], params["supernet"]["stem"]["w"]
    assert np.all(np.asarray(stem) != np.asarray(stem0))
    assert all(np.all(np.asarray(leaf) == 0)
               for leaf in jax.tree.leaves(restart_opt_state(state))
               if leaf.dtype != jnp.int32)


def test_mask_at_chain_end_leaks_momentum(params):
    """Masking only the final update freezes the parameters but not the momentum buffer."""
    tx = optax.chain(optax.add_decayed_weights(5e-4), optax.trace(0.9), optax.sgd(0.05),
                     freeze_inactive())
    mask = block_mask(params, 1, num_cells_per_stage=N, k_max=K)
    zeros = jax.tree.map(jnp.zeros_like, params)
    update = jax.jit(functools.partial(tx.update, block_mask=mask), compiler_options=FAST)
    _, state = update(zeros, tx.init(params), params)
    assert np.any(np.asarray(_trace(state)["supernet"]["pools"][0]["conv3x3"][1]) != 0)
