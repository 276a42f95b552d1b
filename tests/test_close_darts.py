"""CLOSE in the DARTS space (aw_nas's NB301 CloseNet): the slot mixture of the DARTS supernet,
the DARTS GATE, the pool layout with a reduction cell's stride-2 blocks, and a tiny run."""

import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import cli
from jaxnas.config import load_config
from jaxnas.errors import ConfigError
from jaxnas.evaluate import angle_darts
from jaxnas.spaces import DARTS
from jaxnas.spaces.darts import ARCH_LEN, EDGES, NUM_EDGES
from jaxnas.supernet import darts as supernet
from jaxnas.supernet import darts_ops
from jaxnas.techniques.close import GateConfig, add_block, block_mask, gate_darts, pools_darts
from jaxnas.train import defaults, loop, rules, step as step_lib

K = 3
CFG = supernet.SupernetConfig(C=4, layers=3, slots_per_cell=2 * K)
GCFG = GateConfig(k_max=K, op_emb_dim=8, node_emb_dim=8, hid_dim=8, gcn_out_dims=(16, 16),
                  mlp_dims=(16,))


@pytest.fixture(scope="module")
def net():
    params = supernet.init(jax.random.key(0), CFG)
    x = jax.random.normal(jax.random.key(1), (2, 8, 8, 3))
    return params, x


def _archs(n, seed=0):
    return DARTS.sample_np(np.random.default_rng(seed), n)


# ------------------------------------------------------------------ slot mixture in DARTS apply


def test_slot_mixture_forward_is_the_chosen_blocks_single_path(net):
    """Straight-through weights (one-hot in value) over the active blocks compute the path of
    the chosen blocks, read through the plain map of `close_sharing(blocks)` (a reduction
    cell's input edges from the stride-2 pool); one compilation for every genotype, level and
    weight."""
    params, x = net
    train_map = pools_darts.close_sharing(None, CFG, K)
    assert train_map.shape == (3, NUM_EDGES, 8, K)
    mixed = jax.jit(lambda a, w, act: supernet.apply(params, a, x, train_map, cfg=CFG,
                                                     slot_mix=(w, act)))
    plain = jax.jit(lambda a, s: supernet.apply(params, a, x, s, cfg=CFG))
    rng = np.random.default_rng(0)
    for level, arch in zip((1, 2, 3), _archs(3)):
        blocks = np.where(arch > 0, rng.integers(0, level, ARCH_LEN), 0)
        p = jax.nn.softmax(jnp.asarray(rng.normal(size=(ARCH_LEN, K)), jnp.float32))
        weights = jax.nn.one_hot(blocks, K) + p - jax.lax.stop_gradient(p)
        got = mixed(arch, weights, jnp.arange(K) < level)
        want = plain(arch, pools_darts.close_sharing(blocks, CFG, K))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert mixed._cache_size() == 1 and plain._cache_size() == 1


def _naive_logits(params, arch, x, train_map, weights, active):
    """`sum_k weights[e, k] * op(x; slot k)` per edge, written out: Python loops over cells,
    nodes, edges and active slots, each op called directly (`arch`, `active` concrete), JAX's
    own differentiation (no edge loop, no custom gradient)."""
    reduce = np.array([cell[1] for cell in CFG.cells])[:, None]
    per_cell = np.where(reduce, arch[NUM_EDGES:], arch[:NUM_EDGES])
    w = supernet.cell_archs(weights, CFG, None)
    h = darts_ops.bn(darts_ops.conv(x, params["stem"]["w"], padding=1), params["stem"]["bn"])
    s0 = s1 = h
    for i, (_, red, _, _, _, group, _) in enumerate(CFG.cells):
        cell = params["cells"][i]
        states = [supernet._preprocess(s0, cell["pre0"], None),
                  supernet._preprocess(s1, cell["pre1"], None)]
        for node in range(2, 6):
            total = 0.0
            for e, (to, src) in enumerate(EDGES):
                op = int(per_cell[i, e])
                if to != node or op == 0:
                    continue
                run = supernet._branches(2 if red and src < 2 else 1, None)[op]
                for k in np.flatnonzero(active):
                    slot = train_map[i, e, op, k]
                    p = {name: {n: a[slot] for n, a in arrays.items()}
                         for name, arrays in params["pools"][group].items()}
                    total = total + w[i, e, k] * run(states[src], p)
            states.append(total)
        s0, s1 = s1, jnp.concatenate(states[2:], axis=-1)
    return jnp.mean(s1, axis=(1, 2)) @ params["head"]["w"] + params["head"]["b"]


@pytest.mark.slow
def test_slot_mixture_gradient_equals_the_naive_weighted_sum(net):
    """Any weights (not only one-hot): value and gradients (w.r.t. the weights and the pools)
    of the edge loop's virtual edges equal those of the naive sum, in float64 (two programs of
    ~40 and ~65 s to compile here)."""
    params, x = net
    arch, active = _archs(1, seed=4)[0], np.arange(K) < 2
    train_map = pools_darts.close_sharing(None, CFG, K)
    rng = np.random.default_rng(1)
    with jax.enable_x64(True):
        p64 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
        x64 = jnp.asarray(x, jnp.float64)
        v = jnp.asarray(rng.normal(size=(2, 10)))
        weights = jnp.asarray(rng.uniform(0.2, 1.2, (ARCH_LEN, K)))

        def loss(fn, p, w):
            return jnp.sum(fn(p, w) * v)

        fast = jax.jit(jax.value_and_grad(functools.partial(
            loss, lambda p, w: supernet.apply(p, arch, x64, train_map, cfg=CFG,
                                              slot_mix=(w, active))), argnums=(0, 1)))
        slow = jax.jit(jax.value_and_grad(functools.partial(
            loss, lambda p, w: _naive_logits(p, arch, x64, train_map, w, active)),
            argnums=(0, 1)))
        (y1, (gp1, gw1)), (y2, (gp2, gw2)) = fast(p64, weights), slow(p64, weights)
        np.testing.assert_allclose(y1, y2, rtol=1e-10)
        np.testing.assert_allclose(gw1, gw2, rtol=1e-8, atol=1e-12)
        assert np.all(np.asarray(gw1)[arch == 0] == 0) and np.all(np.asarray(gw1)[:, 2] == 0)
        assert np.all(np.asarray(gw1)[arch > 0][:, :2] != 0)
        for a, b in zip(jax.tree.leaves(gp1["pools"]), jax.tree.leaves(gp2["pools"])):
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


# ------------------------------------------------------------------ the GATE


@pytest.fixture(scope="module")
def gate_params():
    return gate_darts.init_gate(jax.random.key(2), GCFG)


def test_gate_shapes_levels_and_none_edges(gate_params):
    """Blocks only below the level, block 0 and constant weights on `none` edges, weights
    one-hot in value; one compilation for every level, genotype and key."""
    run = jax.jit(lambda a, level, key: gate_darts.gate(gate_params, a, level, key, GCFG,
                                                        train=True))
    seen = set()
    for i, arch in enumerate(_archs(12, seed=5)):
        level = 1 + i % K
        weights, active, blocks = (np.asarray(o) for o in run(arch, level, jax.random.key(i)))
        assert weights.shape == (ARCH_LEN, K) and active.shape == (ARCH_LEN, K)
        assert blocks.shape == (ARCH_LEN,) and blocks.dtype == np.int32
        assert blocks.max() < level and np.all(blocks[arch == 0] == 0)
        np.testing.assert_allclose(weights, np.eye(K)[blocks], atol=1e-6)
        assert np.all(active == (np.arange(K) < level))
        seen.update(blocks[arch > 0].tolist())
    assert seen == set(range(K))
    assert run._cache_size() == 1


def test_gate_gradient_reaches_the_encoder_only_above_level_one(gate_params):
    arch = _archs(1, seed=6)[0]

    def total(p, level):
        weights, _, _ = gate_darts.gate(p, arch, level, jax.random.key(0), GCFG, train=True)
        return jnp.sum(weights * jnp.arange(1.0, K + 1.0))

    grad = jax.jit(jax.grad(total))
    one = grad(gate_params, 1)
    assert all(np.all(np.asarray(g) == 0) for g in jax.tree.leaves(one))
    two = grad(gate_params, 2)
    for name in ("input_nodes", "op_emb", "x_hidden", "gcn", "mlp"):
        assert any(np.any(np.asarray(g) != 0) for g in jax.tree.leaves(two[name])), name


def test_gate_eval_modes_and_groups(gate_params):
    """Evaluation: the same key gives the same blocks; without noise, any key does (argmax of
    the logits). The normal group's logits do not depend on the reduction cell's ops."""
    archs = _archs(2, seed=7)
    ev = jax.jit(lambda a, key, noise: gate_darts.gate(gate_params, a, K, key, GCFG, train=False,
                                                       noise=noise)[2], static_argnums=2)
    for arch in archs:
        np.testing.assert_array_equal(ev(arch, jax.random.key(3), True),
                                      ev(arch, jax.random.key(3), True))
        np.testing.assert_array_equal(ev(arch, jax.random.key(3), False),
                                      ev(arch, jax.random.key(4), False))
    mixed = np.concatenate([archs[0][:NUM_EDGES], archs[1][NUM_EDGES:]])
    z0 = gate_darts.gate_logits(gate_params, archs[0], GCFG, train=False)
    z1 = gate_darts.gate_logits(gate_params, mixed, GCFG, train=False)
    np.testing.assert_allclose(z0[:NUM_EDGES], z1[:NUM_EDGES], rtol=1e-6)
    assert not np.allclose(z0[NUM_EDGES:], z1[NUM_EDGES:])
    h = gate_darts.node_embeddings(gate_params, archs[0])
    assert h.shape == (2, 6, 16)


# ------------------------------------------------------------------ pools: WIT and the mask


def _random_params():
    """Supernet (5 cells: width groups of 1, 2 and 2 cells) and GATE parameters of the right
    shapes from numpy draws (nothing to compile)."""
    rng = np.random.default_rng(0)
    cfg = supernet.SupernetConfig(C=4, layers=5, slots_per_cell=2 * K)
    assert cfg.group_sizes == (1, 2, 2)
    shapes = {"supernet": jax.eval_shape(functools.partial(supernet.init, cfg=cfg),
                                         jax.random.key(0)),
              "gate": jax.eval_shape(functools.partial(gate_darts.init_gate, cfg=GCFG),
                                     jax.random.key(1))}
    return jax.tree.map(lambda s: jnp.asarray(rng.uniform(-0.5, 0.5, s.shape), s.dtype), shapes)


def test_add_block_grows_both_pools_of_every_cell_and_the_mask_follows():
    """Block 2 = its init + block 1 in the stride-1 and stride-2 halves of each cell's slots
    in every width group, the rest bit-identical; the block mask opens exactly the slots of
    blocks below the level."""
    params = _random_params()
    net2, gate2 = add_block(params["supernet"], params["gate"], 2, k_max=K,
                            slots_per_cell=2 * K)
    for old, new in zip(jax.tree.leaves(params["supernet"]["pools"]),
                        jax.tree.leaves(net2["pools"])):
        old, new = np.asarray(old), np.asarray(new)
        cells = len(old) // (2 * K)
        assert cells in (1, 2)
        grown = [c * 2 * K + h * K + 1 for c in range(cells) for h in (0, 1)]
        np.testing.assert_array_equal(new[grown], old[grown] + old[np.array(grown) - 1])
        kept = np.setdiff1d(np.arange(len(old)), grown)
        np.testing.assert_array_equal(new[kept], old[kept])
    w, w2 = np.asarray(params["gate"]["mlp"][-1]["w"]), np.asarray(gate2["mlp"][-1]["w"])
    np.testing.assert_array_equal(w2[:, 1], w[:, 1] + w[:, 0])
    jax.tree.map(np.testing.assert_array_equal, gate2["gcn"], params["gate"]["gcn"])
    for level in (1, 2, 3):
        mask = block_mask(params, level, k_max=K, slots_per_cell=2 * K)
        for m in jax.tree.leaves(mask["supernet"]["pools"]):
            slots = np.arange(m.shape[0])
            np.testing.assert_array_equal(m.ravel(), (slots % (2 * K)) % K < level)
        assert all(bool(m) for m in jax.tree.leaves(mask["gate"]))
    with pytest.raises(ConfigError, match="slots"):
        add_block(params["supernet"], params["gate"], 2, k_max=K, slots_per_cell=4)


def test_sharing_maps_read_the_stride2_pool_on_reduction_input_edges():
    blocks = np.where(_archs(1, seed=8)[0] > 0, 1, 0)
    plain = pools_darts.close_sharing(blocks, CFG, K)
    train = pools_darts.close_sharing(None, CFG, K)
    supernet.check_sharing(plain, CFG)
    for i, (_, red, _, _, _, _, local) in enumerate(CFG.cells):
        for e, (_, src) in enumerate(EDGES):
            b = blocks[NUM_EDGES * red + e]
            base = local * 2 * K + (K if red and src < 2 else 0)
            assert set(plain[i, e]) == {base + b}
            np.testing.assert_array_equal(train[i, e], base + np.arange(K)[None].repeat(8, 0))
    batched = pools_darts.close_sharing(np.stack([blocks, 0 * blocks]), CFG, K)
    assert batched.shape == (2,) + plain.shape
    np.testing.assert_array_equal(batched[0], plain)


def test_angle_reads_each_genotypes_blocks(net):
    """The DARTS angle with one sharing map per genotype (CLOSE's subnet) equals the angle of
    each genotype with its own map."""
    params, _ = net
    cur = jax.tree.map(lambda a: a + 0.05 * jnp.cos(7.0 * a), params)
    archs = _archs(3, seed=11)
    blocks = np.random.default_rng(0).integers(0, K, archs.shape)
    maps = pools_darts.close_sharing(blocks, CFG, K)
    got = angle_darts.all_angles(params, cur, archs, maps, cfg=CFG)
    want = [float(angle_darts.all_angles(params, cur, a[None], m, cfg=CFG)[0])
            for a, m in zip(archs, maps)]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert len(set(np.round(want, 6))) == 3


# ------------------------------------------------------------------ config and training


def _close(tiny_with, epochs=2, techniques=("close",), **changes):
    """The tiny DARTS config with CLOSE (and other `techniques`): 3 blocks, one more each
    epoch, small GATE."""
    config = tiny_with(techniques, "darts", **{
        "train.epochs": epochs, "close.k_max": K, "supernet.slots_per_cell": 2 * K,
        "close.cl_schedule": (1, 2, 3), "close.gate.op_emb_dim": 8,
        "close.gate.node_emb_dim": 8, "close.gate.hid_dim": 8,
        "close.gate.gcn_out_dims": (16, 16), "close.gate.mlp_dims": (16,),
        "eval.batch_size": 10, "eval.num_batches": 1, **changes})
    return config


def test_config_check_and_refusals(tiny_with):
    rules.check(_close(tiny_with), paths=False)
    mini = defaults.check(load_config("configs/darts_spos.py", "mini,close"), paths=False)
    assert mini.supernet.slots_per_cell == 2 * mini.close.k_max == 6
    assert mini.close.cl_schedule == (1, 3, 5) and mini.close.gate.gcn_out_dims == (64,) * 4
    paper = defaults.check(load_config("configs/darts_spos.py", "paper,close"), paths=False)
    assert paper.supernet.slots_per_cell == 8 and paper.close.cl_schedule == (1, 11, 21, 31)
    from test_train import tiny_recipe

    for changes, words in (({"supernet.slots_per_cell": K}, "2 x close.k_max in DARTS"),
                           ({"close.gate_variant": "structure",
                             "optim.groups": {"gate": {"optimizer": "adam"}}},
                            "not ported to the darts space")):
        with pytest.raises(ConfigError) as err:
            tiny_recipe(_close(tiny_with, **changes), 3)
        assert words in str(err.value) and "\n" not in str(err.value)
    spos = tiny_with((), "darts", **{"supernet.slots_per_cell": 6})
    with pytest.raises(ConfigError, match="at least 14"):
        rules.check(spos, paths=False)
    # A DARTS run stored before the DARTS supernet read slots_per_cell (NB201's 6 in its file).
    old = {"space": "darts", "techniques": [], "supernet": {"slots_per_cell": 6}}
    assert defaults.migrate(old)["supernet"]["slots_per_cell"] == 14
    new = {"space": "darts", "techniques": ["close"], "supernet": {"slots_per_cell": 6}}
    assert defaults.migrate(new)["supernet"]["slots_per_cell"] == 6


def test_search_a_darts_close_checkpoint_returns_a_genotype(tiny_with, checkpointed_run,
                                                            capsys):
    """A CLOSE DARTS run's initial checkpoint (no training step: it compiles for a minute
    here; the slow test trains): the GATE's blocks score genotypes, and `jaxnas search`
    (random, 4 genotypes) returns one."""
    from test_train import tiny_recipe

    config = _close(tiny_with, epochs=1)
    workdir, state = checkpointed_run(config)
    recipe = tiny_recipe(config, 3)
    archs = _archs(3, seed=9)
    params, sharing = recipe.subnet(state.params, archs, 1)
    assert sharing.shape == (3, 3, NUM_EDGES, 8)
    supernet.check_sharing(sharing[0], recipe.run.net_cfg)
    reduce_inputs = pools_darts._stride2(recipe.run.net_cfg)
    assert np.all(sharing[:, :, :, 0] % (2 * K) == K * reduce_inputs)  # level 1: block 0
    assert cli.main(["search", "--workdir", str(workdir), "--strategy", "random",
                     "--budget", "4", "--no-progress"]) == 0
    headline = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    DARTS.check(DARTS.from_str(headline["arch"]), batched=False)


@pytest.mark.slow
def test_tiny_darts_close_run_adds_blocks_in_one_compilation_resumes_and_searches(
        tiny_with, tmp_path, monkeypatch, capsys):
    """Three tiny epochs (blocks 1, 2, 3 at epochs 1, 2, 3): one compilation, the sharing
    extent logged per epoch, an interrupted run resumed inside epoch 2 ends bit-identical, the
    gate assigns blocks of all levels, and `jaxnas search` (evolution) returns a genotype."""
    from test_train import _restore, assert_resume_equivalent, tiny_recipe

    config = _close(tiny_with, epochs=3)
    steps = []
    make = step_lib.make_train_step
    monkeypatch.setattr(step_lib, "make_train_step",
                        lambda *a, **k: steps.append(make(*a, **k)) or steps[-1])
    full, _ = assert_resume_equivalent(config, tmp_path, monkeypatch, cut_at=4)
    assert steps[0]._cache_size() == 1  # levels 1, 2, 3: one program
    log = [json.loads(line) for line in (full / "metrics.jsonl").read_text().splitlines()]
    assert [r["sharing"]["level"] for r in log] == [1, 2, 3]
    state = _restore(full, config)
    recipe = tiny_recipe(config, 3)
    init = recipe.init().params["supernet"]["pools"][1]["sep_conv_3x3"]["pw1"]
    trained = np.asarray(state.params["supernet"]["pools"][1]["sep_conv_3x3"]["pw1"])
    assert not np.array_equal(trained[K + 2], np.asarray(init[K + 2]))  # stride-2 block 3 grew
    _, sharing = recipe.subnet(state.params, _archs(50, seed=10), 3)
    assert set(np.unique(sharing[:, 0] % (2 * K))) == {0, 1, 2}
    assert cli.main(["search", "--workdir", str(full), "--strategy", "evolution",
                     "--budget", "6", "--no-progress", "--population", "3",
                     "--tournament", "2"]) == 0
    headline = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    DARTS.check(DARTS.from_str(headline["arch"]), batched=False)


@pytest.mark.slow
def test_tiny_darts_abs_close_pair_shrinks_grows_and_compiles_once(tiny_with, tmp_path,
                                                                   monkeypatch, capsys):
    """ABS and CLOSE trained together in DARTS: over three tiny epochs CLOSE adds a block each
    epoch while ABS drops one op per edge at the start of epochs 2 and 3 (its angles read
    CLOSE's per-genotype sharing maps); one compilation of the step for every mask and sharing
    level, finite losses, and `jaxnas search` returns a genotype of the shrunk space."""
    config = _close(tiny_with, epochs=3, techniques=("abs", "close"), **{
        "abs.shrink.start_epoch": 1, "abs.shrink.num_steps": 2, "abs.shrink.every_epochs": 1,
        "abs.shrink.drop_per_step": 28, "abs.shrink.drop_rule": "per_edge",
        "abs.shrink.samples_per_op": 8})
    steps = []
    make = step_lib.make_train_step
    monkeypatch.setattr(step_lib, "make_train_step",
                        lambda *a, **k: steps.append(make(*a, **k)) or steps[-1])
    loop.train(config, tmp_path, progress=False)
    log = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["sharing"]["level"] for r in log] == [1, 2, 3]
    assert "angle_dropped" not in log[0]
    assert [len(r["angle_dropped"].split()) for r in log[1:]] == [28, 28]
    assert all(np.isfinite(r["loss"]) for r in log) and steps[0]._cache_size() == 1
    mask = DARTS.mask_from_str(log[2]["angle_space"])
    assert (mask.sum(1) == 6).all()
    assert cli.main(["search", "--workdir", str(tmp_path), "--strategy", "random",
                     "--budget", "4", "--no-progress"]) == 0
    headline = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert DARTS.allowed(DARTS.from_str(headline["arch"])[None], mask).all()
