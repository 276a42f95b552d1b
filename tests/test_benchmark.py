"""NAS-Bench-201 conveniences: NASLib's op order both ways, table queries by index, string or
NASLib indices, nas_201_api dataset names."""

import itertools
import json

import numpy as np
import pytest

from jaxnas import cli
from jaxnas.errors import ArchError, GroundTruthError
from jaxnas.evaluate import benchmark, groundtruth
from jaxnas.search import result
from jaxnas.spaces import nb201

# NASLib's `convert_op_indices_to_str` (naslib/search_spaces/nasbench201/conversions.py),
# restated independently of jaxnas's tables.
_NASLIB_NAMES = ["skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3"]
_NASLIB_EDGES = ((1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4))


def _naslib_str(op_indices):
    ops = {edge: _NASLIB_NAMES[op] for edge, op in zip(_NASLIB_EDGES, op_indices)}
    terms = [f"{ops[(i, j)]}~{i - 1}" for i, j in sorted(ops, key=lambda x: x[1])]
    return "|{}|+|{}|{}|+|{}|{}|{}|".format(*terms)


def test_naslib_order_both_ways_on_every_cell():
    every = np.array(list(itertools.product(range(5), repeat=6)), np.int32)
    ours = nb201.from_naslib(every)
    for naslib, arch in zip(every[::7], ours[::7]):
        assert nb201.arch_to_str(arch) == _naslib_str(naslib)
    np.testing.assert_array_equal(nb201.to_naslib(ours), every)
    assert sorted(nb201.archs_to_indices(ours).tolist()) == list(range(15625))
    assert nb201.to_naslib([0, 1, 2, 3, 4, 0]).tolist() == [1, 0, 2, 3, 4, 1]  # the orders differ
    with pytest.raises(ArchError, match="0..4"):
        nb201.from_naslib([0, 1, 2, 3, 4, 5])


def test_query_by_index_string_and_naslib_agree():
    arch = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|"
            "nor_conv_3x3~1|skip_connect~2|")
    by_str = benchmark.query(arch)
    assert benchmark.query(by_str["index"]) == by_str
    assert benchmark.query(str(by_str["index"])) == by_str
    naslib = ",".join(map(str, by_str["naslib_op_indices"]))
    assert benchmark.query(naslib, naslib=True) == by_str
    assert benchmark.query(arch, "CIFAR10-VALID") == by_str
    table = groundtruth.load_table()
    assert by_str["valid_acc"] == table.get("valid_acc")[by_str["index"]]
    described = result.describe(arch)
    assert by_str["rank_valid_acc"] == described["rank_valid"]
    assert by_str["rank_test_acc"] == described["rank_test"]
    assert by_str["naslib_op_indices"] == [2, 2, 0, 4, 2, 0]
    assert by_str["splits"]["valid"] == "x-valid"


@pytest.mark.parametrize("cell, kwargs, error, message", [
    ("15625", {}, ArchError, "0..15624"),
    (-1, {}, ArchError, "0..15624"),
    ("-1", {}, ArchError, "0..15624"),  # a signed index is an index, not a malformed string
    ("1,2,x", {"naslib": True}, ArchError, "six integers"),
    (0, {"dataset": "cifar10"}, GroundTruthError, "cifar10 ground truth .* not shipped"),
    (0, {"dataset": "ImageNet16-120"}, GroundTruthError, "not shipped"),
    (0, {"dataset": "imagenet"}, GroundTruthError, "unknown NB201 dataset 'imagenet'"),
])
def test_bad_queries_are_one_line(cell, kwargs, error, message):
    with pytest.raises(error, match=message) as e:
        benchmark.query(cell, **kwargs)
    assert "\n" not in str(e.value)


def test_nb201_query_command(capsys):
    assert cli.main(["nb201", "query", "2,2,0,4,2,0", "--naslib"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["arch"].startswith("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|")
    assert cli.main(["nb201", "query", "99999"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "0..15624" in err
    assert cli.main(["nb201", "query", "-1"]) == 2
    assert "0..15624" in capsys.readouterr().err
    assert cli.main(["nb201", "query", "1", "--dataset", "cifar100"]) == 2
    assert "not shipped" in capsys.readouterr().err


def test_query_shows_the_mini_table_row_of_the_cell_or_its_class():
    """`query(...)["mini"]`: a trained cell's row of the shipped mini table, the same row for a
    cell isomorphic to it (same network), None for a class not trained or a table not shipped."""
    mini = groundtruth.load_mini_table()
    canonical = nb201.canonical_indices()
    trained = set(canonical[mini.indices].tolist())
    k, index = next((k, int(i)) for k, i in enumerate(mini.indices)
                    if np.sum(canonical == canonical[i]) > 1)
    twin = int(np.flatnonzero((canonical == canonical[index]) &
                              (np.arange(canonical.size) != index))[0])
    row = benchmark.query(index)["mini"]["nb201-mini"]
    assert row["trained_index"] == index and row["valid_acc"] == mini.get("valid_acc")[k]
    assert row["of"] == mini.indices.size and 1 <= row["rank_valid_acc"] <= row["of"]
    assert benchmark.query(twin)["mini"]["nb201-mini"] == row
    untrained = next(i for i in range(canonical.size) if canonical[i] not in trained)
    assert benchmark.query(untrained)["mini"]["nb201-mini"] is None
    for name in groundtruth.MINI_TABLES:
        try:
            groundtruth.load_mini_table(name)
        except GroundTruthError:
            assert benchmark.query(index)["mini"][name] is None
