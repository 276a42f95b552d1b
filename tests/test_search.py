"""Search strategies on synthetic oracles, the result file, and GDAS's pieces."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas.errors import ArchError, ConfigError
from jaxnas.evaluate.groundtruth import GroundTruth, load_mini_table
from jaxnas.search import evolution, result
from jaxnas.optim import adam_l2
from jaxnas.techniques import gdas
from jaxnas.search import random as random_search
from jaxnas.search.history import History
from jaxnas.spaces import NB201, nb201

TARGET = nb201.str_to_arch("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|"
                           "+|skip_connect~0|nor_conv_1x1~1|skip_connect~2|")


def hamming_oracle(target, calls=None):
    """Score = edges equal to `target` (6 only at the target): a smooth landscape."""
    def score(archs):
        archs = np.asarray(archs)
        assert archs.ndim == 2 and archs.shape[1] == 6
        if calls is not None:
            calls.append(len(archs))
        return 6.0 - nb201.hamming(archs, target)
    return score


def random_oracle(seed=0):
    """Score = a fixed random value per cell: no structure a strategy could exploit."""
    values = np.random.default_rng(seed).random(nb201.NUM_ARCHS)
    return lambda archs: values[nb201.archs_to_indices(archs)], values


def two_op_mask(arch):
    """An ABS-like shrunk space: each edge keeps `arch`'s op and one other (2**6 = 64 cells)."""
    mask = np.zeros((6, 5), bool)
    mask[np.arange(6), arch] = True
    mask[np.arange(6), (np.asarray(arch) + 2) % 5] = True
    return mask


def test_random_search_finds_the_optimum_of_a_small_space():
    score, values = random_oracle()
    mask = two_op_mask(TARGET)
    allowed = random_search.candidates(mask)
    assert len(allowed) == 64
    best = allowed[np.argmax(values[allowed])]
    found = random_search.search(score, 64, seed=1, mask=mask, batch_size=10)
    assert nb201.arch_to_index(found.arch) == best
    assert len(found.archs) == 64 and len(set(nb201.archs_to_indices(found.archs))) == 64
    assert mask[np.arange(6), found.archs].all()
    # A budget of a quarter of the space usually misses it: the search really samples.
    misses = [nb201.arch_to_index(random_search.search(score, 16, seed=s, mask=mask).arch) != best
              for s in range(10)]
    assert any(misses)


def test_random_search_is_seeded_and_capped():
    score = hamming_oracle(TARGET)
    a = random_search.search(score, 30, seed=3)
    b = random_search.search(score, 30, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(a.archs, b.archs)
    assert not np.array_equal(a.archs, random_search.search(score, 30, seed=4).archs)
    mask = np.zeros((6, 5), bool)
    mask[:, 1] = True
    mask[0, 2] = True  # two cells
    assert len(random_search.search(score, 100, mask=mask).archs) == 2
    reps = random_search.search(score, 50, seed=0, unique=True).archs
    assert set(nb201.archs_to_indices(reps)) <= set(nb201.unique_indices())


def test_evolution_finds_the_optimum_within_its_budget():
    calls = []
    found = evolution.search(hamming_oracle(TARGET, calls), 400, seed=0, population_size=20,
                             tournament_size=5)
    np.testing.assert_array_equal(found.arch, TARGET)
    assert found.score == 6.0
    assert len(found.archs) == 400
    assert calls[0] == 20 and set(calls[1:]) == {1}  # the population, then one child a cycle
    # Random search with the same budget does not get there: evolution exploits the landscape.
    rand = random_search.search(hamming_oracle(TARGET), 400, seed=0)
    assert rand.score < 6.0


def test_evolution_respects_the_mask_and_counts_repeats():
    mask = two_op_mask(TARGET)
    calls = []
    found = evolution.search(hamming_oracle(TARGET, calls), 200, seed=1, mask=mask,
                             population_size=10, tournament_size=3, children_per_round=4)
    np.testing.assert_array_equal(found.arch, TARGET)
    assert mask[np.arange(6), found.archs].all()
    assert len(found.archs) == 200
    # A 64-cell space revisits cells: those are looked up, not rescored.
    assert sum(calls) == len(set(nb201.archs_to_indices(found.archs))) < 200
    assert max(calls[1:]) <= 4


def test_evolution_edge_cases():
    score = hamming_oracle(TARGET)
    assert len(evolution.search(score, 5, population_size=50).archs) == 5
    single = np.zeros((6, 5), bool)
    single[np.arange(6), TARGET] = True  # one cell: nothing to mutate
    np.testing.assert_array_equal(evolution.search(score, 10, mask=single).arch, TARGET)
    for bad in (dict(budget=0), dict(budget=2.5), dict(tournament_size=0)):
        with pytest.raises(ConfigError):
            evolution.search(score, **{"budget": 10, **bad})
    with pytest.raises(ArchError):
        evolution.search(score, 10, mask=np.zeros((6, 5), bool))


def test_history_checks_the_score_function():
    history = History(lambda archs: np.zeros(len(archs) + 1))
    with pytest.raises(ConfigError, match="shape"):
        history.evaluate(nb201.sample(np.random.default_rng(0), 3))
    with pytest.raises(ConfigError):
        History(lambda a: a).found()


def test_result_reports_ground_truth_and_rank(tmp_path):
    best = result.best_in_space()
    assert best["rank_valid"] == 1 and best["num_archs"] == 15625
    info = result.describe(best["arch"])
    assert info == best and info["index"] == nb201.arch_to_index(info["arch"])
    worst = result.describe("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert worst["valid_acc"] < 15 and worst["rank_valid"] > 15000
    mask = two_op_mask(TARGET)
    found = evolution.search(hamming_oracle(TARGET), 50, seed=0, mask=mask, population_size=10)
    rep = result.report(found.arch, strategy="evolution", metric="oracle", score=found.score,
                        archs=found.archs, scores=found.scores, mask=mask, seed=0)
    in_space = random_search.candidates(mask)
    assert rep["best_in_space"]["index"] in in_space
    assert rep["best_in_space"]["valid_acc"] >= rep["found"]["valid_acc"]
    steps = rep["trajectory"]
    assert len(steps) == 50 and steps[-1]["best_index"] == rep["found"]["index"]
    assert all(a["best_score"] <= b["best_score"] for a, b in zip(steps, steps[1:]))
    paths = result.write(rep, tmp_path / "search.json")
    assert json.loads(paths[0].read_text())["found"] == rep["found"]
    assert paths[1].suffix == ".png" and paths[1].stat().st_size > 1000
    # Per-epoch trajectories without scores (GDAS) plot the cell of each step.
    gd = result.report(TARGET, strategy="gdas", archs=[TARGET] * 3, x_label="epoch")
    assert "best_index" not in gd["trajectory"][0]
    assert result.write(gd, tmp_path / "gdas.json")[1].is_file()


def test_a_standalone_table_judges_the_result_by_isomorphism_class(tmp_path):
    """`result.judge` (`jaxnas search --gt`): the found cell's table accuracy and rank among the
    table's cells, the best-scored cell the table holds, each step's table accuracy (None off
    the table); an isomorphic cell shares its class's row."""
    canon = nb201.canonical_indices()
    twin = int(np.flatnonzero(canon != np.arange(nb201.NUM_ARCHS))[0])  # not its class's index
    rep = int(canon[twin])
    others = [i for i in range(200, 15625, 1500) if canon[i] == i][:4]
    table = GroundTruth(dataset="standalone", epochs=50, source="t.csv",
                        indices=np.array([rep, *others]),
                        metrics={"valid_acc": np.array([70.0, 60.0, 75.0, 50.0, 65.0]),
                                 "test_acc": np.array([69.0, 61.0, 74.0, 51.0, 64.0])})
    off = next(i for i in range(15625) if canon[i] not in (rep, *others))
    archs = nb201.all_archs()[[off, others[0], twin, others[1], off]]
    scores = [0.9, 0.2, 0.5, 0.1, 0.95]  # the best-scored overall is off the table
    rep_ = result.report(archs[-1], strategy="random", metric="oracle", score=0.95,
                         archs=archs, scores=scores)
    judged = result.judge(rep_, table, NB201)["table"]
    assert judged["found"] == {"arch": nb201.arch_to_str(nb201.index_to_arch(canon[off])),
                               "in_table": False, "acc": None, "rank": None}
    assert judged["cells"] == 5 and judged["evaluated_in_table"] == 3
    assert judged["best_in_table"]["acc"] == 75.0
    best = judged["best_scored_in_table"]  # the twin, scored 0.5, is its class's 70.0 row
    assert best["acc"] == 70.0 and best["rank"] == 2 and best["score"] == 0.5
    assert best["arch"] == nb201.arch_to_str(nb201.index_to_arch(rep))
    assert [s["table_acc"] for s in rep_["trajectory"]] == [None, 60.0, 70.0, 75.0, None]
    assert [s["best_table_acc"] for s in rep_["trajectory"]] == [None, 60.0, 70.0, 70.0, 70.0]
    test = result.judge(result.report(archs[2], strategy="random"), table, NB201, "test")
    assert test["table"]["found"]["acc"] == 69.0 and test["table"]["column"] == "test_acc"
    paths = result.write(rep_, tmp_path / "search.json")
    assert json.loads(paths[0].read_text())["table"] == judged and paths[1].is_file()


# ------------------------------------------------------------------------------------ GDAS


def test_hard_gumbel_is_one_hot_in_value_and_respects_the_mask():
    alpha = jax.random.normal(jax.random.key(0), (6, 5))
    mask = jnp.asarray(two_op_mask(TARGET))

    @jax.jit
    @jax.vmap
    def draw(key):
        ops, hard = gdas.hard_gumbel(key, alpha, 0.5, mask)
        return ops, hard, *gdas.edge_affine(ops, hard), gdas.sample_ops(key, alpha, mask)

    ops, hard, weights, offsets, sampled = draw(jax.random.split(jax.random.key(1), 20))
    assert mask[jnp.arange(6), ops].all() and mask[jnp.arange(6), sampled].all()
    np.testing.assert_allclose(hard, jax.nn.one_hot(ops, 5), atol=1e-6)
    np.testing.assert_allclose(weights, 1.0, atol=1e-6)
    assert (offsets == 0.0).all()  # exactly zero: the forward value is untouched
    grads = jax.jit(jax.grad(lambda a: gdas.edge_affine(*gdas.hard_gumbel(
        jax.random.key(0), a, 1.0, mask))[0].sum() * 3.0))(alpha)
    assert np.isfinite(grads).all() and (grads[~mask] == 0).all() and (grads[mask] != 0).any()
    np.testing.assert_array_equal(gdas.derive(alpha, mask),
                                  np.argmax(np.where(mask, alpha, -np.inf), 1))


def test_tau_schedule():
    kw = dict(epochs=10, warmup_epochs=2, tau_max=10.0, tau_min=0.1)
    assert gdas.tau_at(1, **kw) == gdas.tau_at(3, **kw) == 10.0
    assert gdas.tau_at(10, **kw) == pytest.approx(0.1)
    taus = [gdas.tau_at(e, **kw) for e in range(3, 11)]
    assert np.allclose(np.diff(taus), np.diff(taus)[0]) and np.diff(taus)[0] < 0


def _toy_problem(good=3, d=16, classes=4, n=256, seed=0):
    """A linear 'supernet': edge e with op k adds `W[e, k] @ x` to the logits. Op `good`
    carries the true classifier (split over the edges); the other ops add noise."""
    rng = np.random.default_rng(seed)
    w_true = rng.normal(size=(d, classes))
    x = rng.normal(size=(n, d)).astype(np.float32)
    labels = np.argmax(x @ w_true, 1)
    W = rng.normal(size=(6, 5, d, classes)) * 0.7
    W[:, good] = w_true / 2
    W = jnp.asarray(W, jnp.float32)

    def forward(ops, x, weights, offsets):
        per_edge = jnp.einsum("bd,edc->ebc", x, W[jnp.arange(6), ops])
        return jnp.sum(weights[:, None, None] * per_edge + offsets[:, None, None], 0)

    return forward, jnp.asarray(x), jnp.asarray(labels)


def test_gdas_architecture_parameters_move_towards_the_better_op():
    good = 3
    forward, x, labels = _toy_problem(good)
    tx = adam_l2(0.05)  # the reference's Adam, a larger step for a short test
    full = jnp.ones((6, 5), bool)

    @jax.jit
    def step(alpha, opt, key, mask):
        return gdas.arch_step(alpha, opt, tx, key, 1.0, mask, forward, x, labels)

    def train(mask, steps):
        alpha = jnp.zeros((6, 5))
        opt, losses = tx.init(alpha), []
        for i in range(steps):
            alpha, opt, loss = step(alpha, opt, jax.random.key(i), mask)
            losses.append(float(loss))
        return alpha, losses

    alpha, losses = train(full, 60)
    assert (gdas.derive(alpha) == good).all()
    assert (jax.nn.softmax(alpha, -1)[:, good] > 0.5).all()
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    # With the good op masked out, alpha never favours it.
    masked = full.at[:, good].set(False)
    assert (gdas.derive(train(masked, 10)[0], masked) != good).all()


def test_supernet_edge_weights():
    from jaxnas.supernet import nb201 as supernet
    from jaxnas.supernet import pools

    cfg = supernet.SupernetConfig(C=4, N=1)
    params = supernet.init(jax.random.key(0), cfg)
    x = jax.random.normal(jax.random.key(1), (4, 8, 8, 3))
    sharing = pools.vanilla_sharing(1)
    arch = jnp.asarray(TARGET.copy()).at[2].set(0)  # one `none` edge

    def logits(w, o):
        return supernet.apply(params, arch, x, sharing, cfg=cfg, edge_weights=w, edge_offsets=o)

    base = jax.jit(lambda: supernet.apply(params, arch, x, sharing, cfg=cfg))()
    scaled = jax.jit(logits)
    ones, zeros = jnp.ones(6), jnp.zeros(6)
    # Equal up to XLA's fusion of the extra multiply-add (the default program is unchanged).
    np.testing.assert_allclose(scaled(ones, zeros), base, rtol=1e-5, atol=1e-6)
    assert not np.allclose(scaled(jnp.full(6, 2.0), zeros), base, rtol=1e-3)
    np.testing.assert_allclose(scaled(ones.at[2].set(5.0), zeros), base, rtol=1e-5, atol=1e-6)
    def loss(w, o):
        return jnp.sum(logits(w, o) * jnp.arange(10.0))
    gw, go = jax.jit(jax.grad(loss, argnums=(0, 1)))(ones, zeros)
    assert gw[2] == 0 and (np.delete(gw, 2) != 0).all() and (go != 0).all()


# ------------------------------------------------------------------- GDAS and search on runs


def _gdas_config(tiny_config, techniques=("search.gdas",)):
    from jaxnas.train.defaults import base_config

    config = base_config(techniques=techniques)
    for block in ("data", "supernet", "train"):
        config[block].update(tiny_config[block].to_dict())
    config.train.epochs = 3
    config.gdas.warmup_epochs = 1
    config.gdas.arch_lr = 0.05  # visible movement in a few steps
    config.eval.update(dict(batch_size=20, num_batches=1, num_archs=20))
    if "landmark" in techniques:
        config.landmark.update(dict(num=4, warmup_epochs=1, eval_reserve=20, batch_size=20))
    return config


def test_gdas_trains_alpha_beside_landmark_and_run_searches_it(tiny_config, tmp_path, capsys):
    from jaxnas import cli
    from jaxnas.train.open_run import restore_latest
    from jaxnas.search import pipeline
    from jaxnas.train import loop, recipe as recipe_lib

    config = _gdas_config(tiny_config, ("landmark", "search.gdas"))
    workdir = tmp_path / "run"
    built = {}
    build = recipe_lib.build
    recipe_lib.build = lambda *a, **k: built.setdefault("recipe", build(*a, **k))
    try:
        loop.train(config, workdir, progress=False)
    finally:
        recipe_lib.build = build
    recipe = built["recipe"]
    # Two programs: the landmark warm-up's (its term off) and the regularised one; GDAS's tau,
    # phase and held-out order are arguments.
    assert recipe.train_step._cache_size() == 2
    lines = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert [r["gdas_active"] for r in lines] == [False, True, True]
    assert [r["gdas_tau"] for r in lines] == [10.0, 10.0, pytest.approx(0.1)]
    assert "loss_landmark" in lines[-1]
    state = restore_latest(workdir, recipe)
    alpha = np.asarray(state.extra[gdas.NAME]["alpha"])
    init = np.asarray(recipe.init().extra[gdas.NAME]["alpha"])
    assert np.abs(alpha - init).max() > 1e-2  # two epochs of architecture steps moved it

    # `jaxnas run` on the trained workdir: training is done, evaluation and search follow.
    search = dict(strategy="random", budget=4)
    summary = pipeline.run(config, workdir, search=search, progress=False)
    assert summary["train"] == "done before" and summary["evaluate"]["n"] == 20
    gd = json.loads((workdir / "search" / "gdas.json").read_text())
    assert gd["found"]["ops"] == gdas.derive(alpha).tolist()
    assert [s["x"] for s in gd["trajectory"]] == [0, 1, 2, 3.0]
    assert summary["search"]["random"]["index"] == json.loads(
        (workdir / "search" / "random.json").read_text())["found"]["index"]
    text = pipeline.format_summary(summary)
    assert len(text.splitlines()) <= 24 and "Kendall's tau" in text and "rank" in text
    assert json.loads((workdir / "summary.json").read_text()) == json.loads(json.dumps(summary))
    stamps = {p: p.stat().st_mtime_ns for p in workdir.rglob("*.json") if p.name != "summary.json"}
    pipeline.run(config, workdir, search=search, progress=False)  # all stages done: no rewrite
    assert stamps == {p: p.stat().st_mtime_ns for p in workdir.rglob("*.json")
                      if p.name != "summary.json"}

    assert cli.main(["search", "--workdir", str(workdir), "--strategy", "evolution",
                     "--budget", "6", "--population", "3", "--tournament", "2",
                     "--no-progress"]) == 0
    headline = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    out = json.loads((workdir / "search" / "evolution.json").read_text())
    assert out["evaluated"] == 6 and headline["index"] == out["found"]["index"]
    assert 1 <= out["found"]["rank_valid"] <= 15625
    # --gt: the shipped mini table judges GDAS's cell and per-epoch choices beside NB201's truth
    mini = load_mini_table()
    assert cli.main(["search", "--workdir", str(workdir), "--strategy", "gdas", "--gt",
                     "nb201-mini", "--out", str(tmp_path / "gdas_mini.json"),
                     "--no-progress"]) == 0
    headline = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    judged = json.loads((tmp_path / "gdas_mini.json").read_text())
    assert headline["table"]["cells"] == mini.indices.size and "rank_valid" in headline
    assert judged["found"] == gd["found"] and judged["table"]["best_scored_in_table"] is None
    assert len([s["table_acc"] for s in judged["trajectory"]]) == 4

    # Searches of one checkpoint share its score cache: the random search scored everything
    # itself, the same search again looks every cell up, and its report says so.
    from jaxnas.search.workdir import search_workdir
    first = json.loads((workdir / "search" / "random.json").read_text())
    again = search_workdir(workdir, out=tmp_path / "again.json", progress=False, **search)
    assert first["cells_from_cache"] == 0
    assert again["cells_from_cache"] == again["evaluated_unique"] == first["evaluated_unique"]
    assert again["found"] == first["found"]
    # eval.table: the shipped mini table replaces NB201's truth in both stages, which are redone
    # (what judged them changed), and is named in the summary
    table_config = config.copy_and_resolve_references()
    table_config.eval.table = "nb201-mini"
    judged = pipeline.run(table_config, workdir, search=search, progress=False)
    assert 2 <= judged["evaluate"]["n"] <= mini.indices.size
    assert "nb201-mini" in judged["evaluate"]["ground_truth"]
    for strategy in ("random", "gdas"):
        assert judged["search"][strategy]["table"]["cells"] == mini.indices.size
        assert judged["search"][strategy]["index"] == summary["search"][strategy]["index"]
    assert "table valid_acc" in pipeline.format_summary(judged)


def test_gdas_warmup_only_leaves_alpha_and_samples_uniformly(tiny_config):
    from jaxnas.data import load_data, num_batches
    from jaxnas.train import recipe as recipe_lib
    from jaxnas.train.technique import Run

    config = _gdas_config(tiny_config)
    train, valid = load_data(config.data)
    spe = num_batches(len(train[0]), config.train.batch_size)
    run = Run(config=config, net_cfg=recipe_lib.supernet_config(config), steps_per_epoch=spe,
              total_steps=spe * 3, train_data=train, valid_data=valid)
    tech = gdas.technique(config, run)
    state = recipe_lib.build(config, run).init()
    _, args, log = tech.epoch_start(state, 1)
    assert not bool(args["gdas"]["active"]) and log["gdas_tau"] == 10.0
    assert args["gdas"]["order"].shape == (spe * config.train.batch_size,)
    bad = _gdas_config(tiny_config)
    bad.gdas.tau_min = 0.0
    with pytest.raises(ConfigError, match="tau"):
        gdas.technique(bad, run)


def test_search_cli_errors_are_one_line(tmp_path, capsys):
    from jaxnas import cli

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not a run")
    for argv in (["search", "--workdir", str(tmp_path / "missing")],
                 ["search", "--workdir", str(foreign)],
                 ["search", "--workdir", str(foreign), "--strategy", "gdas"]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("jaxnas: error:") and "\n" not in err
    (foreign / "config.json").write_text('{"something": "else"}')
    assert cli.main(["search", "--workdir", str(foreign)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("jaxnas: error:") and "\n" not in err


def test_combined_config_builds_and_incompatible_pairs_say_why():
    import itertools

    from jaxnas import config as config_lib
    from jaxnas.train import defaults, recipe as recipe_lib

    config = config_lib.load_config(
        __import__("pathlib").Path(__file__).parents[1] / "configs/nb201_combined.py:mini")
    assert config.search.strategy == "evolution"
    recipe_lib.from_config(config, data=False, steps_per_epoch=3)
    names = ("close", "landmark", "dynamic.calr", "dynamic.ms", "angle", "search.gdas")
    for pair in itertools.combinations(names, 2):  # old names keep working
        c = defaults.base_config(techniques=pair)
        c.supernet.update(dict(C=4, N=1))
        try:
            recipe_lib.from_config(c, data=False, steps_per_epoch=3)
        except ConfigError as e:
            message = str(e)
            assert "\n" not in message and any(n in message for n in pair), message
    with pytest.raises(ConfigError, match="gdas cannot combine with close: gdas needs the base "
                                          "forward, which close replaces"):
        c = defaults.base_config(techniques=("close", "search.gdas"))
        recipe_lib.from_config(c, data=False, steps_per_epoch=3)
