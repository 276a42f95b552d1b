"""Tests of supernet scoring on a tiny supernet (C=4, N=1, 8x8 images, batches of 16)."""

import functools
import json

import jax
import numpy as np
import pytest

from jaxnas.errors import ConfigError, DataError
from jaxnas.evaluate import cells, scoring
from jaxnas.evaluate.ranking import ranking_report
from jaxnas.spaces.nb201 import NUM_ARCHS, all_archs, canonical_indices, unique_indices
from jaxnas.supernet import nb201 as supernet
from jaxnas.supernet.pools import cell_sharing, vanilla_sharing

CFG = supernet.SupernetConfig(C=4, N=1)
BATCH = 16
ALL_NONE = np.zeros(6, np.int32)


def _random_params(rng):
    """Random parameters in `init`'s layout, built in numpy: `init` itself compiles one PRNG
    kernel per shape, which takes most of this file's time budget on two CPU cores."""
    return _random_params_cfg(rng, CFG)


def _random_params_cfg(rng, cfg):
    shapes = jax.eval_shape(functools.partial(supernet.init, cfg=cfg), jax.random.key(0))
    return jax.tree.map(lambda s: rng.uniform(-0.5, 0.5, s.shape).astype(np.float32), shapes)


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    params = _random_params(rng)
    images = rng.integers(0, 256, (3 * BATCH + 5, 8, 8, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, len(images)).astype(np.int32)
    return params, vanilla_sharing(CFG.N), images, labels


@pytest.fixture(scope="module")
def score_batch():
    return scoring.make_scorer(CFG, batch_size=BATCH)


def _score(setup, archs, num_batches=2):
    params, sharing, images, labels = setup
    return scoring.score_archs(params, archs, images, labels, cfg=CFG, sharing=sharing,
                               batch_size=BATCH, num_batches=num_batches, progress=False)


def test_scores_in_range_and_repeatable(setup):
    archs = all_archs()[[0, 1, 2, 0]]
    out = _score(setup, archs)
    assert out["acc"].shape == out["loss"].shape == (4,)
    assert np.all((out["acc"] >= 0) & (out["acc"] <= 100))
    assert np.all(np.isfinite(out["loss"])) and np.all(out["loss"] > 0)
    assert out["acc"][0] == out["acc"][3] and out["loss"][0] == out["loss"][3]
    again = _score(setup, archs[:1])
    assert again["acc"][0] == out["acc"][0] and again["loss"][0] == out["loss"][0]


def test_num_batches_sets_images_per_arch(setup):
    assert _score(setup, all_archs()[:1], num_batches=2)["images_per_arch"] == 2 * BATCH
    assert _score(setup, all_archs()[:1], num_batches=None)["images_per_arch"] == 3 * BATCH
    with pytest.raises(ConfigError):
        _score(setup, all_archs()[:1], num_batches=4)


def test_scorer_matches_score_archs_and_compiles_once(setup, score_batch):
    params, sharing, images, labels = setup
    archs = all_archs()[10:15]
    correct, loss = np.zeros(len(archs)), np.zeros(len(archs))
    for i, arch in enumerate(archs):
        for b in range(2):
            rows = slice(b * BATCH, (b + 1) * BATCH)
            c, s = score_batch(params, arch, sharing, images[rows], labels[rows])
            correct[i] += int(c)
            loss[i] += float(s)
    assert score_batch._cache_size() == 1
    scores = _score(setup, archs)
    np.testing.assert_allclose(100 * correct / (2 * BATCH), scores["acc"])
    np.testing.assert_allclose(loss / (2 * BATCH), scores["loss"], rtol=1e-5)
    with pytest.raises(DataError):
        score_batch(params, archs[0], sharing, images[:BATCH - 1], labels[:BATCH - 1])


def test_score_archs_compiles_once_per_shape(setup):
    _score(setup, all_archs()[20:25])
    before = scoring._group_scorer(CFG)._cache_size()
    _score(setup, all_archs()[30:35])  # 5 cells: the same group of 8 as above
    assert scoring._group_scorer(CFG)._cache_size() == before


def _grouped_vs_legacy(cfg, params, archs, sharing, images, labels, group_size):
    """Scores of the grouped path and of the legacy one-call-per-cell path, same inputs."""
    kwargs = dict(cfg=cfg, sharing=sharing, batch_size=BATCH, num_batches=2, progress=False)
    new = scoring.score_archs(params, archs, images, labels, group_size=group_size, **kwargs)
    old = scoring.score_archs(params, archs, images, labels, legacy=True, **kwargs)
    return new, old


def _assert_same_scores(new, old):
    """Accuracies within one image, mean losses within 1e-5 (float summation order differs)."""
    one_image = 100.0 / new["images_per_arch"]
    assert np.max(np.abs(new["acc"] - old["acc"])) <= one_image + 1e-9
    np.testing.assert_allclose(new["loss"], old["loss"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("n,group_size", [(1, 16), (2, 16), (1, 4)])
def test_grouped_scores_equal_legacy(setup, n, group_size):
    """Groups (stem and first-cell table shared, edge (3,2) carried over) score every cell as
    the per-cell path does: all values of edges (1,0), (2,1), (3,1), duplicates, dead edges,
    padded last groups, N=2 (stage 1's later cells run per cell), and groups too small for the
    table (only the stem shared)."""
    _, _, images, labels = setup
    cfg = supernet.SupernetConfig(C=4, N=n)
    params = jax.tree.map(np.asarray, _random_params_cfg(np.random.default_rng(n), cfg))
    rng = np.random.default_rng(1)
    grid = np.array([[a, 3, b, 2, c, 3] for a in range(5) for b in range(5) for c in (0, 3)])
    archs = np.concatenate([grid, rng.integers(0, 5, (30, 6)), grid[:3]]).astype(np.int32)
    new, old = _grouped_vs_legacy(cfg, params, archs, vanilla_sharing(n), images, labels,
                                  group_size)
    _assert_same_scores(new, old)


def test_grouped_scores_equal_legacy_per_cell_sharing(setup):
    """Per-cell sharing maps (CLOSE): only the stem is shared; scores equal the legacy path's."""
    params, _, images, labels = setup
    rng = np.random.default_rng(2)
    archs = rng.integers(0, 5, (9, 6)).astype(np.int32)
    archs[4] = archs[1]
    maps = np.stack([vanilla_sharing(1) if i % 2 else cell_sharing(1) for i in range(9)])
    new, old = _grouped_vs_legacy(CFG, params, archs, maps, images, labels, 4)
    _assert_same_scores(new, old)


def test_group_arrays_mark_fresh_last_edges():
    """A cell recomputes edge (3,2) of the first cell exactly when edges 0, 1, 2, 5 differ from
    the previous cell's; padding (-1) is marked invalid."""
    archs = np.array([[1, 2, 3, 4, 4, 2], [1, 2, 3, 0, 0, 2], [1, 2, 3, 0, 0, 3],
                      [0, 2, 3, 0, 0, 3]], np.int32)
    group = scoring._group_arrays(archs, np.array([0, 1, 2, 3, -1]))
    np.testing.assert_array_equal(group["fresh"], [True, False, True, True, False])
    np.testing.assert_array_equal(group["valid"], [True, True, True, True, False])
    order = scoring._group_order(archs[::-1])
    keys = archs[::-1][order][:, [0, 1, 2, 5]]
    assert all(tuple(a) <= tuple(b) for a, b in zip(keys[:-1], keys[1:]))


def test_disconnected_cell_is_a_constant_classifier(setup, score_batch):
    params, sharing, images, labels = setup
    # All predictions equal class k exactly when labels all equal to k are all correct.
    hits = [int(score_batch(params, ALL_NONE, sharing, images[:BATCH],
                            np.full(BATCH, k, np.int32))[0]) for k in range(CFG.num_classes)]
    assert sorted(hits) == [0] * (CFG.num_classes - 1) + [BATCH]
    constant = int(np.argmax(hits))
    acc = _score(setup, ALL_NONE[None])["acc"][0]
    assert acc == pytest.approx(100 * np.mean(labels[:2 * BATCH] == constant))


def test_pruned_dead_edges_score_identically(setup, score_batch):
    params, sharing, images, labels = setup
    archs = all_archs()
    pruned = scoring.prune_dead_edges(archs)
    assert len(np.unique(pruned, axis=0)) == 9445
    np.testing.assert_array_equal(scoring.prune_dead_edges(pruned), pruned)
    # none on 1<-0 zeroes node 1; none on 3<-2 kills node 2; a conv-rich live path stays.
    cases = np.array([[0, 3, 3, 3, 2, 3], [3, 3, 2, 3, 3, 0], [3, 0, 2, 1, 0, 4]], np.int32)
    expected = np.array([[0, 3, 0, 3, 0, 3], [3, 0, 0, 3, 3, 0], [3, 0, 2, 1, 0, 4]])
    np.testing.assert_array_equal(scoring.prune_dead_edges(cases), expected)
    for arch, kept in zip(cases, expected):
        args = (sharing, images[:BATCH], labels[:BATCH])
        assert [float(v) for v in score_batch(params, arch, *args)] == \
            [float(v) for v in score_batch(params, kept, *args)]


def test_bad_inputs_raise(setup):
    with pytest.raises(DataError):
        _score(setup[:2] + (setup[2].astype(np.float32), setup[3]), all_archs()[:1])


def test_evaluation_archs():
    first = scoring.evaluation_archs(200)
    assert first.shape == (200,) and np.all(np.diff(first) > 0)
    assert np.all(canonical_indices()[first] == first)
    np.testing.assert_array_equal(first, scoring.evaluation_archs(200, seed=0))
    assert not np.array_equal(first, scoring.evaluation_archs(200, seed=1))
    np.testing.assert_array_equal(scoring.evaluation_archs("unique"), unique_indices())
    np.testing.assert_array_equal(scoring.evaluation_archs("all"), np.arange(NUM_ARCHS))
    for bad in ("some", "200", 0, 6467, 2.5, True, None):
        with pytest.raises(ConfigError, match="evaluation archs"):
            scoring.evaluation_archs(bad)
    # Within a space: one member per isomorphism class, all inside; the full mask changes
    # nothing; more than the space holds gives all of its classes.
    full = np.ones((6, 5), bool)
    np.testing.assert_array_equal(scoring.evaluation_archs(200, mask=full), first)
    mask = full.copy()
    mask[:, 4] = False                    # no pooling: 4**6 cells
    classes = scoring.evaluation_archs("unique", mask=mask)
    assert np.all(mask[np.arange(6), all_archs()[classes]])
    assert np.unique(canonical_indices()[classes]).size == classes.size
    assert scoring.evaluation_archs("all", mask=mask).size == 4 ** 6
    np.testing.assert_array_equal(scoring.evaluation_archs(6466, mask=mask), classes)
    sample = scoring.evaluation_archs(50, seed=3, mask=mask)
    assert sample.size == 50 and np.isin(sample, classes).all()


def test_evaluate_report(setup):
    params, sharing, images, labels = setup
    indices = scoring.evaluation_archs(6, seed=3)
    truth = np.linspace(80.0, 94.0, NUM_ARCHS)
    report = cells.evaluate(params, cfg=CFG, sharing=sharing, images=images, labels=labels,
                              indices=indices, truth=truth, batch_size=BATCH, num_batches=2,
                              progress=False)
    metric_keys = set(ranking_report([1.0, 2.0], [2.0, 1.0]))
    extra = {"num_archs", "seconds", "images_per_arch", "archs_per_second", "indices",
             "supernet_acc", "supernet_loss"}
    assert metric_keys | extra <= set(report)
    assert report["num_archs"] == report["n"] == 6 and report["images_per_arch"] == 2 * BATCH
    assert report["indices"] == indices.tolist() and len(report["supernet_acc"]) == 6
    json.dumps(report)
    with pytest.raises(ConfigError):
        cells.evaluate(params, cfg=CFG, sharing=sharing, images=images, labels=labels,
                         indices=indices, truth=truth[:10], batch_size=BATCH, num_batches=2)
