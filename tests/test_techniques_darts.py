"""Techniques in the DARTS space: CaLR, momentum separation and landmark train a tiny epoch;
what DARTS cannot do refuses in one line (CLOSE: tests/test_close_darts.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas.errors import ConfigError
from jaxnas.optim.calr import calr_factor, decay_exponent
from jaxnas.optim.momentum_separation import group_traces
from jaxnas.spaces import DARTS


def _darts(tiny_with, techniques, **changes):
    """The tiny config in the DARTS space (C=4, 3 cells, 8x8 images) with `techniques`, one
    epoch."""
    return tiny_with(techniques, "darts", **{"train.epochs": 1, **changes})


def _epoch(recipe, state, epoch=1):
    """One epoch of the recipe's step over its train data; yields (before, after, metrics)."""
    state, step_args, log = recipe.epoch_start(state, epoch)
    x, y = recipe.run.train_data
    bs = 20
    for i in range(len(y) // bs):
        before = state
        state, metrics = recipe.train_step(state, x[i * bs:(i + 1) * bs],
                                           y[i * bs:(i + 1) * bs], step_args)
        yield before, state, metrics, log


def test_complexity_bounds_are_the_extreme_genotypes():
    """CaLR's extremes in DARTS: pools only (cheapest), sep_conv_5x5 on every used edge."""
    from jaxnas.supernet import darts

    cfg = darts.SupernetConfig(C=4, layers=3)
    arch = DARTS.sample_np(np.random.default_rng(0))
    lo, hi = np.where(arch > 0, 1, 0), np.where(arch > 0, 5, 0)
    got = DARTS.complexity(cfg, 16)(jnp.asarray(np.stack([lo, hi])))
    bounds = DARTS.complexity_bounds(cfg, 16)
    for kind in ("flops", "num_params"):
        np.testing.assert_allclose(got[kind], bounds[kind], rtol=1e-6)
        many = DARTS.complexity(cfg, 16)(jnp.asarray(DARTS.sample_np(np.random.default_rng(1),
                                                                     500)))[kind]
        assert bounds[kind][0] < float(many.min()) and float(many.max()) < bounds[kind][1]


def _sampled(state, step_args):
    """The genotype the base step draws from `state` (as `jaxnas.train.step` does)."""
    key = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
    return np.asarray(DARTS.sample(jax.random.split(key, 4)[0], step_args["mask"]))


@pytest.mark.parametrize("key, value, words", [
    ("ms.num_groups", 5, "7 groups in the darts space"),
    ("ms.edge", 3, "(0, 1, 14, 15)"),
    ("ms.rule", "complexity", "not enumerable"),
])
def test_ms_refuses_what_darts_cannot_group(tiny_with, key, value, words):
    from jaxnas.train import recipe as recipe_lib

    changes = {"ms.num_groups": 7, "ms.edge": 0, key: value}
    config = _darts(tiny_with, ("ms",), **changes)
    with pytest.raises(ConfigError, match="ms\\.") as err:
        recipe_lib.from_config(config, data=False, steps_per_epoch=3)
    assert words in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("techniques, sampler, words", [
    ((), "unique_conv", "NB201's"),
    (("close",), "unique_conv", "NB201's"),  # close itself is ported (tests/test_close_darts.py)
])
def test_unported_techniques_refuse_in_one_line(techniques, sampler, words):
    from jaxnas.train import defaults, rules

    config = defaults.darts_scale(defaults.base_config(techniques=techniques))
    config.sampler = sampler
    with pytest.raises(ConfigError) as err:
        rules.check(config, paths=False)
    assert words in str(err.value) and "\n" not in str(err.value)


def _standalone_table(path, archs, accs):
    """A stand-alone run's `table.csv` (its own writer and columns) for DARTS genotypes."""
    from jaxnas.evaluate import groundtruth

    rows = [{c: None for c in groundtruth.STANDALONE_COLUMNS} | {
        "arch": DARTS.to_str(a), "valid_acc": float(acc), "test_acc": float(acc) - 1.0,
        "train_acc": 50.0, "train_loss": 1.0, "valid_loss": 1.0, "test_loss": 1.0,
        "params": 0.1, "flops": 1.0, "epochs": 1, "seed": 0, "scale": "tiny"}
        for a, acc in zip(archs, accs)]
    groundtruth.write_standalone_table(rows, path)
    return path


def test_calr_ms_landmark_train_a_tiny_darts_epoch(tiny_with, tmp_path):
    """One tiny DARTS epoch of CaLR + MS + landmark (one run, one compilation):

    * MS on edge 14 (the reduction cell's node-2 input 0, used by every genotype): each step
      touches only the momentum group of its genotype's op there;
    * CaLR: each step moves the weights by lr0 * (1 - t/T) ** gamma(its DARTS parameter count)
      times that group's trace;
    * landmark, from a table genotype -> accuracy (a stand-alone table.csv): the set holds the
      table's genotypes in ascending accuracy, the term is on in every step, and evaluation sets
      drop the landmarks by their Genotype text;
    * the base's data-free angle metric (AngleNAS's DARTS vector): 0 at the initial weights,
      positive after the epoch."""
    from jaxnas.evaluate.cells import arch_table_ranking
    from jaxnas.evaluate.groundtruth import read_arch_table
    from jaxnas.techniques import landmark as L
    from jaxnas.techniques.calr import complexity_fn
    from jaxnas.train import recipe as recipe_lib

    table_archs = DARTS.sample_np(np.random.default_rng(3), 6)
    accs = [71.5, 60.25, 80.0, 55.0, 90.5, 66.0]
    table = _standalone_table(tmp_path / "table.csv", table_archs, accs)
    config = _darts(tiny_with, ("calr", "ms", "landmark"), **{
        "ms.edge": 14, "ms.num_groups": 7,
        "landmark.table": str(table), "landmark.num": 4, "landmark.warmup_epochs": 0,
        "landmark.schedule": "constant", "landmark.coef": 1.0, "landmark.loss": "softplus",
        "landmark.eval_reserve": 8, "landmark.batch_size": 8})
    r = recipe_lib.from_config(config)
    arch_c, c_min, c_max = complexity_fn("num_params", DARTS, r.run.net_cfg, 8)
    assert (c_min, c_max) == DARTS.complexity_bounds(r.run.net_cfg, 8)["num_params"]
    assert float(r.schedule(1)) == pytest.approx(0.025)  # the cosine is replaced
    initial = r.init()
    lm = initial.extra["landmark"]
    assert lm.archs.shape == (4, 28) and int(lm.count) == 4
    keys = L.indices_of(lm, DARTS)
    by_text = {DARTS.to_str(a): acc for a, acc in zip(table_archs, accs)}
    assert [by_text[k] for k in keys] == sorted(by_text[k] for k in keys)  # ascending accuracy
    np.testing.assert_array_equal(np.asarray(lm.archs), np.stack([DARTS.from_str(k)
                                                                   for k in keys]))
    state = jax.tree.map(jnp.array, initial)  # a copy on the device (the step donates it)
    state, step_args, log = r.epoch_start(state, 1)
    assert log["ms_edge"] == 14 and log["landmarks"] == 4 and log["landmark_coef"] == 1.0
    x, y = r.run.train_data
    for i in range(r.run.steps_per_epoch):
        before = jax.tree.map(np.array, state)  # the step donates its input state
        arch = _sampled(state, step_args)
        state, metrics = r.train_step(state, x[i * 20:(i + 1) * 20], y[i * 20:(i + 1) * 20],
                                      step_args)
        assert 0.0 < float(metrics["loss_landmark"]) < np.inf  # softplus: never exactly 0
        t0 = jax.tree.leaves(group_traces(before.opt_state["momentum"]))
        t1 = jax.tree.leaves(group_traces(state.opt_state["momentum"]))
        changed = [g for g in range(7) if any(not np.array_equal(a[g], b[g])
                                              for a, b in zip(t0, t1))]
        group = int(arch[14]) - 1  # ops 1..7 (never none on a node-2 edge) -> groups 0..6
        assert changed == [group]
        gamma = decay_exponent(arch_c(jnp.asarray(arch)), c_min, c_max, 4.0)
        factor = float(calr_factor(int(before.step), r.run.total_steps, gamma))
        p0, p1 = jax.tree.leaves(before.params), jax.tree.leaves(state.params)
        for a, b, trace in zip(p0, p1, t1):
            np.testing.assert_allclose(b - a, -0.025 * factor * trace[group], rtol=1e-4,
                                       atol=1e-7)
    assert factor < 1.0 and r.train_step._cache_size() == 1
    assert sorted(r.exclude(state).tolist()) == sorted(keys.tolist())
    ranked = arch_table_ranking(lambda s, a, m: np.arange(len(a), dtype=float), state,
                                read_arch_table(table, DARTS), exclude=r.exclude(state))
    assert ranked["num_archs"] == 2 and ranked["excluded"] == 4  # the landmarks left out
    assert not set(ranked["archs_text"]) & set(keys.tolist())
    archs = DARTS.sample_np(np.random.default_rng(2), 6)
    assert (r.run.score(initial, archs, "angle") == 0).all()
    assert (r.run.score(state, archs, "angle") > 0).all()


@pytest.mark.parametrize("changes, words", [
    ({}, "'landmark.table'"),                                   # the packaged NB201 table
    ({"landmark.table": "t.npz"}, "'landmark.table'"),
])
def test_landmark_without_a_darts_table_refuses_in_one_line(changes, words):
    from jaxnas.train import defaults, rules

    config = defaults.darts_scale(defaults.base_config(techniques=("landmark",)))
    for key, value in changes.items():
        block, leaf = key.split(".")
        config[block][leaf] = value
    with pytest.raises(ConfigError) as err:
        rules.check(config, paths=False)
    assert words in str(err.value) and "W/table.csv" in str(err.value)
    assert "\n" not in str(err.value)


def test_landmark_table_reads_darts_genotype_text(tmp_path):
    """Keys are canonical Genotype text (a node's inputs in either order are one key); NB201's
    index column is ignored in DARTS; the Hamming walk and bad rows refuse in one line."""
    from jaxnas.errors import GroundTruthError
    from jaxnas.techniques import landmark as L

    archs = DARTS.sample_np(np.random.default_rng(0), 3)
    from jaxnas.spaces import darts

    geno = darts.to_genotype(archs[0])
    geno["normal"][:2] = geno["normal"][1::-1]  # node 2's inputs in the other order
    swapped = (f"Genotype(normal={geno['normal']}, normal_concat=[2, 3, 4, 5], "
               f"reduce={geno['reduce']}, reduce_concat=[2, 3, 4, 5])")
    assert swapped != DARTS.to_str(archs[0])
    g = DARTS.from_str(swapped)
    table = L.read_table(_standalone_table(tmp_path / "t.csv", archs, [1.0, 2.0, 3.0]),
                         space=DARTS)
    assert table.indices.dtype.kind == "U" and table.lookup([text for text in table.indices
                                                            if text != swapped])[0] >= 1.0
    assert swapped not in table.indices and np.isnan(table.lookup([swapped])[0])
    both = L.read_table({swapped: 1.0, DARTS.to_str(archs[1]): 2.0}, space=DARTS)
    assert both.lookup(L.keys_of(archs[:2], DARTS)).tolist() == [1.0, 2.0]
    np.testing.assert_array_equal(L.archs_of(table.indices, DARTS)[np.argsort(table.acc)],
                                  DARTS.canonical(archs))
    assert np.array_equal(g, archs[0])
    with pytest.raises(ConfigError, match="diverse"):
        L.select(table, 2, "diverse", space=DARTS)
    with pytest.raises(GroundTruthError, match="bad architecture"):
        L.read_table({"Genotype(normal=[])": 1.0}, space=DARTS)
    with pytest.raises(GroundTruthError, match="bad architecture"):
        L.read_table({"12": 1.0}, space=DARTS)  # no official indices in DARTS


def test_darts_config_landmark_variant_needs_and_takes_a_table(tmp_path):
    """`configs/darts_spos.py:mini,landmark`: refused in one line until `landmark.table` names a
    genotype table, then it builds (the set: the table's genotypes)."""
    from pathlib import Path

    from jaxnas.config import load_config
    from jaxnas.train import recipe as recipe_lib

    path = Path(__file__).parents[1] / "configs" / "darts_spos.py"
    config = load_config(path, "mini,landmark,calr")
    with pytest.raises(ConfigError, match="'landmark.table' is ''"):
        recipe_lib.from_config(config, data=False, steps_per_epoch=4)
    archs = DARTS.sample_np(np.random.default_rng(5), 40)
    config.landmark.table = str(_standalone_table(tmp_path / "table.csv", archs,
                                                  np.linspace(50, 90, 40)))
    r = recipe_lib.from_config(config, data=False, steps_per_epoch=4)
    assert [t.name for t in r.techniques] == ["calr", "landmark"]
    landmark = r.techniques[1].init_state(None, None)  # the set alone: no supernet init
    assert landmark.archs.shape == (30, 28) and int(landmark.count) == 30


def test_fairnas_in_darts_is_fair_on_one_topology():
    """7 genotypes per step on one topology: every used edge takes each non-none op once,
    unused edges stay none; under a mask the allowed ops are balanced; a tied edge (MS) holds
    one op in all 7."""
    from jaxnas.train import samplers

    sample = samplers.make("fairnas", DARTS)
    assert sample.num_paths == 7
    mask = DARTS.full_mask()
    mask[5, 4:] = False  # edge 5 (node 4's input 0): ops 1..3 only, when used
    draw = jax.jit(lambda k, tied: sample(k, {"mask": jnp.asarray(mask), "tied_edge": tied}))
    used_5 = 0
    for k in range(12):
        archs = np.asarray(draw(jax.random.key(k), jnp.int32(-1)))
        DARTS.check(archs)  # every path is a genotype
        assert DARTS.allowed(archs, mask).all()
        used = archs[0] > 0
        assert ((archs > 0) == used).all()  # one topology
        for e in np.flatnonzero(used):
            counts = np.bincount(archs[:, e], minlength=8)[1:]
            allowed = mask[e, 1:]
            assert counts[~allowed].sum() == 0
            assert counts[allowed].max() - counts[allowed].min() <= 1 and counts.sum() == 7
        used_5 += bool(used[5])
        tied = np.asarray(draw(jax.random.key(k), jnp.int32(14)))
        assert len(set(tied[:, 14].tolist())) == 1 and tied[0, 14] > 0
    assert 0 < used_5 < 12  # the topology changes between steps


@pytest.mark.slow  # ~20 s of compiling; the sampler's fairness is tested above without it
def test_fairnas_calr_ms_train_a_tiny_darts_epoch(tiny_with):
    """FairNAS (7 paths, scanned) + CaLR (loss weights) + MS on edge 0: the paths share the op
    of edge 0, so each step touches one momentum group; one compilation."""
    from jaxnas.train import recipe as recipe_lib

    config = _darts(tiny_with, ("calr", "ms"), sampler="fairnas", **{
        "ms.edge": 0, "ms.num_groups": 7, "train.path_loop": "scan", "optim.clip": None})
    r = recipe_lib.from_config(config)
    assert r.run.paths_per_step == 7
    state, step_args, log = r.epoch_start(r.init(), 1)
    assert int(step_args["tied_edge"]) == 0
    x, y = r.run.train_data
    for i in range(r.run.steps_per_epoch):
        before = jax.tree.leaves(group_traces(state.opt_state["momentum"]))
        before = [np.array(t) for t in before]
        state, metrics = r.train_step(state, x[i * 20:(i + 1) * 20], y[i * 20:(i + 1) * 20],
                                      step_args)
        assert np.isfinite(float(metrics["loss"]))
        after = jax.tree.leaves(group_traces(state.opt_state["momentum"]))
        changed = [g for g in range(7)
                   if any(not np.array_equal(a[g], b[g]) for a, b in zip(before, after))]
        assert len(changed) == 1
    assert r.train_step._cache_size() == 1
