"""Dynamic supernet training: CaLR, momentum separation (optax pieces and techniques), FairNAS."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxnas.spaces import NB201
from jaxnas.train.samplers import fair_archs, fairnas
from jaxnas.optim.calr import calr_factor, decay_exponent, scale_by_calr
from jaxnas.optim.momentum_separation import group_traces, separate, separated_trace

# The reference's complexity (DYNAS get_num_params, conv weights at C=16, N=5) and its gamma
# table (spec section 1.2), rows n3x3 = 0..6, columns n1x1 = 0..6-n3x3.
REF_C = lambda n1, n3: 432 + 71_680 + 640 + 26_880 * (n1 + 9 * n3)  # noqa: E731
REF_GAMMA = [[4.00, 3.61, 3.32, 3.08, 2.88, 2.71, 2.56], [2.19, 2.09, 2.00, 1.91, 1.83, 1.76],
             [1.49, 1.43, 1.38, 1.33, 1.27], [1.05, 1.01, 0.97, 0.93], [0.72, 0.69, 0.66],
             [0.46, 0.44], [0.25]]
C_MIN, C_MAX = 72_752.0, 1_524_272.0


def _params(key=0):
    k1, k2 = jax.random.split(jax.random.key(key))
    return {"w": jax.random.normal(k1, (3, 4)), "b": jax.random.normal(k2, (4,))}


def _grads(i):
    return jax.tree.map(lambda p: jax.random.normal(jax.random.key(100 + i), p.shape), _params())


# ----------------------------------------------------------------------------- CaLR


def test_decay_exponent_reproduces_the_reference_table():
    for n3, row in enumerate(REF_GAMMA):
        for n1, expected in enumerate(row):
            got = float(decay_exponent(REF_C(n1, n3), C_MIN, C_MAX, 4.0))
            assert got == pytest.approx(expected, abs=0.006), (n1, n3)
    # Bounded: complexities outside [c_min, c_max] keep gamma in [1/4, 4].
    assert float(decay_exponent(1.0, C_MIN, C_MAX)) == 4.0
    assert float(decay_exponent(1e9, C_MIN, C_MAX)) == 0.25


@pytest.mark.parametrize("gamma, frac, expected", [
    (4.0, 0.25, 0.316), (4.0, 0.5, 0.063), (2.0, 0.5, 0.25), (2.0, 0.75, 0.063),
    (1.0, 0.9, 0.1), (0.25, 0.5, 0.84), (0.25, 0.9, 0.56)])
def test_calr_factor_spec_values(gamma, frac, expected):
    T = 97_750
    assert float(calr_factor(round(frac * T), T, gamma)) == pytest.approx(expected, abs=0.005)


def test_scale_by_calr_gives_the_reference_lr():
    """lr0 * (1 - t/T)^gamma(C) at known complexities and steps, through an optax chain."""
    T, lr0 = 97_750, 0.025
    tx = optax.chain(optax.scale_by_learning_rate(lr0),
                     scale_by_calr(T, C_MIN, C_MAX, complexity="num_params"))
    ones = {"w": jnp.ones(3)}
    state = tx.init(ones)
    for (n1, n3), t in [((0, 0), 0), ((0, 0), 24_437), ((0, 6), 48_875), ((2, 1), 90_000),
                        ((0, 3), 97_749)]:
        u, _ = tx.update(ones, state, step=jnp.int32(t),
                         num_params=jnp.array([REF_C(n1, n3), 1.0], jnp.float32))
        w = -(4.0 - 0.25) / (np.log(C_MAX) - np.log(C_MIN))  # the reference's w, tau form
        gamma = w * np.log(REF_C(n1, n3)) + (0.25 - w * np.log(C_MAX))
        assert gamma == pytest.approx(REF_GAMMA[n3][n1], abs=0.006)
        np.testing.assert_allclose(u["w"], -lr0 * (1 - t / T) ** gamma, rtol=2e-4)
    u, _ = tx.update(ones, state, step=jnp.int32(0), num_params=jnp.float32(C_MAX))
    np.testing.assert_allclose(u["w"], -lr0, rtol=1e-6)  # the first step has exactly lr0


def test_scale_by_calr_counts_steps_without_step_argument_and_composes_with_sgd():
    T = 10
    tx = optax.chain(optax.sgd(0.1), scale_by_calr(T, 1.0, 100.0, gamma_max=2.0,
                                                   complexity=lambda c, **_: c))
    params = {"w": jnp.ones(2)}
    state = tx.init(params)
    for t in range(3):
        u, state = tx.update({"w": jnp.ones(2)}, state, params, c=jnp.float32(1.0))
        np.testing.assert_allclose(u["w"], -0.1 * (1 - t / T) ** 2.0, rtol=1e-6)
    with pytest.raises(TypeError, match="num_params"):
        scale_by_calr(T, 1.0, 2.0).update(params, scale_by_calr(T, 1.0, 2.0).init(params))


# ----------------------------------------------------------------------------- momentum separation


def _torch_like_sgd(lr, **kw):
    return optax.chain(optax.clip_by_global_norm(5.0), optax.add_decayed_weights(5e-4),
                       optax.sgd(lr, momentum=0.9, nesterov=True, **kw))


def test_one_group_equals_optax_sgd_nesterov():
    lr = optax.cosine_decay_schedule(0.025, 20)
    ours = optax.chain(optax.clip_by_global_norm(5.0), optax.add_decayed_weights(5e-4),
                       separated_trace(1, 0.9, nesterov=True), optax.scale_by_learning_rate(lr))
    ref = _torch_like_sgd(lr)
    p_ours = p_ref = _params()
    s_ours, s_ref = ours.init(p_ours), ref.init(p_ref)
    ours_update, ref_update = jax.jit(ours.update), jax.jit(ref.update)
    for i in range(6):
        u, s_ours = ours_update(_grads(i), s_ours, p_ours, group=jnp.int32(0))
        p_ours = optax.apply_updates(p_ours, u)
        u, s_ref = ref_update(_grads(i), s_ref, p_ref)
        p_ref = optax.apply_updates(p_ref, u)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
                 p_ours, p_ref)


def test_groups_equal_independent_sgd_optimizers_and_others_stay_untouched():
    """The reference keeps one torch SGD per group: G optimizers, the step's one updated."""
    G, groups = 3, [0, 2, 2, 1, 0, 2]
    ours = optax.chain(optax.clip_by_global_norm(5.0), optax.add_decayed_weights(5e-4),
                       separated_trace(G, 0.9, nesterov=True,
                                       group_fn=lambda arch, **_: arch[1]),
                       optax.scale_by_learning_rate(0.025))
    refs = [_torch_like_sgd(0.025) for _ in range(G)]
    p_ours = p_ref = _params()
    s_ours = ours.init(p_ours)
    s_refs = [r.init(p_ref) for r in refs]
    for i, g in enumerate(groups):
        before = group_traces(s_ours[2])
        u, s_ours = ours.update(_grads(i), s_ours, p_ours, arch=jnp.array([4, g, 0, 1, 2, 3]))
        after = group_traces(s_ours[2])
        for other in set(range(G)) - {g}:  # bit-identical, not merely close
            jax.tree.map(lambda a, b: np.testing.assert_array_equal(a[other], b[other]),
                         before, after)
        assert any(not np.array_equal(a[g], b[g]) for a, b in
                   zip(jax.tree.leaves(before), jax.tree.leaves(after)))
        p_ours = optax.apply_updates(p_ours, u)
        u, s_refs[g] = refs[g].update(_grads(i), s_refs[g], p_ref)
        p_ref = optax.apply_updates(p_ref, u)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
                 p_ours, p_ref)
    traces = group_traces(s_ours[2])
    assert traces["w"].shape == (G, 3, 4)


def test_explicit_group_wins_and_missing_group_is_an_error():
    tx = separated_trace(4, 0.5, group_fn=lambda **_: 3)
    p = {"w": jnp.ones(2)}
    _, s = tx.update(p, tx.init(p), group=jnp.int32(1))
    assert np.asarray(s.inner.trace["w"]).any(axis=1).tolist() == [False, True, False, False]
    _, s = tx.update(p, tx.init(p))
    assert np.asarray(s.inner.trace["w"]).any(axis=1).tolist() == [False, False, False, True]
    with pytest.raises(TypeError, match="group"):
        separated_trace(2).update(p, separated_trace(2).init(p))


def test_separate_wraps_any_optimizer():
    """MS around adam: per-group moments and step counts."""
    tx = separate(optax.adam(1e-2), 2)
    p = _params()
    s = tx.init(p)
    u0, s = tx.update(_grads(0), s, p, group=0)
    ref = optax.adam(1e-2)
    r0, _ = ref.update(_grads(0), ref.init(p), p)
    jax.tree.map(np.testing.assert_allclose, u0, r0)
    assert np.asarray(s.inner[0].count).tolist() == [1, 0]


def test_no_recompilation_when_group_complexity_or_step_changes():
    tx = optax.chain(optax.add_decayed_weights(5e-4),
                     separated_trace(5, 0.9, nesterov=True, group_fn=lambda arch, **_: arch[3]),
                     optax.scale_by_learning_rate(0.025),
                     scale_by_calr(100, C_MIN, C_MAX))
    p = _params()

    @jax.jit
    def step(p, s, g, arch, num_params, t):
        u, s = tx.update(g, s, p, arch=arch, num_params=num_params, step=t)
        return optax.apply_updates(p, u), s

    s = tx.init(p)
    for i in range(5):
        arch = jnp.array(np.random.default_rng(i).integers(0, 5, 6), jnp.int32)
        p, s = step(p, s, _grads(i), arch, jnp.array([REF_C(i, 0)], jnp.float32), jnp.int32(i))
    assert step._cache_size() == 1


# ----------------------------------------------------------------------------- FairNAS


def test_fairnas_full_space_uses_every_op_of_every_edge_once():
    sample = jax.jit(fairnas(NB201))
    seen = set()
    for i in range(5):
        archs = np.asarray(sample(jax.random.key(i), {"mask": jnp.ones((6, 5), bool)}))
        assert archs.shape == (5, 6) and archs.dtype == np.int32
        for e in range(6):
            assert sorted(archs[:, e]) == [0, 1, 2, 3, 4]
        seen.add(archs.tobytes())
    assert len(seen) == 5  # random, not a fixed pattern


def test_fairnas_on_a_shrunk_space_is_balanced_and_stays_inside_the_mask():
    mask = np.ones((6, 5), bool)
    mask[0, [0, 4]] = False         # 3 ops left: used 2, 2, 1 times
    mask[2] = [False, False, True, False, False]  # 1 op left: used 5 times
    mask[5, 1:] = False
    mask[5, 3] = True               # ops 0 and 3: 3 + 2
    sample = jax.jit(fairnas(NB201))
    extra = np.zeros(5)
    for i in range(40):
        archs = np.asarray(sample(jax.random.key(i), {"mask": jnp.asarray(mask)}))
        for e in range(6):
            allowed = np.flatnonzero(mask[e])
            counts = np.bincount(archs[:, e], minlength=5)
            assert counts[~mask[e]].sum() == 0
            assert counts[allowed].max() - counts[allowed].min() <= (len(allowed) < 5)
        extra += np.bincount(archs[:, 0], minlength=5) == 2
    assert extra[[1, 2, 3]].min() > 10  # the surplus use rotates over the allowed ops
    assert sample._cache_size() == 1


def test_fairnas_tied_edge():
    mask = np.ones((6, 5), bool)
    mask[3, 0] = False
    ops = set()
    sample = jax.jit(lambda k: fair_archs(k, jnp.asarray(mask), tied_edge=3))
    for i in range(20):
        archs = np.asarray(sample(jax.random.key(i)))
        assert len(set(archs[:, 3])) == 1 and archs[0, 3] != 0
        ops.add(int(archs[0, 3]))
        for e in (0, 1, 2, 4, 5):
            assert sorted(archs[:, e]) == [0, 1, 2, 3, 4]
    assert ops == {1, 2, 3, 4}


# ----------------------------------------------------------------------------- techniques


def _pools_rule(arch):
    """A user grouping rule (`ms.rule = "test_dynamic:_pools_rule"`): number of pools, capped."""
    return jnp.minimum((arch == 4).sum(), 2)


def _recipe(config, steps_per_epoch=10):
    from jaxnas.train import recipe

    return recipe.from_config(config, data=False, steps_per_epoch=steps_per_epoch)


def test_spos_calr_ms_chain_is_the_reference_optimizer(tiny_with):
    """clip -> decay -> separated momentum (group = op on edge 3) -> lr0 -> CaLR factor."""
    from jaxnas.techniques.calr import complexity_fn

    config = tiny_with(("dynamic.calr", "dynamic.ms"), **{"ms.edge": 3})
    r = _recipe(config)  # 2 epochs x 10 steps
    assert float(r.schedule(7)) == pytest.approx(0.025)  # the cosine is gone
    params = {"supernet": _params()}
    state = r.tx.init(params)
    assert list(state) == ["clip", "decay", "momentum", "lr", "calr"]
    arch_c, c_min, c_max = complexity_fn("num_params", NB201, r.run.net_cfg, 8)
    ref = optax.chain(optax.clip_by_global_norm(5.0), optax.add_decayed_weights(5e-4),
                      separated_trace(5, 0.9, nesterov=True), optax.scale_by_learning_rate(0.025))
    ref_state = ref.init(params)
    for i, (arch, t) in enumerate([([0, 1, 2, 4, 3, 3], 0), ([1, 1, 1, 2, 0, 0], 9),
                                   ([3, 3, 3, 4, 3, 3], 19)]):
        arch = jnp.array(arch, jnp.int32)
        c = arch_c(arch)[None]
        u, state = r.tx.update({"supernet": _grads(i)}, state, params, arch=arch, archs=arch[None],
                               num_params=c, flops=c, loss=0.0, step=jnp.int32(t))
        v, ref_state = ref.update({"supernet": _grads(i)}, ref_state, params,
                                  group=arch[3])
        factor = calr_factor(t, 20, decay_exponent(c[0], c_min, c_max))
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b * factor, rtol=1e-5), u, v)
    traces = np.asarray(group_traces(state["momentum"])["supernet"]["w"])
    assert [bool(traces[g].any()) for g in range(5)] == [False, False, True, False, True]


def test_calr_complexities_at_paper_scale():
    """conv_weights is the reference's count; the NB201 table's gamma is within 0.03 of it."""
    from jaxnas.techniques.calr import complexity_fn

    from jaxnas.supernet.nb201 import SupernetConfig

    net = SupernetConfig(C=16, N=5)
    conv, lo, hi = complexity_fn("conv_weights", NB201, net, 32)
    table, t_lo, t_hi = complexity_fn("num_params", NB201, net, 32)
    assert (lo, hi) == (C_MIN, C_MAX)
    worst = 0.0
    for n3, row in enumerate(REF_GAMMA):
        for n1 in range(len(row)):
            arch = jnp.array([3] * n3 + [2] * n1 + [4] * (6 - n1 - n3))
            assert float(conv(arch)) == REF_C(n1, n3)
            ref = float(decay_exponent(REF_C(n1, n3), C_MIN, C_MAX))
            worst = max(worst, abs(float(decay_exponent(table(arch), t_lo, t_hi)) - ref))
    assert 0.0 < worst < 0.03


def test_calr_loss_weight_for_fairnas(tiny_with):
    from jaxnas.techniques import calr
    from jaxnas.train.technique import Run

    config = tiny_with(("dynamic.calr",), sampler="fairnas",
                       **{"calr.complexity": "conv_weights", "supernet.C": 16, "supernet.N": 5})
    run = Run(config=config, net_cfg=_recipe(config).run.net_cfg, steps_per_epoch=50,
              total_steps=100)
    assert run.paths_per_step == 5  # FairNAS: calr's "auto" mode weights the loss
    tech = calr.technique(config, run)
    assert tech.optimizer == () and tech.schedule is None
    ctx = lambda t: type("Ctx", (), {"step": jnp.int32(t)})  # noqa: E731
    for arch, gamma in [([3] * 6, 0.25), ([0, 1, 4, 0, 1, 4], 4.0), ([3, 0, 0, 0, 0, 0], 2.19)]:
        w = float(tech.arch_weight(jnp.array(arch), ctx(50)))
        assert w == pytest.approx(0.5 ** gamma, rel=1e-2)
    assert float(tech.arch_weight(jnp.array([3] * 6), ctx(0))) == 1.0
    # Explicit "lr" mode with FairNAS is allowed; bad values are ConfigErrors.
    from jaxnas.errors import ConfigError
    with pytest.raises(ConfigError, match="calr.mode"):
        calr.technique(tiny_with(("dynamic.calr",), **{"calr.mode": "x"}), run)
    with pytest.raises(ConfigError, match="calr.complexity"):
        calr.technique(tiny_with(("dynamic.calr",), **{"calr.complexity": "x"}), run)


def test_ms_rules(tiny_with):
    from jaxnas.techniques import ms
    from jaxnas.errors import ConfigError

    arch = jnp.array([4, 4, 4, 0, 2, 3], jnp.int32)
    run = _recipe(tiny_with(())).run
    for rule, groups, expected in [("edge_op", 5, 0), ("test_dynamic:_pools_rule", 3, 2)]:
        config = tiny_with(("dynamic.ms",), **{"ms.rule": rule, "ms.edge": 3,
                                               "ms.num_groups": groups})
        fn, num_groups, _ = ms.group_rule(config, run)
        assert num_groups == groups and int(fn(arch)) == expected
    config = tiny_with(("dynamic.ms",), **{"ms.rule": "complexity"})
    fn, _, edge = ms.group_rule(config, run)
    assert edge is None
    assert int(fn(jnp.zeros(6, jnp.int32))) == 0 and int(fn(jnp.full(6, 3))) == 4
    for rule, groups, match in [("test_dynamic:_pools_rule", 2, "outside"),
                                ("nowhere:fn", 5, "cannot be loaded"), ("bogus", 5, "ms.rule"),
                                ("edge_op", 4, "5 groups")]:
        config = tiny_with(("dynamic.ms",), **{"ms.rule": rule, "ms.num_groups": groups})
        with pytest.raises(ConfigError, match=match):
            ms.group_rule(config, run)


def test_fairnas_calr_ms_trains_without_recompiling(tiny_with):
    """FairNAS + CaLR (loss weight) + MS end to end on tiny data: 5 paths sharing the op of the
    split edge, one compilation, only the sampled groups' momentum touched."""
    from jaxnas.train import recipe as recipe_lib

    config = tiny_with(("dynamic.calr", "dynamic.ms"), sampler="fairnas",
                       **{"ms.edge": 2, "optim.clip": None, "optim.min_lr": 0.025})
    r = recipe_lib.from_config(config)
    assert "clip" not in r.tx.init({"w": jnp.ones(1)})
    assert float(r.schedule(3)) == pytest.approx(0.025)
    state = r.init()
    state, step_args, log = r.epoch_start(state, 1)
    assert log == {"ms_edge": 2} and int(step_args["tied_edge"]) == 2
    x, y = r.run.train_data
    for _ in range(2):
        before = [np.asarray(t) for t in jax.tree.leaves(group_traces(state.opt_state["momentum"]))]
        state, metrics = r.train_step(state, x[:20], y[:20], step_args)
        assert np.isfinite(float(metrics["loss"]))
        after = jax.tree.leaves(group_traces(state.opt_state["momentum"]))
        changed = [g for g in range(5)
                   if any(not np.array_equal(t0[g], t1[g]) for t0, t1 in zip(before, after))]
        assert len(changed) == 1  # the 5 paths share the op of edge 2, hence one group
    assert r.train_step._cache_size() == 1


def test_fairnas_path_loops_give_the_same_step(tiny_with):
    """The 5 paths' gradients accumulated in a scan or unrolled: the same update (up to float
    summation order); an unknown loop is a ConfigError."""
    from jaxnas.errors import ConfigError
    from jaxnas.train import step as step_lib

    results = {}
    for loop in ("scan", "unroll"):
        r = _recipe(tiny_with((), sampler="fairnas", **{"train.path_loop": loop}))
        state, step_args, _ = r.epoch_start(r.init(), 1)
        x = np.random.default_rng(0).integers(0, 256, (8, 8, 8, 3), dtype=np.uint8)
        y = np.arange(8, dtype=np.int32) % 10
        state, metrics = r.train_step(state, x, y, step_args)
        results[loop] = (state.params, float(metrics["loss"]))
    assert results["scan"][1] == pytest.approx(results["unroll"][1], rel=1e-5)
    for a, b in zip(jax.tree.leaves(results["scan"][0]), jax.tree.leaves(results["unroll"][0])):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert step_lib.resolved_path_loop("auto", "cpu") == "unroll"
    assert step_lib.resolved_path_loop("auto", "gpu") == "scan"
    with pytest.raises(ConfigError, match="path_loop"):
        _recipe(tiny_with((), sampler="fairnas", **{"train.path_loop": "vmap"}))


def test_momentum_memory_is_g_copies():
    """Optimizer-state bytes with G groups vs one trace (the report's numbers, mini scale)."""
    from jaxnas.supernet import nb201

    p = jax.eval_shape(lambda: nb201.init(jax.random.key(0), nb201.SupernetConfig(C=8, N=1)))
    nbytes = lambda t: sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(t))  # noqa: E731
    one = nbytes(jax.eval_shape(optax.trace(0.9, True).init, p))
    five = nbytes(jax.eval_shape(separated_trace(5, 0.9, True).init, p))
    assert one == nbytes(p) and five == 5 * one
