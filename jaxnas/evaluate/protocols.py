"""The papers' evaluation protocols on NAS-Bench-201: which cells, against which ground-truth
column, with which headline metrics. "Kendall's tau on NAS-Bench-201" means a different number in
each paper; a report names its protocol (`protocol` key) so a reader knows which one it is.

  * `default` (jaxnas): N (`--archs`, 200) seeded isomorphism-class representatives without
    the run's excluded cells; cifar10-valid x-valid; every metric.
  * `landmark` (Yu et al., CVPR 2021; specs/landmark_abs.md A.6, A.10: the reference's
    `initialize_evaluate_pool`, `compute_sparse_kendalltau`): 200 random cells of all 15,625,
    the run's landmarks removed from the pool first (the first 200 non-landmark cells of a
    seeded permutation, so a run without landmarks pairs with one that has them); ori-test;
    sparse tau, ties within 0.1%.
  * `abs` (Hu et al., ECCV 2020; AngleNAS `cal_correlation.py`): all 15,625 cells, isomorphic
    copies included; ori-test; Kendall's tau.
  * `fewshot` (Zhao et al., ICML 2021; aoiang/few-shot-NAS issue 1): all 15,625; ori-test;
    Kendall's tau.
  * `close` (Zhou et al., ECCV 2022; aw_nas `derive -n 6466`, `deiso_dict.txt`, `p_at_tb_k`):
    the 6,466 class representatives, each against its class's mean; ori-test; Kendall's tau and
    P@top-5%.
  * `dynas` (Jeon et al., CVPR 2025, on SUMNAS's stratified set): the best cell of every 0.1%
    ground-truth accuracy bin; ori-test; Kendall's tau.

The papers' "ori-test" is that of NB201's `cifar10` (networks trained on all 50k images), which
jaxnas does not ship; it ships `cifar10-valid` (trained on 25k), whose `test_acc` is the ori-test
accuracy of those networks, and whose `valid_acc` is x-valid. A protocol's report names the
column it used (`ground_truth`), and asking for `cifar10` is a one-line error
(`groundtruth.check_shipped`), never a substitute.

`dynas`: DYNAS computes tau on the 327 indices of `kendal_320_idx.pkl` (specs/
dynamic_supernet.md, section 4), a file neither shipped nor public here; its set comes from
SUMNAS's stratified sampling. This protocol rebuilds a set by that description (one cell per bin
of `DYNAS_BIN` percent of ground-truth accuracy, the best of its bin, lower index on ties), which
gives 385 cells on cifar10-valid ori-test: the same kind of set, not the same cells.
"""

import functools
from typing import NamedTuple

import numpy as np

from jaxnas.errors import ConfigError
from jaxnas.evaluate import groundtruth, scoring
from jaxnas.spaces import nb201

DEFAULT_DATASET = "cifar10-valid"
SPLIT_NAMES = {"valid": "x-valid", "test": "ori-test"}
LANDMARK_CELLS = 200
DYNAS_BIN = 0.1  # percent of accuracy per stratum


class Protocol(NamedTuple):
    """A paper's protocol: `cells(num, seed, exclude, truth)` -> sorted NB201 indices."""

    name: str
    paper: str
    cells_text: str
    split: str            # the ground-truth split the paper uses ("test": ori-test)
    headline: tuple
    class_mean: bool = False  # truth of a cell = mean over its isomorphism class


def _default_cells(num, seed, exclude, truth, mask=None):
    indices = scoring.evaluation_archs(num, seed=seed, mask=mask)
    return indices[~np.isin(indices, exclude)]


def _landmark_cells(num, seed, exclude, truth, mask=None):
    """The first 200 cells of a seeded permutation of the space that are not landmarks: a
    uniform sample of the non-landmark pool, as the reference draws it, whose cells a run
    without landmarks shares but for the replaced ones (so the two pair)."""
    pool = np.arange(nb201.NUM_ARCHS)
    if mask is not None:
        pool = pool[nb201.in_space(pool, mask)]
    order = np.random.default_rng(seed).permutation(pool)
    return np.sort(order[~np.isin(order, exclude)][:LANDMARK_CELLS]).astype(np.int64)


def _all_cells(num, seed, exclude, truth, mask=None):
    return _default_cells("all", seed, exclude, truth, mask)


def _unique_cells(num, seed, exclude, truth, mask=None):
    return _default_cells("unique", seed, exclude, truth, mask)


def stratified_cells(truth, bin_size=DYNAS_BIN, exclude=()):
    """Sorted indices of the best cell (highest `truth`, lower index on ties) of every
    non-empty bin floor(truth / bin_size) (`truth` in percent, `[15625]`)."""
    truth = np.asarray(truth, np.float64)
    candidates = np.setdiff1d(np.arange(truth.size), np.asarray(exclude, np.int64))
    bins = np.floor(truth[candidates] / bin_size)
    order = np.lexsort((candidates, -truth[candidates], bins))  # by bin, best first
    first = np.unique(bins[order], return_index=True)[1]
    return np.sort(candidates[order[first]]).astype(np.int64)


def _dynas_cells(num, seed, exclude, truth, mask=None):
    cells = stratified_cells(truth, DYNAS_BIN, exclude)
    return cells if mask is None else cells[nb201.in_space(cells, mask)]


PROTOCOLS = {
    "default": Protocol("default", "jaxnas", "N seeded isomorphism-class representatives "
                        "(--archs, default 200), without the run's excluded cells", "valid",
                        ("kendall_tau", "sparse_kendall_tau", "spearman_rho", "p_at_top_5")),
    "landmark": Protocol("landmark", "Landmark regularisation (Yu et al., CVPR 2021)",
                         f"{LANDMARK_CELLS} random cells of all 15,625 after removing the run's "
                         "landmarks from the pool", "test", ("sparse_kendall_tau",)),
    "abs": Protocol("abs", "ABS (Hu et al., ECCV 2020)",
                    "all 15,625 cells, isomorphic copies included", "test", ("kendall_tau",)),
    "fewshot": Protocol("fewshot", "Few-shot NAS (Zhao et al., ICML 2021)", "all 15,625 cells",
                        "test", ("kendall_tau",)),
    "close": Protocol("close", "CLOSE (Zhou et al., ECCV 2022)",
                      "the 6,466 isomorphism-class representatives, each against its class's "
                      "mean ground truth", "test", ("kendall_tau", "p_at_top_5"),
                      class_mean=True),
    "dynas": Protocol("dynas", "DYNAS (Jeon et al., CVPR 2025), SUMNAS's stratified cells",
                      f"the best cell of every {DYNAS_BIN}% ground-truth accuracy bin "
                      "(a rebuild: DYNAS's 327-index file is not shipped)", "test",
                      ("kendall_tau",)),
}
_CELLS = {"default": _default_cells, "landmark": _landmark_cells, "abs": _all_cells,
          "fewshot": _all_cells, "close": _unique_cells, "dynas": _dynas_cells}


def get(name):
    """The protocol called `name`; ConfigError naming the known ones otherwise."""
    if name not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {name!r}; known: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


def _check_split(split):
    if split not in SPLIT_NAMES:
        raise ConfigError(f"ground-truth split must be one of {sorted(SPLIT_NAMES)}, got "
                          f"{split!r}")
    return split


@functools.cache
def _column(dataset, split, class_mean):
    truth = np.array(groundtruth.load_table(dataset).get(f"{split}_acc"), np.float64)
    if class_mean:
        canon = nb201.canonical_indices()
        sums = np.bincount(canon, truth, minlength=truth.size)
        counts = np.bincount(canon, minlength=truth.size)
        truth = sums[canon] / counts[canon]
    truth.setflags(write=False)
    return truth


def truth_column(protocol="default", dataset=DEFAULT_DATASET, split=None):
    """The ground truth `[15625]` a protocol ranks against: the `split` (default: the paper's)
    accuracy of the shipped `dataset` table, class means for `close`."""
    p = get(protocol)
    dataset = groundtruth.check_shipped(dataset)
    return _column(dataset, _check_split(split or p.split), p.class_mean)


def describe_truth(protocol="default", dataset=DEFAULT_DATASET, split=None):
    """The ground truth in words, e.g. `NB201 cifar10-valid test_acc (ori-test), 200 epochs,
    mean over seeds`, with the class mean for `close`."""
    p = get(protocol)
    dataset = groundtruth.check_shipped(dataset)
    split = _check_split(split or p.split)
    text = (f"NB201 {dataset} {split}_acc ({SPLIT_NAMES[split]}), 200 epochs, mean over "
            "training seeds")
    return text + (", averaged over each isomorphism class" if p.class_mean else "")


def cells(protocol, *, num=200, seed=0, exclude=(), dataset=DEFAULT_DATASET, split=None,
          mask=None):
    """Sorted NB201 indices a protocol scores (within the space `mask` when given), without
    the official indices `exclude` (e.g. a run's landmarks)."""
    p = get(protocol)
    exclude = np.asarray(exclude, np.int64)
    return _CELLS[p.name](num, seed, exclude, truth_column(protocol, dataset, split), mask)


def fields(protocol, dataset=DEFAULT_DATASET, split=None):
    """The keys every report of this protocol carries."""
    p = get(protocol)
    split = _check_split(split or p.split)
    return {"protocol": p.name, "protocol_paper": p.paper, "protocol_cells": p.cells_text,
            "protocol_metrics": list(p.headline), "dataset": groundtruth.check_shipped(dataset),
            "ground_truth": describe_truth(protocol, dataset, split)}
