"""Tests of jaxnas.evaluate.ranking against scipy and brute-force definitions."""

import itertools
import math
import warnings

import numpy as np
import pytest
from scipy import stats

from jaxnas.evaluate import ranking


def brute_tau_b(x, y) -> float:
    """Kendall tau-b by counting all pairs."""
    concordant = discordant = ties_x = ties_y = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
        ties_x += dx == 0
        ties_y += dy == 0
        if dx * dy > 0:
            concordant += 1
        elif dx * dy < 0:
            discordant += 1
    n0 = len(x) * (len(x) - 1) // 2
    denominator = math.sqrt((n0 - ties_x) * (n0 - ties_y))
    return (concordant - discordant) / denominator if denominator else float("nan")


def reference_sparse_tau(pred, truth, threshold=1e-3) -> float:
    """Literal transcription of nas-landmarkreg `compute_sparse_rank_metric` (kendalltau)."""
    ids = list(range(len(pred)))
    pred = [p * 1e-2 for p in pred] if 1 < np.average(pred) < 100 else list(pred)
    truth = [p * 1e-2 for p in truth] if 1 < np.average(truth) < 100 else list(truth)
    s_ids = [ids[i] for i in np.argsort(pred)]
    g_order = np.argsort(truth)
    g_ids, s_gt = [ids[i] for i in g_order], [truth[i] for i in g_order]
    multiplier = 1 / threshold
    new_ranks, rank_map, c_perf, c_rank = [], {}, 0.0, -1
    for r, p in zip(g_ids, s_gt, strict=True):
        if p * multiplier // 1 > c_perf * multiplier // 1:
            c_rank += 1
        rank_map[r] = c_rank
        new_ranks.append(c_rank)
        c_perf = p
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.kendalltau(new_ranks, [rank_map[i] for i in s_ids]).statistic)


def scipy_quiet(fn, x, y) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(fn(x, y).statistic)


def tied_samples(seed=0, trials=300):
    """Small integer arrays with many ties, including constant ones."""
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        n = int(rng.integers(2, 12))
        high_x, high_y = rng.integers(1, 4, size=2)
        yield rng.integers(0, high_x, n), rng.integers(0, high_y, n)
    yield np.zeros(5), np.arange(5)
    yield np.arange(5), np.ones(5)
    yield np.ones(3), np.ones(3)


def assert_same(a, b):
    assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-12)


def test_kendall_tau_matches_brute_force_and_scipy():
    for pred, truth in tied_samples():
        got = ranking.kendall_tau(pred, truth)
        assert isinstance(got, float)
        assert_same(got, brute_tau_b(pred, truth))
        assert_same(got, scipy_quiet(stats.kendalltau, pred, truth))


def test_spearman_matches_scipy():
    for pred, truth in tied_samples(seed=1):
        assert_same(ranking.spearman_rho(pred, truth), scipy_quiet(stats.spearmanr, pred, truth))


def test_sparse_tau_matches_reference_code():
    rng = np.random.default_rng(2)
    for _ in range(200):
        n = int(rng.integers(2, 40))
        truth = np.round(rng.uniform(85.0, 86.0, n), int(rng.integers(1, 4)))
        pred = rng.permutation(n).astype(float)
        for bin_size, threshold in ((0.1, 1e-3), (1.0, 1e-2)):
            got = ranking.sparse_kendall_tau(pred, truth, bin_size=bin_size)
            assert_same(got, reference_sparse_tau(pred, truth, threshold))


def test_sparse_tau_ties_near_equal_accuracies():
    truth = np.array([91.01, 91.05, 92.0])
    pred = np.array([2.0, 1.0, 3.0])
    assert ranking.kendall_tau(pred, truth) == pytest.approx(1 / 3)
    assert ranking.sparse_kendall_tau(pred, truth) == pytest.approx(1.0)
    assert ranking.sparse_kendall_tau(pred, truth / 100) == pytest.approx(1.0)


def test_sparse_tau_truncates_not_rounds():
    bins = ranking.accuracy_bins(np.array([93.41, 93.49, 93.39, 93.51]))
    assert bins[0] == bins[1] and bins[0] != bins[2] and bins[1] == bins[3] - 1
    # Rounding to 0.1 would tie 93.41 with 93.39 and split it from 93.49.
    assert ranking.sparse_kendall_tau([1.0, 2.0], [93.41, 93.49]) != ranking.sparse_kendall_tau(
        [1.0, 2.0], [93.39, 93.41]
    )


def test_sparse_tau_pairs_positions_not_architectures():
    # Same bins, different result from tau-b(pred, bins): the authors' definition.
    truth = np.array([90.01, 90.02, 91.0, 92.0])
    pred = np.array([3.0, 0.0, 1.0, 2.0])
    bins = ranking.accuracy_bins(truth)
    expected = reference_sparse_tau(pred, truth)
    assert ranking.sparse_kendall_tau(pred, truth) == pytest.approx(expected)
    assert ranking.sparse_kendall_tau(pred, truth) != pytest.approx(ranking.kendall_tau(pred, bins))


def test_sparse_tau_all_in_one_bin_is_nan():
    assert math.isnan(ranking.sparse_kendall_tau([1.0, 2.0, 3.0], [90.01, 90.05, 90.09]))


def test_precision_at_top_hand_examples():
    truth = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    assert ranking.precision_at_top(truth, truth, 0.3) == 1.0
    assert ranking.precision_at_top(-truth, truth, 0.3) == 0.0
    pred = np.array([9, 0, 0, 0, 0, 0, 0, 10, 0, 1.0])  # top-3: indices 7, 0, 9
    assert ranking.precision_at_top(pred, truth, 0.3) == pytest.approx(2 / 3)
    assert ranking.precision_at_top(pred, truth, 0.01) == 0.0  # K = 1: index 7 vs index 9


def test_precision_at_top_breaks_ties_by_index():
    pred = np.zeros(4)
    truth = np.array([1.0, 3.0, 2.0, 0.0])  # true top-2: indices 1, 2
    assert ranking.precision_at_top(pred, truth, 0.5) == 0.5  # pred top-2: indices 0, 1
    assert ranking.precision_at_top(truth, pred, 0.5) == 0.5


def test_top_k_convention():
    assert ranking.top_k(200, 0.05) == 10
    assert ranking.top_k(15625, 0.05) == 781  # floor, like aw_nas int(n * ratio)
    assert ranking.top_k(10, 0.01) == 1
    assert ranking.top_k(100, 0.29) == 29  # int(0.29 * 100) would give 28
    for frac in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="top fraction"):
            ranking.top_k(10, frac)


def test_top1_true_rank():
    truth = np.array([5.0, 9.0, 7.0, 9.0])
    assert ranking.top1_true_rank([0, 1, 2, 3], truth) == 1
    assert ranking.top1_true_rank([3, 1, 2, 0], truth) == 4
    assert ranking.top1_true_rank([0, 1, 2, 0], truth) == 3
    assert ranking.top1_true_rank([0, 1, 0, 2], truth) == 1  # truth tie: shares the best rank
    assert ranking.top1_true_rank([2, 0, 2, 0], truth) == 4  # pred tie: first index
    assert isinstance(ranking.top1_true_rank([0, 1], [1, 2]), int)


def test_ranking_report():
    rng = np.random.default_rng(3)
    truth = rng.uniform(80, 92, 200)
    pred = truth + rng.normal(0, 2, 200)
    report = ranking.ranking_report(pred, truth)
    assert list(report) == [
        "kendall_tau", "sparse_kendall_tau", "spearman_rho",
        "p_at_top_5", "p_at_top_10", "top1_true_rank", "n",
    ]
    assert report["n"] == 200
    assert report["kendall_tau"] == ranking.kendall_tau(pred, truth)
    assert report["p_at_top_10"] == ranking.precision_at_top(pred, truth, 0.1)
    assert "p_at_top_0.5" in ranking.ranking_report(pred, truth, top_fracs=(0.005,))


@pytest.mark.parametrize(
    "pred, truth, message",
    [
        ([1.0, 2.0], [1.0, 2.0, 3.0], "differ in length"),
        ([1.0], [1.0], "at least 2"),
        ([[1.0, 2.0]], [[1.0, 2.0]], "1-D"),
        ([1.0, float("nan")], [1.0, 2.0], "NaN"),
    ],
)
def test_bad_input(pred, truth, message):
    for fn in (ranking.kendall_tau, ranking.sparse_kendall_tau, ranking.spearman_rho,
               ranking.top1_true_rank, ranking.ranking_report):
        with pytest.raises(ValueError, match=message):
            fn(pred, truth)
    with pytest.raises(ValueError, match=message):
        ranking.precision_at_top(pred, truth, 0.5)
