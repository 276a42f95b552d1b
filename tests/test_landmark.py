"""Landmark regularisation: penalty, pairs, schedule, selection, set growth, the technique."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas.techniques import landmark as L
from jaxnas.errors import ConfigError, GroundTruthError
from jaxnas.techniques.landmark import loss as loss_lib
from jaxnas.techniques.landmark import rounds
from jaxnas.spaces import nb201 as space


# ------------------------------------------------------------------------------ the penalty


def test_rank_penalty_values():
    d = jnp.array([-0.5, 0.0, 0.3])
    np.testing.assert_allclose(L.rank_penalty(d, "hinge"), [0.0, 0.0, 0.3])
    np.testing.assert_allclose(L.rank_penalty(d, "softplus", beta=5.0),
                               np.log1p(np.exp(5 * np.array([-0.5, 0.0, 0.3]))) / 5, rtol=1e-6)
    with pytest.raises(ValueError):
        L.rank_penalty(d, "margin")


def _toy(scores, accs):
    """Landmark i's network predicts class 0 with logit s_i: L_i = softplus(-s_i) on labels 0.
    Landmarks are cells whose edge 0 holds i (so `arch[0]` picks the score)."""
    indices = [space.arch_to_index([i, 1, 1, 1, 1, 1]) for i in range(len(accs))]
    table = L.Table(np.array(sorted(indices)), np.array([a for _, a in sorted(zip(indices, accs))]))
    state = L.make_state(indices, table, capacity=len(accs) + 2)

    def forward(params, arch, x, key):
        del key
        s = params["s"][arch[0]]
        return jnp.stack([jnp.full(x.shape[0], s), jnp.zeros(x.shape[0])], -1)

    params = {"s": jnp.asarray(scores, jnp.float32)}
    x, labels = jnp.zeros((4, 2, 2, 3)), jnp.zeros(4, jnp.int32)
    return params, forward, state, x, labels


def _loss(params, forward, state, x, labels, **kw):
    return L.landmark_loss(params, forward, state, x, labels, jax.random.key(0), **kw)[0]


def test_hinge_value_and_gradient_signs_when_misordered():
    # Landmark 1 is better (acc 90 > 80) but has the higher loss (score 0.0 < 1.0).
    params, forward, state, x, labels = _toy([1.0, 0.0], [80.0, 90.0])
    value, grad = jax.value_and_grad(_loss)(params, forward, state, x, labels)
    def ce(s):
        return math.log1p(math.exp(-s))
    np.testing.assert_allclose(value, ce(0.0) - ce(1.0), rtol=1e-5)
    # Gradient descent raises the better one's score (its loss goes down) and lowers the worse
    # one's score (its loss goes up).
    assert grad["s"][1] < 0 < grad["s"][0]
    new = jax.tree.map(lambda p, g: p - 0.5 * g, params, grad)
    assert _loss(new, forward, state, x, labels) < value


@pytest.mark.parametrize("kind", ["hinge", "softplus"])
def test_no_push_when_ordered_or_tied(kind):
    params, forward, state, x, labels = _toy([0.0, 1.0], [80.0, 90.0])   # ordered
    value, grad = jax.value_and_grad(_loss)(params, forward, state, x, labels, kind=kind)
    if kind == "hinge":
        assert value == 0 and not np.any(grad["s"])
    else:  # softplus keeps a small push in the right direction
        assert 0 < value < 0.2 and grad["s"][1] < 0 < grad["s"][0]
    params, forward, state, x, labels = _toy([1.0, 0.0], [85.0, 85.0])   # tied ground truth
    value, grad = jax.value_and_grad(_loss)(params, forward, state, x, labels, kind=kind)
    assert value == 0 and not np.any(grad["s"])


@pytest.mark.parametrize("loop", ["unroll", "scan"])
def test_several_pairs_sum(loop):
    params, forward, state, x, labels = _toy([1.0, 0.0], [80.0, 90.0])
    value, grad = jax.value_and_grad(_loss)(params, forward, state, x, labels)
    # Two landmarks: every pair is (0, 1), so 3 pairs give 3 times the penalty and gradient,
    # whether the 6 networks are unrolled or scanned.
    value3, grad3 = jax.value_and_grad(_loss)(params, forward, state, x, labels, pairs=3,
                                              loop=loop)
    np.testing.assert_allclose(value3, 3 * value, rtol=1e-6)
    np.testing.assert_allclose(grad3["s"], 3 * grad["s"], rtol=1e-6)


def test_pairs_respect_the_space_mask():
    params, forward, state, x, labels = _toy([1.0, 0.0, 0.5], [80.0, 90.0, 85.0])
    mask = np.ones((6, 5), bool)
    mask[0, 2] = False                       # shrinks away landmark 2 (edge 0 runs op 2)
    order, n = loss_lib.usable(state, jnp.asarray(mask))
    assert int(n) == 2 and sorted(np.asarray(order)[:2].tolist()) == [0, 2]  # positions
    grad_fn = jax.jit(jax.grad(lambda p, k: L.landmark_loss(p, forward, state, x, labels, k,
                                                            mask=jnp.asarray(mask))[0]))
    grads = [grad_fn(params, jax.random.key(i))["s"] for i in range(8)]
    assert all(g[2] == 0 for g in grads) and any(g[1] != 0 for g in grads)
    mask[0, 1] = False                       # one usable landmark: no pair, no penalty
    value, grad = jax.value_and_grad(lambda p: L.landmark_loss(
        p, forward, state, x, labels, jax.random.key(0), mask=jnp.asarray(mask))[0])(params)
    assert value == 0 and not np.any(grad["s"])


# ------------------------------------------------------------------------------ pair sampling


@pytest.mark.parametrize("distribution", ["reference", "uniform"])
def test_pair_distribution(distribution):
    m, n = 5, 40000
    lo, hi = jax.jit(L.sample_pairs, static_argnums=(2, 3))(jax.random.key(1), jnp.int32(m), n,
                                                            distribution)
    lo, hi = np.asarray(lo), np.asarray(hi)
    assert np.all((0 <= lo) & (lo < hi) & (hi < m))
    freq = np.zeros((m, m))
    np.add.at(freq, (lo, hi), 1 / n)
    for a in range(m - 1):
        for b in range(a + 1, m):
            want = (1 / ((m - 1) * (m - 1 - a)) if distribution == "reference"
                    else 2 / (m * (m - 1)))
            assert abs(freq[a, b] - want) < 0.01, (a, b, freq[a, b], want)


# ------------------------------------------------------------------------------ schedule


def test_schedule_values_at_known_epochs():
    kw = dict(coef=10.0, warmup_epochs=150, epochs=400)
    assert L.coefficient(1, **kw) == 0.0
    assert L.coefficient(150, **kw) == 0.0            # epoch 150 (1-based) is still warm-up
    np.testing.assert_allclose(L.coefficient(151, **kw), 10 * 0.5 * (1 - math.cos(math.pi / 400)))
    np.testing.assert_allclose(L.coefficient(151, **kw), 1.542e-4, rtol=1e-3)
    # The reference's period is all epochs: it ends at 6.91, not 10.
    np.testing.assert_allclose(L.coefficient(400, **kw), 5 * (1 + math.cos(math.pi * 0.375)))
    np.testing.assert_allclose(L.coefficient(400, **kw), 6.913, atol=1e-3)
    full = dict(kw, schedule="cosine_increase_full")
    np.testing.assert_allclose(L.coefficient(400, **full), 10.0)
    np.testing.assert_allclose(L.coefficient(275, **full), 5.0, atol=0.07)  # halfway
    assert L.coefficient(150, **full) == 0.0
    assert L.coefficient(151, **dict(kw, schedule="constant")) == 10.0
    values = [L.coefficient(e, **kw) for e in range(151, 401)]
    assert np.all(np.diff(values) > 0)
    with pytest.raises(ConfigError):
        L.coefficient(1, coef=10.0, warmup_epochs=50, epochs=50)


# ------------------------------------------------------------------------------ landmark sets


@pytest.mark.parametrize("distance,roots", [(5, 1), (2, 1), (3, 3)])
def test_diverse_sampling_distances(distance, roots):
    table = L.read_table()
    idx = L.select(table, 30, "diverse", seed=3, distance=distance, roots=roots)
    assert len(idx) == len(set(idx.tolist())) == 30
    archs = space.all_archs()[idx]
    dist = space.hamming(archs[:, None], archs[None])
    # Some `roots` members are roots: every other landmark lies beyond `distance` from its root.
    far = (dist > distance).sum(1)
    roots_found = np.sort(far)[::-1][:roots]
    assert roots_found.sum() >= 30 - roots
    if roots == 1:
        root = int(np.argmax(far))
        others = np.delete(dist[root], root)
        assert np.all(others > distance)
        if distance == 5:
            assert np.all(others == 6)


def test_random_and_fixed_selection():
    table = L.read_table()
    a = L.select(table, 30, "random", seed=0)
    assert len(set(a.tolist())) == 30 and np.array_equal(a, L.select(table, 30, seed=0))
    assert not np.array_equal(a, L.select(table, 30, seed=1))
    fixed = L.select(table, 30, "fixed")
    assert table.indices[np.argmax(table.acc)] in fixed
    small = L.Table(np.array([3, 7, 9]), np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(L.select(small, 30), [3, 7, 9])  # a small table: all of it
    with pytest.raises(ConfigError):
        L.select(table, 30, "greedy")


def test_user_tables(tmp_path):
    best = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|" \
           "nor_conv_3x3~2|"
    from_dict = L.read_table({best: 93.5, 0: 80.0, "11": 70.0})
    np.testing.assert_array_equal(from_dict.indices, sorted([space.arch_to_index(best), 0, 11]))
    (tmp_path / "t.csv").write_text(f"arch,valid_acc\n{best},93.5\n"
                                    f"{space.arch_to_str(space.index_to_arch(0))},80.0\n"
                                    f"{space.arch_to_str(space.index_to_arch(11))},70\n")
    (tmp_path / "t.json").write_text(json.dumps({best: 93.5, "0": 80.0, "11": 70.0}))
    for path in ("t.csv", "t.json"):
        table = L.read_table(str(tmp_path / path))
        np.testing.assert_array_equal(table.indices, from_dict.indices)
        np.testing.assert_array_equal(table.acc, from_dict.acc)
    np.testing.assert_array_equal(from_dict.lookup([0, 1, 11]), [80.0, np.nan, 70.0])
    with pytest.raises(GroundTruthError):
        L.read_table({"|bogus~0|": 1.0})
    for key in (-1, "-1", 15625):  # an index out of range, said as one
        with pytest.raises(GroundTruthError, match="0..15624"):
            L.read_table({key: 1.0})
    with pytest.raises(GroundTruthError):
        L.read_table(str(tmp_path / "missing.csv"))
    (tmp_path / "bad.csv").write_text("name,score\nx,1\n")
    with pytest.raises(GroundTruthError):
        L.read_table(str(tmp_path / "bad.csv"))


def test_state_sorted_and_exclusions():
    table = L.read_table()
    idx = L.select(table, 30, seed=0)
    state = L.make_state(idx, table, capacity=40)
    assert int(state.count) == 30 and state.archs.shape == (40, 6)
    own = L.indices_of(state)
    assert np.all(np.diff(table.lookup(own)) >= 0)               # ascending ground truth
    assert sorted(own.tolist()) == sorted(idx.tolist())
    plain = L.exclusions(state, isomorphic=False)
    np.testing.assert_array_equal(plain, np.sort(idx))
    iso = L.exclusions(state)
    canon = space.canonical_indices()
    assert set(idx.tolist()) <= set(iso.tolist())
    assert set(canon[iso].tolist()) == set(canon[idx].tolist())
    # An evaluation set without the excluded cells holds no landmark and no isomorphic copy.
    from jaxnas.evaluate.scoring import evaluation_archs
    evaluation = np.setdiff1d(evaluation_archs("unique"), iso)
    assert not np.isin(canon[evaluation], canon[idx]).any()


# ------------------------------------------------------------------------------ rounds


def test_add_top_k_and_round_epochs():
    table = L.read_table()
    state = L.make_state(L.select(table, 5, seed=0), table, capacity=9)
    own = L.indices_of(state)
    twin = np.flatnonzero((space.canonical_indices() == space.canonical_indices()[own[0]])
                          & (np.arange(space.NUM_ARCHS) != own[0]))
    cand = np.array([own[1], 100, 200, 300, 400] + ([int(twin[0])] if twin.size else []))
    scores = np.array([99.0, 50.0, 70.0, 60.0, 10.0] + ([98.0] if twin.size else []))
    new, added = L.add_top_k(state, scores, cand, table, k=3)
    np.testing.assert_array_equal(added, [200, 300, 100])        # landmarks and twins skipped
    assert int(new.count) == 8 and int(new.rounds_done) == 1
    assert new.archs.shape == state.archs.shape                  # values change, not shapes
    assert set(L.indices_of(new).tolist()) == set(own.tolist()) | {100, 200, 300}
    with pytest.raises(ConfigError):
        L.add_top_k(new, scores, cand + 1, table, k=3)           # over capacity
    assert L.round_starts(1, 0, 150, 400) == ()
    assert L.round_starts(3, 0, 100, 400) == (201, 301)
    assert L.round_starts(3, 150, 250, 700) == (401, 551)
    assert [rounds.rounds_due(e, (201, 301)) for e in (200, 201, 300, 301, 400)] == [0, 1, 1, 2, 2]
    with pytest.raises(ConfigError):
        L.round_starts(3, 200, 100, 400)


def test_candidates_within_a_space():
    mask = np.zeros((6, 5), bool)
    mask[:, [1, 3]] = True                                        # skip and conv 3x3 only
    every = rounds.candidates("unique", seed=0)
    inside = rounds.candidates("unique", seed=0, mask=mask)
    np.testing.assert_array_equal(inside, every[space.in_space(every, mask)])
    assert 0 < inside.size < every.size
    pool = rounds.candidates(5, seed=0, exclude=inside[:3], mask=mask)
    assert pool.size == 5 and space.in_space(pool, mask).all()
    assert not np.isin(inside[:3], pool).any()


# ------------------------------------------------------------------------------ the technique


def _recipe(techniques=("landmark",), shrink=None, **landmark):
    """A tiny run (C=4, N=1, 8x8 images, batch 8) built through the recipe, random data;
    `shrink` updates `config.abs.shrink`."""
    from jaxnas.train import defaults, recipe as recipe_lib
    from jaxnas.train.technique import Run

    c = defaults.base_config(techniques=techniques)
    c.supernet.C, c.supernet.N = 4, 1
    c.data.resolution, c.data.pad = 8, 1
    c.train.epochs, c.train.batch_size = 4, 8
    c.eval.batch_size = 8
    if "landmark" in techniques:
        settings = dict(warmup_epochs=1, num=4, eval_reserve=8, round_pool=12, round_batches=1)
        settings.update(landmark)
        for key, value in settings.items():
            c.landmark[key] = value
    if shrink:
        c.abs.shrink.update(shrink)
    c.lock()
    rng = np.random.default_rng(0)

    def data(n):
        return (rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8),
                rng.integers(0, 10, n).astype(np.int32))

    run = Run(config=c, net_cfg=recipe_lib.supernet_config(c), steps_per_epoch=2, total_steps=8,
              train_data=data(16), valid_data=data(40))
    return recipe_lib.build(c, run), run


def _convolutions(step, *args):
    """Convolutions in the compiled step for these arguments (forwards and backwards)."""
    return step.lower(*args).compile().as_text().count(" convolution(")


@pytest.fixture(scope="module")
def tiny():
    """One landmark recipe and one plain SPOS recipe for the module (each compiles once)."""
    landmark, run = _recipe()
    plain, _ = _recipe(techniques=())
    return landmark, plain, run.train_data[0][:8], run.train_data[1][:8]


def test_technique_no_recompilation_and_warmup_skips_the_work(tiny):
    recipe, plain, x, y = tiny
    state = recipe.init()
    assert state.extra["landmark"].archs.shape == (4, 6)
    losses = {}
    for epoch in (1, 2, 3):
        state, args, log = recipe.epoch_start(state, epoch)
        want = L.coefficient(epoch, coef=10.0, warmup_epochs=1, epochs=4)
        assert log["landmarks"] == 4 and log["landmark_coef"] == pytest.approx(want)
        assert (want == 0) == (epoch == 1)
        for _ in range(2):   # each step draws a new pair and a new regulariser window
            state, metrics = recipe.train_step(state, x, y, args)
            losses.setdefault(epoch, []).append(float(metrics["loss_landmark"]))
    assert losses[1] == [0.0, 0.0] and all(np.isfinite(losses[3]))
    # A different landmark set (multi-round growth) changes values, not shapes.
    table = L.read_table()
    grown = L.make_state(L.select(table, 4, seed=9), table, capacity=4)
    state = state._replace(extra={"landmark": grown})
    state, metrics = recipe.train_step(state, x, y, args)
    # Two programs: the warm-up's (term off) and the regularised one; pairs, windows, the
    # coefficient and the landmark set are values.
    assert recipe.train_step._cache_size() == 2
    # The warm-up's program has the plain SPOS step's convolutions, the regularised one more.
    _, warm_args, _ = recipe.epoch_start(state, 1)
    p_state, p_args, _ = plain.epoch_start(plain.init(), 1)
    spos = _convolutions(plain.train_step, p_state, x, y, p_args)
    assert _convolutions(recipe.train_step, state, x, y, warm_args) == spos
    assert _convolutions(recipe.train_step, state, x, y, args) > spos


def test_warmup_matches_plain_spos_then_departs(tiny):
    landmark, plain, x, y = tiny
    a, b = plain.init(), landmark.init()
    a, args_a, _ = plain.epoch_start(a, 1)
    b, args_b, _ = landmark.epoch_start(b, 1)
    assert args_b["landmark"] is None    # the term is off: the warm-up runs the SPOS step
    for _ in range(3):
        a, ma = plain.train_step(a, x, y, args_a)
        b, mb = landmark.train_step(b, x, y, args_b)
        assert ma["loss"] == mb["loss"] and mb["loss_landmark"] == 0
    for u, v in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
        np.testing.assert_array_equal(u, v)
    b, args_b, _ = landmark.epoch_start(b, 3)
    for _ in range(6):   # the first step whose pair is mis-ordered changes the gradient
        a, ma = plain.train_step(a, x, y, args_a)
        b, mb = landmark.train_step(b, x, y, args_b)
        if mb["loss_landmark"] > 0:
            break
    assert mb["loss_landmark"] > 0
    assert abs(float(mb["grad_norm"]) - float(ma["grad_norm"])) > 1e-3 * float(ma["grad_norm"])


def test_rounds_in_epoch_start_and_exclusion():
    recipe, _ = _recipe(rounds=2, top_k=2)        # round 2 starts at epoch 1 + 3 // 2 + 1 = 3
    state = recipe.init()
    before = L.indices_of(state.extra["landmark"])
    state, _, log = recipe.epoch_start(state, 2)
    assert "landmark_added" not in log and log["landmarks"] == 4
    state, _, log = recipe.epoch_start(state, 3)
    added = log["landmark_added"]
    assert len(added) == 2 and log["landmarks"] == 6 and log["landmark_round"] == 2
    again, _, log2 = recipe.epoch_start(state, 3)    # resume inside the epoch: no second round
    assert "landmark_added" not in log2 and log2["landmarks"] == 6
    now = L.indices_of(again.extra["landmark"])
    assert set(now.tolist()) == set(before.tolist()) | set(added)
    excluded = recipe.exclude(again)
    assert set(now.tolist()) <= set(excluded.tolist())


def test_within_moves_the_set_into_a_shrunk_space():
    from jaxnas.spaces import nb201 as shrink

    table = L.read_table()
    state = L.make_state(L.select(table, 30, seed=0), table, capacity=40)
    same, added = L.within(state, table, shrink.SPACE.full_mask(), 30)
    assert same is state and added.size == 0
    mask = shrink.str_to_mask("013,0134,0134,013,013,013")       # 1,296 cells
    def inside(idx):
        return np.all(mask[np.arange(6), space.all_archs()[idx]], axis=1)
    before = L.indices_of(state)
    moved, added = L.within(state, table, mask, 30, seed=[0, 20])
    now = L.indices_of(moved)
    assert int(moved.count) == 30 and moved.archs.shape == state.archs.shape
    assert inside(now).all() and set(before[inside(before)]) <= set(now.tolist())
    assert set(now.tolist()) == set(before[inside(before)].tolist()) | set(added.tolist())
    assert np.all(np.diff(table.lookup(now)) >= 0)
    np.testing.assert_array_equal(L.within(state, table, mask, 30, seed=[0, 20])[1], added)
    assert L.within(moved, table, mask, 30)[0] is moved           # already there: unchanged
    tiny = shrink.str_to_mask("0,01,01,01,0,01")                 # 16 cells
    small, _ = L.within(state, table, tiny, 30)
    assert int(small.count) == 8 and inside(L.indices_of(small)).all()   # half the space


@pytest.mark.parametrize("follow", [True, False])
def test_landmarks_follow_abs_shrinking(follow):
    recipe, run = _recipe(("angle", "landmark"), shrink=dict(start_epoch=1, drop_per_step=10),
                          follow_space=follow, rounds=2, top_k=2)   # round 2 starts at epoch 3
    x, y = run.train_data[0][:8], run.train_data[1][:8]
    state = recipe.init()
    before = L.indices_of(state.extra["landmark"])
    state, _, log = recipe.epoch_start(state, 1)
    assert log["angle_space_size"] == 15625 and log["landmarks_usable"] == 4
    state, args, log = recipe.epoch_start(state, 2)             # the space shrinks here
    assert log["angle_space_size"] < 15625
    mask = np.asarray(args["mask"])
    now = L.indices_of(state.extra["landmark"])
    usable = int(np.all(mask[np.arange(6), space.all_archs()[now]], axis=1).sum())
    assert log["landmarks_usable"] == usable
    if follow:
        assert usable == len(now) == 4 and ("landmark_space_added" in log) == (
            set(now.tolist()) != set(before.tolist()))
        for _ in range(2):
            state, metrics = recipe.train_step(state, x, y, args)
            assert np.isfinite(float(metrics["loss_landmark"]))
        state, _, log = recipe.epoch_start(state, 3)        # round 2: candidates of the space
        added = log["landmark_added"]
        assert len(added) == 2 and space.in_space(added, mask).all()
        assert log["landmarks_usable"] == log["landmarks"] == 6
    else:
        np.testing.assert_array_equal(now, before)
        assert "landmark_space_added" not in log


def test_bad_config():
    with pytest.raises(ConfigError, match="warmup_epochs"):
        _recipe(warmup_epochs=4)
    with pytest.raises(ConfigError, match="loss"):
        _recipe(loss="margin")
    from jaxnas.train import defaults

    c = defaults.base_config(techniques=("landmark",))
    c.eval.every_epochs, c.eval.num_batches = 5, 20
    with pytest.raises(ConfigError, match="eval_reserve"):
        L.technique(c, None)


@pytest.mark.slow
def test_train_end_to_end(tiny_folder, tmp_path):
    """The loop: metrics lines, the round's addition, evaluation without landmarks, restore."""
    from jaxnas.train.evaluation import evaluate_workdir
    from jaxnas.evaluate.scoring import evaluation_archs
    from jaxnas.train import defaults, loop

    canon = space.canonical_indices()
    first = L.select(L.read_table(), 6, seed=0)          # the run's initial landmarks

    def seed_with_landmark(n):   # an evaluation sample that holds a landmark's class
        return next(s for s in range(1000)
                    if np.isin(canon[evaluation_archs(n, seed=s)], canon[first]).any())

    c = defaults.base_config(techniques=("landmark",))
    c.data.source, c.data.resolution, c.data.pad = str(tiny_folder), 8, 1
    c.data.cache_dir = str(tmp_path / "cache")
    c.supernet.C, c.supernet.N = 4, 1
    c.train.epochs, c.train.batch_size = 3, 20
    c.eval.update(every_epochs=1, num_archs=30, batch_size=10, num_batches=1,
                  seed=seed_with_landmark(30))
    c.landmark.update(warmup_epochs=1, num=6, eval_reserve=10, batch_size=10, rounds=2,
                      top_k=2, round_pool=10, round_batches=1)
    loop.train(c, tmp_path / "run", progress=False)
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert [line["landmark_coef"] > 0 for line in lines] == [False, True, True]
    assert lines[0]["loss_landmark"] == 0 and "landmark_added" in lines[2]
    assert [line["landmarks"] for line in lines] == [6, 6, 8]
    landmarks = np.concatenate([first, lines[2]["landmark_added"]])
    sample = evaluation_archs(30, seed=c.eval.seed)
    for line, marks in zip(lines, (first, first, landmarks)):
        assert line["eval"]["excluded"] == np.isin(canon[sample], canon[marks]).sum() > 0
    seed = seed_with_landmark(100)
    report = evaluate_workdir(tmp_path / "run", archs=100, seed=seed, num_batches=1)
    sample = evaluation_archs(100, seed=seed)
    assert report["excluded"] == np.isin(canon[sample], canon[landmarks]).sum() > 0
