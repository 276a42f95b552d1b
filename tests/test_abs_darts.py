"""ABS in the DARTS space: sampled operator scores, drop rules that keep every node two usable
inputs, NB201's rule unchanged, and a tiny DARTS run that shrinks its space."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas.errors import ArchError, ConfigError
from jaxnas.spaces import DARTS, NB201
from jaxnas.spaces import darts as D
from jaxnas.spaces import nb201 as NB
from jaxnas.techniques.abs import sampled as P
from jaxnas.techniques.abs import shrink as S


def _darts(tiny_with, **changes):
    """The tiny config in the DARTS space (C=4, 3 cells, 8x8 images) with abs."""
    return tiny_with(("abs",), "darts", **changes)


def _random_mask(rng, steps=60):
    """A valid DARTS mask: the whole space with random ops removed while it stays valid."""
    mask = DARTS.full_mask()
    for _ in range(steps):
        e, o = rng.integers(D.ARCH_LEN), rng.integers(D.NUM_OPS)
        mask[e, o] = False
        try:
            DARTS.check_mask(mask)
        except ArchError:
            mask[e, o] = True
    return mask


# --------------------------------------------------------------------------- drop rules


def _reference_drop(scores, mask, num):
    """NB201's drop rule as written before the DARTS port (commit dcd8fcd), verbatim logic."""
    mask = NB.check_mask(np.asarray(mask, bool)).copy()
    scores = np.where(np.isnan(scores), np.inf, np.asarray(scores, np.float64))
    cands = [(e, o) for e in range(NB.NUM_EDGES) if mask[e].sum() > 1
             for o in np.flatnonzero(mask[e])]
    order = sorted(cands, key=lambda c: scores[c])
    dropped = []
    for i, (e, o) in enumerate(order):
        if len(dropped) >= num:
            break
        if any(e2 == e for e2, _ in order[i + 1:]):
            mask[e, o] = False
            dropped.append((int(e), int(o)))
    return mask, dropped


def test_nb201_drop_rule_and_scores_are_unchanged():
    """Over random NB201 masks, scores (ties and NaNs included) and drop counts, the shared
    rule gives the old rule's mask and drop order; operator scores are exhaustive means."""
    rng = np.random.default_rng(0)
    archs = NB.all_archs()
    for trial in range(300):
        mask = rng.random((6, 5)) < 0.7
        mask[np.arange(6), rng.integers(5, size=6)] = True
        scores = rng.integers(0, 4, (6, 5)).astype(float) if trial % 3 else rng.random((6, 5))
        scores[rng.random((6, 5)) < 0.1] = np.nan
        num = int(rng.integers(0, 31))
        got, want = S.drop_operators(scores, mask, num), _reference_drop(scores, mask, num)
        assert np.array_equal(got[0], want[0]) and got[1] == want[1]
    assert S.describe([(0, 0), (5, 4)]) == "1<-0:none 3<-2:avg_pool_3x3"
    values = rng.random(len(archs))
    scores = S.operator_scores(archs, values, NB201.full_mask())
    assert scores[2, 3] == pytest.approx(values[archs[:, 2] == 3].mean())


@pytest.mark.parametrize("rule", S.RULES)
def test_darts_drops_keep_every_node_a_genotype(rule):
    """Property over random masks and scores (NaN, ties): the new mask is valid, inside the old,
    keeps each edge's best-ranked op, drops at most `num` (per_edge: one per edge), and every
    drop that was skipped would have left some node without a genotype."""
    rng = np.random.default_rng(1)
    for trial in range(60):
        mask = _random_mask(rng, steps=int(rng.integers(0, 200)))
        scores = rng.random(mask.shape) if trial % 2 else rng.integers(0, 3, mask.shape) * 1.0
        scores[rng.random(mask.shape) < 0.05] = np.nan
        num = int(rng.integers(0, 120))
        new, dropped = S.drop_operators(scores, mask, num, space=DARTS, rule=rule)
        DARTS.check_mask(new)
        assert not (new & ~mask).any() and len(dropped) <= num
        assert (mask & ~new).sum() == len(dropped) == len(set(dropped))
        ranked = np.where(np.isnan(scores), np.inf, scores)
        for e in np.flatnonzero(mask.sum(1) > 1):
            ops = np.flatnonzero(mask[e])
            best = ops[np.argsort(ranked[e, ops], kind="stable")[-1]]
            assert new[e, best], (trial, e)
        if rule == "per_edge":
            edges = [e for e, _ in dropped]
            assert len(edges) == len(set(edges)) and edges == sorted(edges)
        if len(dropped) < num and rule == "lowest":  # every op left but an edge's best is stuck
            for e in np.flatnonzero(new.sum(1) > 1):
                for o in np.flatnonzero(new[e]):
                    trial_mask = new.copy()
                    trial_mask[e, o] = False
                    ops = np.flatnonzero(mask[e])
                    best = ops[np.argsort(ranked[e, ops], kind="stable")[-1]]
                    if o != best and trial_mask[e].any():
                        with pytest.raises(ArchError):
                            DARTS.check_mask(trial_mask)
    assert S.describe([(0, 0), (27, 4)], DARTS) == "normal:2<-0:none reduce:5<-4:sep_conv_3x3"


def test_sampled_genotypes_contain_each_operator_and_lie_in_the_space():
    """Every drawn genotype is valid and allowed; each operator of an edge with a choice (and a
    genotype holding it) is in at least one; the draw is seeded; an operator's score is the mean
    over the pool's genotypes containing it."""
    mask = _random_mask(np.random.default_rng(2), steps=120)
    archs = P.containing(DARTS, mask, 6, jax.random.key(0))
    DARTS.check(archs)
    assert DARTS.allowed(archs, mask).all() and len(np.unique(archs, axis=0)) == len(archs)
    _, ok = P.restricted_masks(DARTS, mask)
    present = np.zeros(mask.shape, bool)
    present[np.arange(D.ARCH_LEN)[None].repeat(len(archs), 0), archs] = True
    assert present.reshape(-1)[ok].all()
    assert ok.sum() > 50  # the mask still has choices
    again = P.containing(DARTS, mask, 6, jax.random.key(0))
    assert np.array_equal(archs, again)
    assert not np.array_equal(archs, P.containing(DARTS, mask, 6, jax.random.key(1)))
    values = np.random.default_rng(3).random(len(archs))
    scores = S.operator_scores(archs, values, mask)
    e, o = 20, int(archs[0, 20])
    assert scores[e, o] == pytest.approx(values[archs[:, e] == o].mean())
    single = DARTS.full_mask()
    single[:, 2:] = False  # none or max_pool_3x3 on every edge
    ok = P.restricted_masks(DARTS, single)[1].reshape(28, 8)
    node2 = [0, 1, 14, 15]  # node 2 reads both its edges: none is in no genotype there
    assert ok[node2, 1].all() and not ok[node2, 0].any() and ok[2:14, :2].all()


# --------------------------------------------------------------------------- the technique


@pytest.mark.parametrize("changes, words", [
    ({"abs.shrink.drop_rule": "highest"}, "abs.shrink.drop_rule"),
    ({"abs.shrink.samples_per_op": 0}, "abs.shrink.samples_per_op"),
    ({"abs.shrink.sample_seed": -1}, "abs.shrink.sample_seed"),
    ({"abs.shrink.metric": "magnitude", "abs.magnitude.train": True}, "magnitude baseline"),
    ({"abs.magnitude.train": True}, "magnitude baseline"),
])
def test_bad_settings_refuse_in_one_line(tiny_with, changes, words):
    from jaxnas.train import recipe as recipe_lib

    config = _darts(tiny_with, **changes)
    with pytest.raises(ConfigError) as err:
        recipe_lib.from_config(config, data=False, steps_per_epoch=3)
    assert words in str(err.value) and "\n" not in str(err.value)


def _sampled(state, step_args):
    """The genotype the base step draws from `state` (as `jaxnas.train.step` does)."""
    key = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
    return np.asarray(DARTS.sample(jax.random.split(key, 4)[0], step_args["mask"]))


def test_epoch_start_shrinks_on_schedule_without_training(tiny_with):
    """The technique's hook alone (no train step compiled): nothing before `start_epoch`, one
    valid shrink (the lowest rule, `drop_per_step` ops) when due, none again in that epoch."""
    from jaxnas.train import recipe as recipe_lib

    config = _darts(tiny_with, **{
        "train.epochs": 4, "abs.shrink.start_epoch": 2, "abs.shrink.drop_per_step": 40,
        "abs.shrink.samples_per_op": 4})
    r = recipe_lib.from_config(config, data=False, steps_per_epoch=3)
    state = r.init()
    for epoch in (1, 2):
        state, args, log = r.epoch_start(state, epoch)
        assert np.asarray(args["mask"]).all() and "angle_dropped" not in log
    state, args, log = r.epoch_start(state, 3)
    mask = np.asarray(args["mask"])
    DARTS.check_mask(mask)
    assert mask.sum() == 28 * 8 - 40 and len(log["angle_dropped"].split()) == 40
    assert log["angle_space_size"] == DARTS.mask_size(mask)
    again, args, log = r.epoch_start(state, 3)
    assert np.array_equal(np.asarray(args["mask"]), mask) and "angle_dropped" not in log
    state, args, log = r.epoch_start(again, 4)  # num_steps=1: the schedule is done
    assert np.array_equal(np.asarray(args["mask"]), mask) and "angle_dropped" not in log


@pytest.mark.slow  # ~65 s on 2 shared cores (a DARTS step compiled, 2 epochs trained)
def test_abs_shrinks_a_tiny_darts_run(tiny_with, tmp_path):
    """Angle shrinking with AngleNAS's per-edge rule at the start of epoch 2 of a tiny run: the
    logged mask shrinks by one op per edge and the checkpoint keeps it (a resumed epoch does not
    shrink again); in a fresh run of the same recipe every genotype the step draws lies in the
    epoch's mask, with one compilation for the whole and the shrunk space."""
    from jaxnas.train import loop, recipe as recipe_lib
    from jaxnas.train.open_run import restore_latest

    config = _darts(tiny_with, **{
        "train.epochs": 2, "abs.shrink.start_epoch": 1, "abs.shrink.num_steps": 2,
        "abs.shrink.drop_per_step": 28, "abs.shrink.drop_rule": "per_edge",
        "abs.shrink.samples_per_op": 8})
    loop.train(config, tmp_path, progress=False)
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert lines[0]["angle_space_size"] == DARTS.mask_size(DARTS.full_mask())
    assert "angle_dropped" not in lines[0] and lines[1]["angle_space_size"] < 1e17
    assert len(lines[1]["angle_dropped"].split()) == 28  # one per edge
    r = recipe_lib.from_config(config)
    restored = restore_latest(tmp_path, r)
    mask = np.asarray(restored.space)
    assert DARTS.mask_to_str(mask) == lines[1]["angle_space"] and (mask.sum(1) == 7).all()
    assert int(restored.extra["abs"]["shrinks"]) == 1
    _, args, log = r.epoch_start(restored, 2)  # a resume inside epoch 2
    assert "angle_dropped" not in log and np.array_equal(np.asarray(args["mask"]), mask)

    state = jax.tree.map(jnp.array, r.init())  # a copy on the device (the step donates it)
    x, y = r.run.train_data
    for epoch in (1, 2):
        state, step_args, log = r.epoch_start(state, epoch)
        mask = np.asarray(step_args["mask"])
        assert (mask.sum() == 28 * 8) == (epoch == 1) and ("angle_dropped" in log) == (epoch == 2)
        for i in range(2):
            arch = _sampled(state, step_args)
            DARTS.check(arch, batched=False)
            assert DARTS.allowed(arch[None], mask).all()
            state, metrics = r.train_step(state, x[i * 20:(i + 1) * 20], y[i * 20:(i + 1) * 20],
                                          step_args)
            assert np.isfinite(float(metrics["loss"]))
    assert r.train_step._cache_size() == 1
    angles = r.run.score(state, DARTS.sample_np(np.random.default_rng(0), 4, mask=mask), "angle")
    assert (angles > 0).all()


@pytest.mark.slow  # ~25 s: compiles the DARTS supernet's scoring forward
def test_accuracy_metric_shrinks_darts(tiny_with):
    """The accuracy baseline scores `acc_num_archs` genotypes of the sampled pool on one held-out
    batch; the shrunk mask stays valid."""
    from jaxnas.train import recipe as recipe_lib

    config = _darts(tiny_with, **{
        "train.epochs": 2, "abs.shrink.start_epoch": 1, "abs.shrink.metric": "accuracy",
        "abs.shrink.acc_num_archs": 8, "abs.shrink.acc_batch_size": 10,
        "abs.shrink.samples_per_op": 2})
    r = recipe_lib.from_config(config)
    state, args, log = r.epoch_start(r.init(), 2)
    mask = np.asarray(args["mask"])
    DARTS.check_mask(mask)
    assert mask.sum() == 28 * 8 - 20 and len(log["angle_dropped"].split()) == 20
