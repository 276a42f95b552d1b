"""Tests of the NAS-Bench-201 search space against the official index order and records."""

import bz2
import csv
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest

from jaxnas.errors import ArchError, ConfigError
from jaxnas.spaces import nb201

INDEX0 = ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|"
          "+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"

# Official NATS-Bench topology records (hp=200, seed 777): arch strings, and per dataset the
# params and flop fields (both in millions).
RECORD_ARCHS = {
    0: INDEX0,
    11: "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|",
    284: "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|none~0|nor_conv_1x1~1|none~2|",
}
RECORD_COMPLEXITY = {
    (0, "cifar10-valid"): (0.129306, 15.64737),
    (0, "cifar100"): (0.135156, 15.65322),
    (0, "ImageNet16-120"): (0.136456, 3.91948),
    (11, "cifar10-valid"): (0.802426, 113.95137),
    (11, "cifar100"): (0.808276, 113.95722),
    (11, "ImageNet16-120"): (0.809576, 28.49548),
    (284, "cifar10-valid"): (0.101306, 11.71521),
    (284, "cifar100"): (0.107156, 11.72106),
    (284, "ImageNet16-120"): (0.108456, 2.93644),
}
# Dataset -> (input resolution, number of classes) of the NB201 networks.
DATASETS = {"cifar10-valid": (32, 10), "cifar10": (32, 10), "cifar100": (32, 100),
            "ImageNet16-120": (16, 120)}


def _require(path):
    if not path.exists():
        pytest.skip(f"{path} not found")
    return path


def _nb201_file(shared_dir, name):
    return _require(shared_dir / "data" / "nb201" / name)


def _load_pbz2(path):
    with bz2.open(path, "rb") as f:
        return pickle.load(f)


def _complexity(index, dataset):
    resolution, num_classes = DATASETS[dataset]
    return (nb201.num_params(index, num_classes=num_classes),
            nb201.flops(index, resolution=resolution, num_classes=num_classes))


# ----------------------------------------------------------------------------- indices


def test_constants():
    assert nb201.NUM_OPS == len(nb201.OPS) == 5
    assert nb201.NUM_EDGES == len(nb201.EDGES) == 6
    assert nb201.NUM_ARCHS == 15625 and nb201.NUM_NODES == 4
    assert all(0 <= src < to < nb201.NUM_NODES for to, src in nb201.EDGES)


def test_space_imports_no_jax():
    code = "import sys, jaxnas.spaces; assert 'jax' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_all_archs_is_a_cached_read_only_permutation():
    archs = nb201.all_archs()
    assert archs.shape == (15625, 6) and archs.dtype == np.int32
    assert archs is nb201.all_archs()
    assert len(np.unique(archs, axis=0)) == 15625
    with pytest.raises(ValueError):
        archs[0, 0] = 1


def test_index_zero_and_records():
    assert nb201.arch_to_str(0) == INDEX0
    for index, arch_str in RECORD_ARCHS.items():
        assert nb201.arch_to_index(arch_str) == index


def test_index_order_matches_ground_truth_csv(shared_dir):
    path = _nb201_file(shared_dir, "cifar10-valid_200epochs.csv")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["index"]) for r in rows] == list(range(15625))
    assert [r["arch"] for r in rows] == [nb201.arch_to_str(a) for a in nb201.all_archs()]


def test_index_order_matches_nats_meta(shared_dir):
    folder = _nb201_file(shared_dir, "nats-tss-v1_0-3ffb9-simple")
    meta = _load_pbz2(_require(folder / "meta.pickle.pbz2"))
    assert list(meta["meta_archs"]) == [nb201.arch_to_str(a) for a in nb201.all_archs()]


def test_round_trip_for_all_cells():
    archs = nb201.all_archs()
    np.testing.assert_array_equal(nb201.archs_to_indices(archs), np.arange(15625))
    for index, arch in enumerate(archs):
        arch_str = nb201.arch_to_str(arch)
        np.testing.assert_array_equal(nb201.str_to_arch(arch_str), arch)
        assert nb201.arch_to_index(arch_str) == index
    np.testing.assert_array_equal(nb201.index_to_arch(np.int64(284)), archs[284])


def test_parse_arch_accepts_strings_indices_and_arrays():
    expected = nb201.index_to_arch(11)
    for x in (11, np.int32(11), RECORD_ARCHS[11], f"  {RECORD_ARCHS[11]}\n", expected.tolist(),
              expected.astype(np.uint8)):
        got = nb201.parse_arch(x)
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, expected)
    nb201.parse_arch(0)[0] = 3  # a copy: the cached table stays intact
    assert nb201.arch_to_str(0) == INDEX0


@pytest.mark.parametrize("x, message", [
    (-1, "out of range"),
    (15625, "out of range"),
    (True, "shape [6]"),
    ([0, 1, 2], "shape [6]"),
    ([[0] * 6], "shape [6]"),
    ([0, 1, 2, 3, 4, 5], "0..4"),
    ([0, -1, 2, 3, 4, 0], "0..4"),
    ([0.0] * 6, "integers"),
    ([[0, 1], [2]], "not an op array"),
])
def test_parse_arch_rejects_bad_input(x, message):
    with pytest.raises(ArchError, match=re.escape(message)):
        nb201.parse_arch(x)


def test_index_and_batch_errors():
    with pytest.raises(ArchError, match="must be an int"):
        nb201.index_to_arch(1.0)
    with pytest.raises(ArchError, match=r"shape \[n, 6\]"):
        nb201.archs_to_indices(np.zeros(6, np.int32))


@pytest.mark.parametrize("s, message", [
    (42, "must be a str, got int"),
    ("", "expected 3 nodes separated by '+', got 1"),
    ("|none~0|+|none~0|none~1|", "expected 3 nodes separated by '+', got 2"),
    (ALL_NONE + "+|none~0|", "expected 3 nodes separated by '+', got 4"),
    (ALL_NONE.replace("none~0", "conv_5x5~0", 1), "unknown op 'conv_5x5'"),
    (ALL_NONE.replace("none~0", "None~0", 1), "unknown op 'None'"),
    ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 has 1 edge(s), expected 2"),
    ("|none~0|+|none~0|none~1|none~1|+|none~0|none~1|none~2|", "node 2 has 3 edge(s)"),
    ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "reads input ~1, expected ~0"),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~02|", "reads input ~02, expected ~2"),
    ("|none~0|+|none~0|none~1|+|none~0|none~2|none~1|", "reads input ~2, expected ~1"),
    ("|none~0|+|none~0|none~0|+|none~0|none~1|none~2|", "input ~0 of node 2 is duplicated"),
    ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "node 1 'none~0|' must be wrapped"),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2", "node 3"),
    ("|none~0| +|none~0|none~1|+|none~0|none~1|none~2|", "must be wrapped"),
    ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "edge 'none0' of node 1 lacks '~input'"),
])
def test_str_to_arch_rejects_malformed_strings(s, message):
    with pytest.raises(ArchError) as info:
        nb201.str_to_arch(s)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    if isinstance(s, str) and s:
        assert repr(s) in str(info.value)  # the message shows the offending string


def test_str_to_arch_allows_only_outer_whitespace():
    np.testing.assert_array_equal(nb201.str_to_arch(f" \t{ALL_NONE}\n"), np.zeros(6))


# ----------------------------------------------------------------------------- isomorphism


def test_isomorphism_class_counts():
    canon = nb201.canonical_indices()
    unique = nb201.unique_indices()
    assert canon.shape == (15625,) and len(unique) == 6466
    assert np.all(np.diff(unique) > 0)
    np.testing.assert_array_equal(canon[unique], unique)  # representatives represent themselves
    assert np.all(canon <= np.arange(15625))  # the smallest index of its class
    np.testing.assert_array_equal(np.unique(canon), unique)


def test_disconnected_cells():
    connected = np.array([nb201.is_connected(a) for a in nb201.all_archs()])
    assert np.count_nonzero(~connected) == 341
    assert not nb201.is_connected(ALL_NONE)
    assert nb201.is_connected(INDEX0)
    # A connected cell is never isomorphic to a disconnected one; the NATS rule splits the
    # disconnected cells into 5 classes (zero terms are kept, see the module docstring).
    canon = nb201.canonical_indices()
    assert not set(canon[connected]) & set(canon[~connected])
    assert len(set(canon[~connected])) == 5


def _same_class(*archs):
    return len({nb201.canonical_index(a) for a in archs}) == 1


def test_isomorphic_pairs():
    # Node 1 feeds nothing: the op on its input edge cannot matter.
    assert _same_class(*(f"|{op}~0|+|nor_conv_1x1~0|none~1|+|nor_conv_3x3~0|none~1|avg_pool_3x3~2|"
                         for op in nb201.OPS))
    # Node 1 is zero: the ops on the edges leaving it cannot matter.
    assert _same_class(*(f"|none~0|+|nor_conv_1x1~0|{a}~1|+|nor_conv_3x3~0|{b}~1|avg_pool_3x3~2|"
                         for a in nb201.OPS for b in nb201.OPS))
    # A skip makes node 1 an alias of node 0.
    assert _same_class("|skip_connect~0|+|none~0|none~1|+|none~0|nor_conv_3x3~1|none~2|",
                       "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|")
    # ... so node 2's two terms commute.
    assert _same_class(
        "|skip_connect~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|none~0|none~1|skip_connect~2|",
        "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|none~0|none~1|skip_connect~2|")
    # ... and node 3's terms commute too.
    assert _same_class(
        "|skip_connect~0|+|none~0|none~1|+|nor_conv_1x1~0|nor_conv_3x3~1|avg_pool_3x3~2|",
        "|skip_connect~0|+|none~0|none~1|+|nor_conv_3x3~0|nor_conv_1x1~1|avg_pool_3x3~2|")


def test_distinct_cells_are_not_isomorphic():
    assert not _same_class(INDEX0, RECORD_ARCHS[11])
    # Relabelling nodes 1 and 2 computes the same function, but the community (NATS) rule keeps
    # node 2's zero term from node 1, so these stay distinct (documented in the module).
    assert not _same_class(
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|",
        "|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_1x1~2|")


# ----------------------------------------------------------------------------- sampling


def _mask(*allowed_per_edge):
    mask = np.zeros((6, 5), bool)
    for edge, ops in enumerate(allowed_per_edge):
        mask[edge, list(ops)] = True
    return mask


def test_sample_shapes_and_uniformity():
    rng = np.random.default_rng(0)
    one = nb201.sample(rng)
    assert one.shape == (6,) and one.dtype == np.int32
    assert nb201.sample(rng, 0).shape == (0, 6)
    archs = nb201.sample(rng, 20000)
    assert archs.shape == (20000, 6) and archs.dtype == np.int32
    freq = (archs[:, :, None] == np.arange(5)).mean(axis=0)
    np.testing.assert_allclose(freq, 0.2, atol=0.02)
    np.testing.assert_array_equal(nb201.sample(np.random.default_rng(7), 5),
                                  nb201.sample(np.random.default_rng(7), 5))


def test_sample_respects_mask():
    mask = _mask({0}, {1, 2}, range(5), {4}, {2, 3}, {0, 4})
    archs = nb201.sample(np.random.default_rng(1), 5000, mask=mask)
    assert mask[np.arange(6), archs].all()
    seen = np.zeros((6, 5), bool)
    seen[np.arange(6)[None, :].repeat(len(archs), 0), archs] = True
    np.testing.assert_array_equal(seen, mask)  # every allowed op occurs


def test_sample_unique():
    rng = np.random.default_rng(2)
    archs = nb201.sample(rng, 3000, unique=True)
    indices = nb201.archs_to_indices(archs)
    assert np.isin(indices, nb201.unique_indices()).all()
    assert len(np.unique(indices)) > 2000  # spread over the 6,466 representatives
    mask = _mask(*[{2, 3}] * 6)
    archs = nb201.sample(rng, 500, unique=True, mask=mask)
    indices = nb201.archs_to_indices(archs)
    assert mask[np.arange(6), archs].all()
    np.testing.assert_array_equal(nb201.canonical_indices()[indices], indices)
    assert nb201.sample(rng, unique=True).shape == (6,)


def test_sample_mask_errors():
    rng = np.random.default_rng(3)
    with pytest.raises(ArchError, match=r"no op on edge 3 \(3, 0\)"):
        nb201.sample(rng, 2, mask=_mask({0}, {1}, {2}, set(), {3}, {4}))
    with pytest.raises(ArchError, match="bool array of shape"):
        nb201.sample(rng, mask=np.ones((6, 5), int))
    with pytest.raises(ArchError, match="bool array of shape"):
        nb201.sample(rng, mask=np.ones((5, 6), bool))
    not_rep = int(np.flatnonzero(nb201.canonical_indices() != np.arange(15625))[0])
    only = _mask(*({op} for op in nb201.index_to_arch(not_rep)))
    with pytest.raises(ArchError, match="no isomorphism-class representative"):
        nb201.sample(rng, unique=True, mask=only)
    with pytest.raises(ArchError, match="non-negative int"):
        nb201.sample(rng, -1)


def test_mutate_changes_exactly_one_edge():
    rng = np.random.default_rng(4)
    archs = nb201.sample(rng, 300)
    edges = []
    for arch in archs:
        child = nb201.mutate(rng, arch)
        assert child.dtype == np.int32 and nb201.hamming(child, arch) == 1
        edges.append(int(np.flatnonzero(child != arch)[0]))
    assert set(edges) == set(range(6))
    child = nb201.mutate(rng, INDEX0)
    assert nb201.hamming(child, nb201.parse_arch(INDEX0)) == 1
    assert nb201.arch_to_str(0) == INDEX0  # the input is not modified


def test_mutate_respects_mask():
    rng = np.random.default_rng(5)
    arch = np.array([0, 1, 2, 3, 4, 0])
    mask = _mask({0}, {1}, {2, 3}, {3}, {4}, {0, 1})  # only edges 2 and 5 have alternatives
    children = np.array([nb201.mutate(rng, arch, mask=mask) for _ in range(200)])
    assert set(map(tuple, children)) == {(0, 1, 3, 3, 4, 0), (0, 1, 2, 3, 4, 1)}
    frozen = _mask(*({op} for op in arch))
    with pytest.raises(ArchError, match="has another allowed op"):
        nb201.mutate(rng, arch, mask=frozen)


def test_hamming():
    a = nb201.index_to_arch(0)
    assert nb201.hamming(a, a) == 0
    assert nb201.hamming(a, nb201.index_to_arch(11)) == 6
    batch = nb201.all_archs()[:10]
    np.testing.assert_array_equal(nb201.hamming(batch, batch[0]),
                                  [nb201.hamming(b, batch[0]) for b in batch])
    assert nb201.hamming(batch[None], batch[:, None]).shape == (10, 10)
    with pytest.raises(ArchError, match="op arrays"):
        nb201.hamming(a, a[:5])


# ----------------------------------------------------------------------------- complexity


@pytest.mark.parametrize("index, dataset", sorted(RECORD_COMPLEXITY))
def test_complexity_matches_official_records(index, dataset):
    params, flop = RECORD_COMPLEXITY[index, dataset]
    assert _complexity(index, dataset) == (round(params * 1e6), round(flop * 1e6))


def test_complexity_matches_record_files(shared_dir):
    folder = _nb201_file(shared_dir, "nats-tss-v1_0-3ffb9-simple")
    for index, arch_str in RECORD_ARCHS.items():
        record = _load_pbz2(_require(folder / f"{index:06d}.pickle.pbz2"))["200"]
        assert record["arch_index"] == index and record["arch_str"] == arch_str
        for (dataset, _), result in record["all_results"].items():
            params, flop = _complexity(index, dataset)
            assert params / 1e6 == pytest.approx(float(result["params"]), abs=5e-7)
            assert flop / 1e6 == pytest.approx(float(result["flop"]), abs=5e-6)
            if (index, dataset) in RECORD_COMPLEXITY:
                assert RECORD_COMPLEXITY[index, dataset] == (result["params"], result["flop"])


def test_complexity_details():
    # Cell BN affine parameters: 2 per channel of each of the 3 convs, 5 cells at 16, 32, 64.
    assert (nb201.num_params(11) - nb201.num_params(11, cell_bn_affine=False)
            == 3 * 2 * 5 * (16 + 32 + 64))
    assert nb201.num_params(0, cell_bn_affine=False) < nb201.num_params(0)
    # Parameter-free cells: everything but the cells is shared, and pooling costs nothing.
    assert nb201.num_params(ALL_NONE) == nb201.num_params([4, 1, 4, 1, 4, 1])
    assert nb201.flops(ALL_NONE) == nb201.flops([4, 1, 4, 1, 4, 1])
    assert nb201.flops(ALL_NONE, C=8) < nb201.flops(ALL_NONE)
    with pytest.raises(ConfigError, match="multiple of 4"):
        nb201.flops(0, resolution=30)
    for bad in ({"C": 0}, {"N": 2.0}, {"num_classes": True}):
        with pytest.raises(ConfigError, match="positive int"):
            nb201.num_params(0, **bad)
