"""How far a proxy ground truth can be trusted: a stand-alone table against NAS-Bench-201, two
seeds of a table against each other, and supernet arms ranked against both.

A supernet ranks small networks (the mini scale's C8 N1 16x16); its Kendall tau against NB201's
C16 N5 200-epoch table mixes two errors: the supernet's against its own networks trained alone,
and those networks' against NB201's. A stand-alone table of the same small networks separates
them (issue 30's mini ceiling): its tau against NB201 bounds any mini supernet, the tau between
two of its seeds is its own noise, and an arm's tau against it is the supernet's part alone.

Every tau here carries a 95% percentile bootstrap interval over cells (`scipy.stats.bootstrap`,
paired resampling, seeded), so a table still being filled is read with its uncertainty.
"""

import json
from pathlib import Path

import numpy as np
from scipy import stats

from jaxnas.analysis import arms as arms_lib
from jaxnas.errors import UsageError
from jaxnas.evaluate import groundtruth, protocols
from jaxnas.evaluate.ranking import kendall_tau, spearman_rho

RESAMPLES = 2000


def table_values(path, column="valid_acc"):
    """`{NB201 index: value}` of a `jaxnas standalone` table's `column`."""
    table = groundtruth.read_standalone_table(path)
    return dict(zip(table.indices.tolist(), table.get(column).tolist()))


def nb201_values(column="valid_acc", dataset=protocols.DEFAULT_DATASET):
    """`{index: value}` of the shipped NB201 table (every cell): the truth arms are ranked
    against by default (cifar10-valid x-valid accuracy, 200 epochs)."""
    values = protocols.truth_column("default", dataset, column.removesuffix("_acc"))
    return dict(enumerate(np.asarray(values, np.float64).tolist()))


def _tau_ci(x, y, seed):
    if x.size < 3:
        return [float("nan"), float("nan")]
    result = stats.bootstrap((x, y), kendall_tau, paired=True,
                             vectorized=False, n_resamples=RESAMPLES, method="percentile",
                             random_state=np.random.default_rng(seed))
    return [float(result.confidence_interval.low), float(result.confidence_interval.high)]


def agreement(pred, truth, cells=None, *, ci=True, seed=0):
    """Kendall tau (scipy's tau-b) and Spearman rho of `{cell: value}` `pred` against `truth`
    on `cells` (default: those both hold), with the tau's 95% bootstrap interval (`ci`)."""
    common = sorted(set(pred) & set(truth) if cells is None else cells)
    if len(common) < 2:
        raise UsageError(f"only {len(common)} cell(s) in common: nothing to rank")
    x = np.array([pred[c] for c in common], np.float64)
    y = np.array([truth[c] for c in common], np.float64)
    out = {"cells": len(common), "kendall_tau": kendall_tau(x, y),
           "spearman_rho": spearman_rho(x, y)}
    return {**out, "tau_ci95": _tau_ci(x, y, seed)} if ci else out


def seed_agreement(seed1, seed0, *, seed=0):
    """Two seeds of a table (`{cell: accuracy}` each) on the cells both hold: `agreement`
    (the tau between them, the table's own noise) with the mean absolute difference of the
    accuracies (`mean_abs_diff`, in their unit)."""
    common = sorted(set(seed1) & set(seed0))
    out = agreement(seed1, seed0, common, seed=seed)
    return {**out, "mean_abs_diff": float(np.mean([abs(seed1[c] - seed0[c]) for c in common]))}


def curves(metrics_path, column="valid_acc"):
    """`{arch: {epoch: value}}` from a stand-alone run's metrics.jsonl lines that hold held-out
    numbers (`train.eval_every_epochs`); a line repeated by a resume replaces the earlier one."""
    out = {}
    path = Path(metrics_path)
    if not path.is_file():
        return out
    for line in path.read_text().splitlines():
        record = json.loads(line) if line.strip() else {}
        for arch, value in zip(record.get("archs", ()), record.get(column, ())):
            if value is not None:
                out.setdefault(arch, {})[record["epoch"]] = value
    return out


def convergence(curves_by_cell, final, truth=None):
    """Per epoch of the curves: Kendall tau of the held-out accuracy then against `final`
    (`{cell: value}`, e.g. the table's last-epoch accuracy) and, with `truth`, against it, on
    the cells whose curve has that epoch; `[{"epoch", "cells", "tau_final", "tau_truth"}]`."""
    epochs = sorted({e for c in curves_by_cell.values() for e in c})
    rows = []
    for epoch in epochs:
        at = {c: v[epoch] for c, v in curves_by_cell.items() if epoch in v and c in final}
        if len(at) < 3:
            continue
        row = {"epoch": epoch, "cells": len(at), "tau_final": _tau(at, final, sorted(at))}
        if truth is not None:
            row["tau_truth"] = _tau(at, truth, sorted(at))
        rows.append(row)
    return rows


def _tau(pred, truth, cells):
    return agreement(pred, truth, cells, ci=False)["kendall_tau"]


def arm_rows(folder, table, nb201):
    """Per seed of the paired arm in `folder` (`seed<S>.final.json` reports ranked by NB201
    index): the arm's tau against NB201 and against the stand-alone `table` on the cells both
    the report and the table hold, with the table's own tau against NB201 on those cells."""
    rows = []
    for s, run in sorted(arms_lib.load(folder).items()):
        if run.final is None or "indices" not in run.final:
            continue
        scores = arms_lib.cell_scores(run.final)
        cells = sorted(set(scores) & set(table))
        if len(cells) < 3:
            continue
        rows.append({"seed": s, "cells": len(cells), "tau_nb201": _tau(scores, nb201, cells),
                     "tau_table": _tau(scores, table, cells),
                     "table_tau_nb201": _tau(table, nb201, cells)})
    return rows


def arm_summary(rows):
    """Means over seeds of `arm_rows` (None without rows)."""
    if not rows:
        return None
    keys = ("cells", "tau_nb201", "tau_table", "table_tau_nb201")
    return {"seeds": [r["seed"] for r in rows],
            **{k: float(np.mean([r[k] for r in rows])) for k in keys}}
