"""Look a cell up in the shipped NAS-Bench-201 table, as `nas_201_api`'s `query_by_index` /
`query_index_by_arch` would: by official index, NB201 string, jaxnas op array or NASLib op
indices, with every metric of the table and the cell's rank by each accuracy; and, where the
cell or an isomorphic one has been trained at the mini scale, its row of the shipped mini table.

    query(9930)["test_acc"], query("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|..."),
    query("2,2,0,2,2,2", naslib=True)       # the same cell in NASLib's op indices
"""

import functools

import numpy as np

from jaxnas.errors import ArchError
from jaxnas.evaluate import groundtruth
from jaxnas.spaces import nb201
from jaxnas.spaces.base import INDEX_TEXT


def parse(cell, *, naslib=False) -> np.ndarray:
    """A jaxnas op array `[6]` from an official index (an int or its digits), an NB201 string,
    a jaxnas op array, or, with `naslib`, NASLib's six op indices (a list or "2,2,0,4,2,0")."""
    if isinstance(cell, str):
        text = cell.strip()
        if naslib:
            try:
                cell = [int(x) for x in text.strip("()[]").replace(",", " ").split()]
            except ValueError:
                raise ArchError(f"NASLib op indices must be six integers, got {cell!r}") from None
        elif INDEX_TEXT.fullmatch(text):
            cell = int(text)
    if isinstance(cell, (int, np.integer)) and not isinstance(cell, bool):
        if not 0 <= cell < nb201.NUM_ARCHS:
            raise ArchError(f"NB201 index must lie in 0..{nb201.NUM_ARCHS - 1}, got {cell}")
        return nb201.index_to_arch(int(cell))
    return nb201.from_naslib(cell) if naslib else nb201.parse_arch(cell)


@functools.cache
def _table(dataset):
    return groundtruth.load_table(dataset)


def query(cell, dataset="cifar10-valid", *, naslib=False) -> dict:
    """The facts of one cell (see `parse`) in the shipped `dataset` table (a nas_201_api name;
    only cifar10-valid ships, the others are one error line): its index, string, op arrays in
    jaxnas's and NASLib's order, isomorphism class, parameters and FLOPs (millions, NB201's
    `params` and `flop`), every metric of the table and, per accuracy, its rank (1 = best of
    15,625, ties sharing the best rank); `mini` maps each shipped mini table's name to the
    cell's row there (by isomorphism class) or None."""
    ops = parse(cell, naslib=naslib)
    table = _table(groundtruth.check_shipped(dataset))
    index = nb201.arch_to_index(ops)
    out = {"dataset": table.dataset, "epochs": table.epochs, "index": index,
           "arch": nb201.arch_to_str(ops), "ops": ops.tolist(),
           "naslib_op_indices": nb201.to_naslib(ops).tolist(),
           "canonical_index": nb201.canonical_index(ops),
           "params_m": nb201.num_params(ops) / 1e6, "flops_m": nb201.flops(ops) / 1e6}
    for name in sorted(table.metrics):
        values = table.get(name)
        out[name] = float(values[index])
        if name.endswith("_acc"):
            out[f"rank_{name}"] = int(np.sum(values > values[index])) + 1
    out["splits"] = dict(table.splits)
    out["mini"] = {name: _mini_row(name, index) for name in groundtruth.MINI_TABLES}
    return out


@functools.cache
def _mini(name):
    """The shipped mini table `name` keyed by isomorphism class; None while not shipped."""
    try:
        table = groundtruth.load_mini_table(name)
    except groundtruth.GroundTruthError:
        return None
    return table, {int(nb201.canonical_indices()[i]): k for k, i in enumerate(table.indices)}


def _mini_row(name, index):
    """The mini table's metrics of `index`'s isomorphism class (the trained cell's own index,
    accuracies, and rank among the table's cells by held-out accuracy), or None."""
    found = _mini(name)
    k = None if found is None else found[1].get(int(nb201.canonical_indices()[index]))
    if k is None:
        return None
    table = found[0]
    valid = table.get("valid_acc")
    return {"trained_index": int(table.indices[k]), "epochs": table.epochs,
            **{m: float(table.get(m)[k]) for m in sorted(table.metrics)},
            "rank_valid_acc": int(np.sum(valid > valid[k])) + 1, "of": int(valid.size)}
