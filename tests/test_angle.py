"""ABS: the angle metric (direct and fast), the magnitude baseline, shrinking, the technique."""

import functools

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas.evaluate import angle as A
from jaxnas.techniques.abs import magnitude as M
from jaxnas.optim import adam_l2
from jaxnas.spaces import nb201 as NB
from jaxnas.techniques.abs import shrink as S
from jaxnas.errors import ConfigError
from jaxnas.spaces.nb201 import EDGES, NUM_ARCHS, all_archs
from jaxnas.supernet import nb201, pools

CFG = nb201.SupernetConfig(C=4, N=2)   # two cells per stage: sums over cells are exercised
SPECIAL = np.array([[0] * 6, [1] * 6, [4] * 6, [2] * 6, [3] * 6, [0, 3, 3, 0, 0, 0],
                    [3, 0, 0, 0, 4, 0], [2, 3, 4, 1, 0, 3], [1, 0, 1, 0, 2, 1]], np.int32)


@functools.cache
def _params(seed=0, cfg=CFG):
    return jax.tree.map(np.asarray, nb201.init(jax.random.key(seed), cfg))


def _moved(params, seed=1, scale=0.3):
    """`params` plus Gaussian noise of `scale` times each leaf's spread (numpy: no compiles)."""
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda x: (x + scale * (x.std() + 0.1) * rng.normal(size=x.shape))
                        .astype(np.float32), params)


def _archs(n=40, seed=0):
    idx = np.random.default_rng(seed).choice(NUM_ARCHS, n, replace=False)
    return np.concatenate([SPECIAL, all_archs()[idx]])


def _reference_vector(p, arch, sharing, cfg, fixed="nb201"):
    """AngleNAS weight_angle.get_arch_angle transcribed (numpy): variable-length concatenation."""
    p = jax.tree.map(lambda x: np.asarray(x, np.float64), p)
    bn = (lambda b: [b["scale"], b["bias"]]) if fixed == "nb201" else (lambda b: [])
    parts = [p["head"]["w"], *bn(p["head"]["bn"])] + ([p["head"]["b"]] if fixed == "nb201" else [])
    parts += [p["stem"]["w"], *bn(p["stem"]["bn"])]
    for r in p["reduce"]:
        parts += [r["conv_a"]["w"], *bn(r["conv_a"]["bn"]), r["conv_b"]["w"],
                  *bn(r["conv_b"]["bn"]), r["shortcut"]]
    for path in ([0, 3], [0, 2, 3], [0, 1, 2, 3], [0, 1, 3]):
        for cell in range(3 * cfg.N):
            stage = cell // cfg.N
            block = []
            for i, j in zip(path[1:], path[:-1]):
                e = EDGES.index((i, j))
                op = arch[e]
                if op == 0:        # none: the whole path goes
                    block = []
                    break
                if op == 4:        # pooling: a constant [C, 3, 3] of 1/9
                    block.append(np.full(cfg.widths[stage] * 9, 1.0 / 9.0))
                elif op in (2, 3):
                    name = "conv1x1" if op == 2 else "conv3x3"
                    block.append(p["pools"][stage][name][sharing[cell, e, op]])
            if block:
                parts += block
    return np.concatenate([np.ravel(x) for x in parts])


def _reference_angle(p0, pt, arch, sharing, cfg=CFG, fixed="nb201"):
    v0 = _reference_vector(p0, arch, sharing, cfg, fixed)
    vt = _reference_vector(pt, arch, sharing, cfg, fixed)
    cos = v0 @ vt / np.sqrt((v0 @ v0) * (vt @ vt))
    return float(np.arccos(np.clip(cos, -1.0, 1.0)))


# --------------------------------------------------------------------------- the angle


def test_paths_are_the_reference_paths():
    as_nodes = {tuple([0] + [EDGES[e][0] for e in p]) for p in A.PATHS}
    assert as_nodes == {(0, 3), (0, 2, 3), (0, 1, 2, 3), (0, 1, 3)}


@pytest.mark.parametrize("sharing_name", ["vanilla", "cell"])
def test_fast_and_direct_equal_the_reference_construction(sharing_name):
    sharing = (pools.vanilla_sharing(CFG.N) if sharing_name == "vanilla"
               else pools.cell_sharing(CFG.N))
    p0 = _params()
    pt = _moved(p0)
    archs = _archs()
    fast = np.asarray(A.all_angles(p0, pt, archs, sharing, cfg=CFG))
    ref = np.array([_reference_angle(p0, pt, a, sharing) for a in archs])
    direct = np.array([float(A.arch_angle(p0, pt, a, sharing, cfg=CFG)) for a in archs])
    np.testing.assert_allclose(fast, ref, atol=2e-6)
    np.testing.assert_allclose(direct, ref, atol=2e-6)
    assert np.ptp(ref) > 0.05  # the architectures really differ


def test_fixed_weights_only_convention():
    p0 = _params()
    pt = _moved(p0)
    sharing = pools.vanilla_sharing(CFG.N)
    archs = SPECIAL
    fast = np.asarray(A.all_angles(p0, pt, archs, sharing, cfg=CFG, fixed="weights"))
    ref = [_reference_angle(p0, pt, a, sharing, fixed="weights") for a in archs]
    np.testing.assert_allclose(fast, ref, atol=2e-6)
    # BN affine parameters enter the nb201 convention only.
    bumped = jax.tree.map(lambda x: x, pt)
    bumped["head"]["bn"]["scale"] = pt["head"]["bn"]["scale"] * 5.0
    for fixed, changes in (("nb201", True), ("weights", False)):
        a = np.asarray(A.all_angles(p0, pt, archs, sharing, cfg=CFG, fixed=fixed))
        b = np.asarray(A.all_angles(p0, bumped, archs, sharing, cfg=CFG, fixed=fixed))
        assert (np.abs(a - b).max() > 1e-3) == changes
    with pytest.raises(ConfigError):
        A.fixed_leaves(p0, "bn_only")


def test_per_architecture_sharing_maps():
    """One sharing map per cell (CLOSE's gate) gives each cell the angle of its own map."""
    cfg = nb201.SupernetConfig(C=4, N=2, slots_per_cell=3)
    p0 = _params(cfg=cfg)
    pt = _moved(p0)
    archs = _archs(8)
    rng = np.random.default_rng(0)
    maps = np.stack([pools.sharing_from_blocks(rng.integers(0, 3, (1, 6)), 2, 3)
                     for _ in archs])
    batched = np.asarray(A.all_angles(p0, pt, archs, maps, cfg=cfg))
    single = [float(A.all_angles(p0, pt, a[None], m, cfg=cfg)[0]) for a, m in zip(archs, maps)]
    ref = [_reference_angle(p0, pt, a, m, cfg=cfg) for a, m in zip(archs, maps)]
    np.testing.assert_allclose(batched, single, atol=1e-6)
    np.testing.assert_allclose(batched, ref, atol=2e-6)


def test_identical_weights_give_zero():
    p = _params()
    sharing = pools.vanilla_sharing(CFG.N)
    fast = np.asarray(A.all_angles(p, p, all_archs(), sharing, cfg=CFG))
    assert fast.shape == (NUM_ARCHS,) and np.all(fast == 0.0)
    assert all(float(A.arch_angle(p, p, a, sharing, cfg=CFG)) == 0.0 for a in SPECIAL)


def test_invariant_to_scaling_the_weights():
    p0 = _params()
    pt = _moved(p0)
    sharing = pools.vanilla_sharing(CFG.N)
    archs = all_archs()
    base = np.asarray(A.all_angles(p0, pt, archs, sharing, cfg=CFG))
    scaled = np.asarray(A.all_angles(p0, jax.tree.map(lambda x: 7.5 * x, pt), archs, sharing,
                                     cfg=CFG))
    both = np.asarray(A.all_angles(jax.tree.map(lambda x: 0.1 * x, p0),
                                   jax.tree.map(lambda x: 7.5 * x, pt), archs, sharing, cfg=CFG))
    no_pool = ~(archs == 4).any(1)  # a pool is a constant block: it does not scale with W
    np.testing.assert_allclose(scaled[no_pool], base[no_pool], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(both[no_pool], base[no_pool], rtol=1e-5, atol=1e-6)
    v0, vt = np.random.default_rng(0).normal(size=(2, 1000)).astype(np.float32)
    ang = float(A.vector_angle(v0, vt))
    assert abs(float(A.vector_angle(0.01 * v0, 300.0 * vt)) - ang) < 1e-5
    assert abs(ang - np.arccos(v0 @ vt / np.linalg.norm(v0) / np.linalg.norm(vt))) < 1e-5


def test_small_angles_keep_their_precision():
    """Pure rotations by 1e-4 rad: arccos(cos) in float32 cannot resolve them, the half-angle
    form can; with a norm change both forms stay exact at moderate angles."""
    v0 = np.random.default_rng(1).normal(size=4096).astype(np.float32)
    ortho = np.random.default_rng(2).normal(size=4096)
    ortho -= ortho @ v0 / (v0 @ v0) * v0
    ortho *= np.linalg.norm(v0) / np.linalg.norm(ortho)
    for theta, scale, tol in ((1e-4, 1.0, 1e-7), (1e-3, 1.0, 1e-7), (0.5, 2.0, 1e-6),
                              (0.05, 1.3, 1e-6)):
        vt = (scale * (np.cos(theta) * v0 + np.sin(theta) * ortho)).astype(np.float32)
        assert abs(float(A.vector_angle(v0, vt)) - theta) < tol + 1e-3 * theta, (theta, scale)
    vt = (np.cos(1e-4) * v0 + np.sin(1e-4) * ortho).astype(np.float32)
    cos = np.float32(v0 @ vt) / np.float32(np.sqrt(np.float32(v0 @ v0) * np.float32(vt @ vt)))
    assert abs(np.arccos(min(cos, np.float32(1))) - 1e-4) > 1e-5  # the naive float32 form


def test_dead_paths_only_leave_the_fixed_parts():
    """An all-none cell and an all-skip cell both reduce to the fixed parts."""
    p0 = _params()
    pt = _moved(p0)
    sharing = pools.vanilla_sharing(CFG.N)
    a = np.asarray(A.all_angles(p0, pt, SPECIAL[:2], sharing, cfg=CFG))
    fixed = float(A.vector_angle(jnp.concatenate([x.ravel() for x in A.fixed_leaves(p0)]),
                                 jnp.concatenate([x.ravel() for x in A.fixed_leaves(pt)])))
    np.testing.assert_allclose(a, [fixed, fixed], atol=1e-6)


def test_all_angles_compiles_once_per_shape():
    p0 = _params()
    sharing = pools.vanilla_sharing(CFG.N)
    archs = _archs(10)
    A.all_angles(p0, _moved(p0, 1), archs, sharing, cfg=CFG)
    before = A._tables_jit._cache_size(), A._angles_jit._cache_size()
    for seed in (2, 3, 4):
        A.all_angles(p0, _moved(p0, seed), np.roll(archs, seed, 0), sharing, cfg=CFG)
    assert (A._tables_jit._cache_size(), A._angles_jit._cache_size()) == before


# --------------------------------------------------------------------------- magnitude


def test_joint_forward_with_one_hot_weights_is_the_subnet():
    cfg = nb201.SupernetConfig(C=4, N=1)
    p = _params(cfg=cfg)
    sharing = pools.vanilla_sharing(1)
    x = np.random.default_rng(3).normal(size=(4, 8, 8, 3)).astype(np.float32)
    apply = jax.jit(functools.partial(nb201.apply, cfg=cfg))
    joint = jax.jit(functools.partial(M.joint_forward, cfg=cfg))
    for arch in SPECIAL[[2, 7, 8]]:
        want = apply(p, arch, x, sharing)
        got = joint(p, jax.nn.one_hot(arch, 5), x, sharing)
        np.testing.assert_allclose(got, want, atol=1e-4)


def test_alpha_scores_and_optimizer():
    """Operator magnitude = softmax(alpha); a cell's = its log probability; the optimizer is
    PyTorch's Adam with L2 (its first step moves every entry by ~lr). The alpha step itself runs
    in `test_magnitude_baseline_end_to_end` (slow: the joint backward compiles for minutes on
    a busy CPU)."""
    alpha = M.init_alpha(jax.random.key(0))
    assert alpha.shape == (6, 5) and 0 < float(jnp.abs(alpha).max()) < 1e-2
    alpha = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)
    probs = np.asarray(M.operator_magnitude(alpha))
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6)
    logp = np.asarray(M.arch_log_prob(alpha, SPECIAL))
    np.testing.assert_allclose(logp, np.log(probs[np.arange(6), SPECIAL]).sum(1), rtol=1e-5)
    tx = adam_l2(3e-4, weight_decay=1e-3)
    grads = np.random.default_rng(1).normal(size=(6, 5)).astype(np.float32)
    updates, _ = tx.update(grads, tx.init(alpha), alpha)
    np.testing.assert_allclose(np.abs(updates), 3e-4, rtol=1e-3)
    assert (np.sign(updates) == -np.sign(grads + 1e-3 * alpha)).all()


# --------------------------------------------------------------------------- shrinking


def test_space_text_round_trip_and_size():
    mask = NB.str_to_mask("3,23,1234,3,23,234")
    assert NB.mask_to_str(mask) == "3,23,1234,3,23,234"
    assert NB.space_size(mask) == 1 * 2 * 4 * 1 * 2 * 3
    archs = NB.space_archs(mask)
    assert archs.shape == (48, 6) and mask[np.arange(6), archs].all()
    assert len(np.unique(archs, axis=0)) == 48
    assert NB.str_to_mask("").all() and len(NB.space_archs(NB.str_to_mask(""))) == NUM_ARCHS
    for bad in ("3,23", "3,23,1234,3,23,5", "3,,1,1,1,1"):
        with pytest.raises(ConfigError):
            NB.str_to_mask(bad)


def test_operator_scores_are_means_over_containing_cells():
    mask = NB.str_to_mask("12,3,34,0,1,2")
    archs = NB.space_archs(mask)
    scores = archs[:, 0] * 10.0 + archs[:, 2]  # edge 0 drives the score
    ops = S.operator_scores(archs, scores, mask)
    assert ops[0, 1] == pytest.approx(10 + 3.5) and ops[0, 2] == pytest.approx(20 + 3.5)
    assert ops[2, 3] == pytest.approx(15 + 3) and ops[2, 4] == pytest.approx(15 + 4)
    assert np.isnan(ops[0, 0]) and np.isnan(ops[1, 4])


def test_drop_rule_follows_the_reference():
    scores = np.arange(30, dtype=float).reshape(6, 5)[::-1].copy()  # edge 5 lowest, op 0 lowest
    mask, dropped = S.drop_operators(scores, NB.SPACE.full_mask(), 20)
    assert len(dropped) == 20
    assert mask.sum() == 10 and mask.any(1).all()
    # Lowest first, skipping each edge's best op: edges 5, 4, 3, 2 lose 4 ops each, then edge 1.
    assert dropped[:4] == [(5, 0), (5, 1), (5, 2), (5, 3)]
    assert [d[0] for d in dropped] == [5] * 4 + [4] * 4 + [3] * 4 + [2] * 4 + [1] * 4
    assert mask[0].all() and mask[1:].sum(1).tolist() == [1] * 5 and mask[1:, 4].all()
    # Fewer droppable operators than asked: every edge but keeps its best one.
    mask, dropped = S.drop_operators(scores, NB.SPACE.full_mask(), 29)
    assert len(dropped) == 24 and mask.sum(1).tolist() == [1] * 6


def test_shrinking_never_empties_an_edge():
    rng = np.random.default_rng(0)
    for trial in range(200):
        mask = rng.random((6, 5)) < 0.7
        mask[np.arange(6), rng.integers(0, 5, 6)] = True
        scores = np.where(rng.random((6, 5)) < 0.1, np.nan, rng.normal(size=(6, 5)))
        num = int(rng.integers(0, 31))
        new, dropped = S.drop_operators(scores, mask, num)
        assert new.any(1).all()
        assert not (new & ~mask).any()
        assert len(dropped) == min(num, int(mask.sum() - 6)) == int(mask.sum() - new.sum())
        for e in range(6):  # the best-scored op of every edge survives
            finite = np.where(mask[e], np.nan_to_num(scores[e], nan=np.inf), -np.inf)
            assert new[e][finite == finite.max()].any()


def test_angle_shrinking_on_a_known_space():
    """Ops whose cells turned most survive: move only the 3x3 kernels, drop 20."""
    p0 = _params()
    pt = jax.tree.map(lambda x: x, p0)
    pt["pools"] = [{**s, "conv3x3": s["conv3x3"] * -1.0} for s in p0["pools"]]
    sharing = pools.vanilla_sharing(CFG.N)
    archs = all_archs()
    angles = np.asarray(A.all_angles(p0, pt, archs, sharing, cfg=CFG))
    scores = S.operator_scores(archs, angles, NB.SPACE.full_mask())
    mask, _ = S.drop_operators(scores, NB.SPACE.full_mask(), 20)
    assert mask[:, 3].all()                       # conv3x3 is the best op of every edge
    assert np.argmax(np.nan_to_num(scores, nan=-1), 1).tolist() == [3] * 6


def test_a_shrunk_mask_changes_the_samplers_without_recompiling():
    from jaxnas.train import samplers

    mask = NB.str_to_mask("3,23,1234,3,23,234")
    for name in ("uniform", "unique", "fairnas"):
        sample = jax.jit(samplers.make(name, NB.SPACE))
        full = np.concatenate([np.asarray(sample(jax.random.key(i),
                                                 {"mask": jnp.ones((6, 5), bool)}))
                               for i in range(50)])
        shrunk = np.concatenate([np.asarray(sample(jax.random.key(i), {"mask": jnp.asarray(mask)}))
                                 for i in range(50)])
        assert not mask[np.arange(6), full].all()
        assert mask[np.arange(6), shrunk].all()
        assert sample._cache_size() == 1, name


# --------------------------------------------------------------------------- the technique


@pytest.fixture
def abs_config(tiny_config):
    from jaxnas.train import defaults

    config = tiny_config
    config.techniques = ("angle",)  # the name before "abs" keeps working
    defaults.complete(config)
    assert config.techniques == ("abs",)
    s = config.abs.shrink
    s.start_epoch, s.num_steps, s.drop_per_step = 1, 1, 20
    s.acc_batch_size, s.acc_num_archs = 10, 40
    config.abs.magnitude.batch_size = 8
    return config


def test_steps_due_follows_the_schedule(abs_config):
    T = importlib.import_module("jaxnas.techniques.abs.technique")
    from jaxnas.techniques.abs.technique import steps_due

    assert [steps_due(e, 3, 3, 2) for e in range(1, 11)] == [0, 0, 0, 1, 1, 2, 2, 3, 3, 3]
    assert steps_due(10, 0, 3, 2) == 0
    abs_config.train.epochs = 20
    abs_config.abs.shrink.start_epoch = 0.25  # a fraction of the run: 5 epochs
    assert T._check(abs_config)[0] == 5


def test_config_errors(abs_config):
    T = importlib.import_module("jaxnas.techniques.abs.technique")
    from jaxnas.train import recipe

    abs_config.abs.shrink.metric = "magnitude"
    with pytest.raises(ConfigError, match="magnitude.train"):
        recipe.from_config(abs_config)
    abs_config.abs.shrink.metric = "loss"
    with pytest.raises(ConfigError, match="metric"):
        T._check(abs_config)
    abs_config.abs.shrink.metric = "angle"
    abs_config.space_mask = "3,23"
    with pytest.raises(ConfigError, match="space_mask"):
        recipe.from_config(abs_config)


def test_epoch_start_shrinks_once_by_accuracy(abs_config):
    """The accuracy baseline scores sampled cells on held-out images; a repeated epoch_start
    (a resume inside the epoch) does not shrink again."""
    from jaxnas.train import recipe

    abs_config.abs.shrink.metric = "accuracy"
    r = recipe.from_config(abs_config)
    state = r.init()
    state, args, log = r.epoch_start(state, 1)
    assert args["mask"].all() and log["angle_space_size"] == NUM_ARCHS
    state, args, log = r.epoch_start(state, 2)
    mask = np.asarray(args["mask"])
    assert mask.sum() == 10 and mask.any(1).all() and "angle_dropped" in log
    assert np.array_equal(np.asarray(state.space), mask)
    again, args2, log2 = r.epoch_start(state, 2)
    assert np.array_equal(np.asarray(args2["mask"]), mask) and "angle_dropped" not in log2
    assert log2["angle_space"] == NB.mask_to_str(mask)
    # The train step reads the new mask as a runtime argument: no recompilation.
    images, labels = (x[:abs_config.train.batch_size] for x in r.run.train_data)
    full_args = r.epoch_start(r.init(), 1)[1]
    state = r.train_step(state, images, labels, full_args)[0]
    state = r.train_step(state, images, labels, args2)[0]
    assert r.train_step._cache_size() == 1


def _train_and_check(config, workdir):
    """Train two epochs (shrinking at the start of epoch 2); check the log, the checkpointed
    mask and the angle scorer; return the restored state and the recipe's scorer."""
    import json

    from jaxnas.train.open_run import restore_latest
    from jaxnas.train.scorer import make_score
    from jaxnas.train import loop, recipe

    loop.train(config, workdir, progress=False)
    lines = [json.loads(x) for x in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert lines[0]["angle_space_size"] == NUM_ARCHS and "angle_dropped" not in lines[0]
    assert "angle_dropped" in lines[1] and lines[1]["angle_space_size"] < NUM_ARCHS
    r = recipe.from_config(config)
    state = restore_latest(workdir, r)
    mask = np.asarray(state.space)
    assert mask.sum() == 10 and NB.mask_to_str(mask) == lines[1]["angle_space"]
    score = make_score(r)
    angles = score(state, all_archs(), "angle")
    assert angles.shape == (NUM_ARCHS,) and np.isfinite(angles).all() and angles.max() > 0
    np.testing.assert_array_equal(score(r.init(), all_archs()[:5], "angle"), 0.0)
    return r, state, score


def test_abs_run_end_to_end(abs_config, tmp_path):
    """Angle shrinking at the start of epoch 2; the checkpoint keeps the mask; the angle
    scorer ranks the whole space (0 for the initial state); `--within-space` evaluation draws
    its cells from the shrunk space."""
    from jaxnas.evaluate import scoring
    from jaxnas.train.evaluation import evaluate_workdir

    abs_config.eval.batch_size = 20
    _, state, _ = _train_and_check(abs_config, tmp_path)
    mask = np.asarray(state.space)
    report = evaluate_workdir(tmp_path, archs=20, num_batches=1, within_space=True,
                              progress=False)
    inside = mask[np.arange(6), all_archs()[report["indices"]]].all(axis=1)
    assert report["space"] == NB.mask_to_str(mask) and inside.all()
    assert report["n"] == min(20, len(scoring.evaluation_archs("unique", mask=mask)))
    whole = evaluate_workdir(tmp_path, archs=20, num_batches=1, progress=False)
    assert "space" not in whole
    assert not mask[np.arange(6), all_archs()[whole["indices"]]].all(axis=1).all()


def test_resumed_run_shrinks_without_recompiling(abs_config, tmp_path, monkeypatch):
    """A run resumed from a checkpoint and shrunk at its next epoch compiles its train step once:
    the restored state and the shrunk mask are placed alike."""
    from jaxnas import config as config_lib
    from jaxnas.train import loop, recipe

    first = config_lib.from_json(config_lib.to_json(abs_config))
    config_lib.apply_overrides(first, ["train.epochs=1"])
    loop.train(first, tmp_path, progress=False)
    built, make = [], recipe.from_config
    monkeypatch.setattr(recipe, "from_config", lambda *a, **k: built.append(make(*a, **k))
                        or built[-1])
    loop.train(abs_config, tmp_path, resume=True, progress=False)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2 and "angle_dropped" in lines[1]
    assert built[0].train_step._cache_size() == 1


@pytest.mark.slow
def test_magnitude_baseline_end_to_end(abs_config, tmp_path):
    """DARTS alpha trained beside the weights (joint forward, Adam, held-out batches)."""
    abs_config.abs.magnitude.train = True
    r, state, score = _train_and_check(abs_config, tmp_path)
    assert not np.allclose(state.extra["abs"]["alpha"], r.init().extra["abs"]["alpha"])
    logp = score(state, all_archs(), "magnitude")
    assert logp.shape == (NUM_ARCHS,) and (logp < 0).all() and np.ptp(logp) > 0


def test_angle_scorer_on_a_run_without_the_technique(tiny_config):
    """W0 is rebuilt from the run seed: the initial state scores exactly 0 everywhere."""
    from jaxnas.train.scorer import make_score
    from jaxnas.train import recipe

    r = recipe.from_config(tiny_config, data=False, steps_per_epoch=3)
    state = r.init()
    score = make_score(r)
    archs = all_archs()[:64]
    np.testing.assert_array_equal(score(state, archs, "angle"), 0.0)
    moved = state._replace(params={"supernet": _moved(jax.device_get(state.params["supernet"]))})
    assert (score(moved, archs, "angle") > 0.01).all()
    with pytest.raises(ConfigError, match="magnitude"):
        score(state, archs, "magnitude")
