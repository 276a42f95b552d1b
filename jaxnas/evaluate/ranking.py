"""Ranking metrics: how well supernet scores order architectures (numpy/scipy only).

Every function takes `pred` (supernet scores, higher = better) and `truth` (ground-truth
accuracies, higher = better): 1-D arrays of equal length, at least 2 items, no NaN (a ValueError
otherwise; ranks of NaN are undefined). Results are Python floats or ints. The correlations are
NaN when either input is constant, as in scipy.

Conventions, chosen to match the papers this library reimplements:
  - `kendall_tau` and `spearman_rho` are scipy's (tau-b, Spearman with average ranks).
  - `sparse_kendall_tau` replicates the Landmark-regularization code (see its docstring).
  - `precision_at_top` uses K = floor(frac * n) as aw_nas `p_at_tb_k` (CLOSE) does, at least 1.
  - Ties inside a top-K cut are broken by index (the lower index ranks higher), so results are
    deterministic; the reference codes leave this to `np.argsort`'s unstable sort.
"""

import numpy as np
from scipy import stats

# Slack so that e.g. 0.29 * 100 = 28.999999999999996 still gives K = 29.
_K_EPS = 1e-9


def _check(pred, truth) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (pred, truth) pair and return both as float64 arrays."""
    arrays = []
    for name, values in (("pred", pred), ("truth", truth)):
        array = np.asarray(values, dtype=np.float64)
        if array.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
        if np.isnan(array).any():
            raise ValueError(f"{name} contains NaN")
        arrays.append(array)
    pred, truth = arrays
    if pred.shape != truth.shape:
        raise ValueError(f"pred and truth differ in length: {pred.size} vs {truth.size}")
    if pred.size < 2:
        raise ValueError(f"ranking needs at least 2 architectures, got {pred.size}")
    return pred, truth


def _is_constant(array: np.ndarray) -> bool:
    return bool(np.all(array == array[0]))


def _tau_b(x: np.ndarray, y: np.ndarray) -> float:
    """scipy's tau-b, NaN (without scipy's warning) when an input is constant."""
    if _is_constant(x) or _is_constant(y):
        return float("nan")
    return float(stats.kendalltau(x, y).statistic)


def _descending_order(scores: np.ndarray) -> np.ndarray:
    """Indices from best to worst score; equal scores keep index order (stable)."""
    return np.argsort(-scores, kind="stable")


def kendall_tau(pred, truth) -> float:
    """Kendall's tau-b between supernet scores and ground truth (`scipy.stats.kendalltau`)."""
    return _tau_b(*_check(pred, truth))


def spearman_rho(pred, truth) -> float:
    """Spearman's rank correlation (`scipy.stats.spearmanr`, average ranks for ties)."""
    pred, truth = _check(pred, truth)
    if _is_constant(pred) or _is_constant(truth):
        return float("nan")
    return float(stats.spearmanr(pred, truth).statistic)


def accuracy_bins(truth, bin_size: float = 0.1) -> np.ndarray:
    """Sparse-Kendall-tau bins of accuracies: floor(accuracy / bin_size), both in percent.

    Replicates `sparse_rank_by_simple_bin` of kcyu2014/nas-landmarkreg exactly, float arithmetic
    included: accuracies whose mean lies in (1, 100) are read as percent and scaled to fractions
    (x 0.01), others are taken as fractions; then bin = floor(fraction * (1 / threshold)) with
    threshold = bin_size / 100. It TRUNCATES, it does not round: 93.49 and 93.41 share a bin,
    93.39 and 93.41 do not.
    """
    truth = np.asarray(truth, dtype=np.float64)
    if not bin_size > 0:
        raise ValueError(f"bin_size must be positive, got {bin_size}")
    fractions = truth * 0.01 if 1 < np.mean(truth) < 100 else truth
    return np.floor(fractions * (1 / (bin_size / 100)))


def sparse_kendall_tau(pred, truth, *, bin_size: float = 0.1) -> float:
    """Sparse Kendall tau (S-KdT) of the Landmark-regularization paper (Yu et al., CVPR 2021).

    The paper says architectures whose ground-truth accuracies fall within 0.1% share a rank.
    The authors' code (`nasws/cnn/utils.py::compute_sparse_rank_metric`) does this, reproduced
    here exactly:
      1. bin the truth with `accuracy_bins(truth, bin_size)`: floor, in percent units, so with
         the default bin_size=0.1 (their threshold 1e-3) 91.6067 and 91.6999 tie;
      2. x = the bins in ascending order, y = the bins of the architectures in ascending `pred`
         order (stable sort: pred ties keep index order);
      3. S-KdT = tau-b(x, y), pairing POSITIONS of the two orderings, not architectures.
    Step 3 makes it differ slightly from `kendall_tau(pred, bins)`: a pair of positions counts
    only if the sorted truth has different bins there. bin_size=1.0 matches their plotting
    tool (threshold 1e-2). Truth may be given in percent or as fractions (see `accuracy_bins`).
    """
    pred, truth = _check(pred, truth)
    bins = accuracy_bins(truth, bin_size)
    return _tau_b(np.sort(bins), bins[np.argsort(pred, kind="stable")])


def top_k(n: int, frac: float) -> int:
    """K for a top fraction of n architectures: max(1, floor(frac * n)), as aw_nas `p_at_tb_k`.

    aw_nas computes `int(n * ratio)`; the floor here has a 1e-9 slack so that products that
    are whole numbers on paper (0.29 * 100) do not lose one to float rounding.
    """
    if not 0 < frac <= 1:
        raise ValueError(f"top fraction must be in (0, 1], got {frac}")
    return max(1, int(np.floor(frac * n + _K_EPS)))


def precision_at_top(pred, truth, frac: float) -> float:
    """P@top-K: |predicted top-K and true top-K| / K with K = `top_k(n, frac)`.

    Ties at either cut are broken by index (the lower index is taken first).
    """
    pred, truth = _check(pred, truth)
    k = top_k(pred.size, frac)
    hits = np.intersect1d(_descending_order(pred)[:k], _descending_order(truth)[:k])
    return hits.size / k


def top1_true_rank(pred, truth) -> int:
    """True rank (1 = best) of the architecture with the best `pred` (the first on pred ties).

    The rank is 1 + the number of architectures with strictly higher truth, so truth ties share
    the best rank among them.
    """
    pred, truth = _check(pred, truth)
    best = int(np.argmax(pred))
    return 1 + int(np.sum(truth > truth[best]))


def _percent_label(frac: float) -> str:
    return f"{round(frac * 100, 6):g}"


def ranking_report(pred, truth, *, top_fracs=(0.05, 0.10)) -> dict:
    """All metrics in one dict: kendall_tau, sparse_kendall_tau, spearman_rho,
    p_at_top_{percent} per fraction (e.g. p_at_top_5 for 0.05), top1_true_rank and n."""
    pred, truth = _check(pred, truth)
    report = {
        "kendall_tau": kendall_tau(pred, truth),
        "sparse_kendall_tau": sparse_kendall_tau(pred, truth),
        "spearman_rho": spearman_rho(pred, truth),
    }
    for frac in top_fracs:
        report[f"p_at_top_{_percent_label(frac)}"] = precision_at_top(pred, truth, frac)
    report["top1_true_rank"] = top1_true_rank(pred, truth)
    report["n"] = int(pred.size)
    return report
