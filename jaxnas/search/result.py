"""A search's result file: the found cell with its NB201 ground truth, and the trajectory.

`report` builds a JSON-ready dict: the found cell (string, official index, isomorphism class,
ground-truth cifar10-valid `valid` (x-valid) and `test` (ori-test) accuracy at 200 epochs, and its
rank among the 15,625 cells by each, 1 = best), the best cell of the searched space by the ground
truth for reference, and the trajectory: per evaluation (random search, evolution) the cell, its
score and the best cell so far, or per epoch the cell a differentiable search would return then
(GDAS). `write` saves it as JSON with a plot beside it.

In the DARTS space (`space=DARTS`) there is no shipped ground truth: the found genotype is its
`Genotype(...)` text and NB301 compact form (`ops` the `[28]` encoding), `ground_truth` is None
and the accuracies and ranks are absent; the trajectory holds scores and each step's genotype.
`judge` adds a stand-alone table's verdict in either space (`jaxnas search --gt TABLE.csv`).
"""

import functools
import json
from pathlib import Path

import numpy as np

from jaxnas.evaluate import groundtruth
from jaxnas.spaces import NB201, nb201
from jaxnas.spaces import darts


@functools.cache
def _truth():
    """Ground-truth valid and test accuracy `[15625]` in official index order."""
    table = groundtruth.load_table("cifar10-valid")
    out = {}
    for split in ("valid", "test"):
        values = np.full(nb201.NUM_ARCHS, np.nan)
        values[table.indices] = table.get(f"{split}_acc")
        out[split] = values
    return out


def describe(arch) -> dict:
    """NB201 facts of one cell (anything `nb201.parse_arch` accepts)."""
    ops = nb201.parse_arch(arch)
    index = nb201.arch_to_index(ops)
    info = {"arch": nb201.arch_to_str(ops), "ops": ops.tolist(), "index": index,
            "canonical_index": nb201.canonical_index(ops)}
    for split, values in _truth().items():
        info[f"{split}_acc"] = float(values[index])
        info[f"rank_{split}"] = int(np.sum(values > values[index])) + 1
    info["num_archs"] = nb201.NUM_ARCHS
    return info


def best_in_space(mask=None) -> dict:
    """`describe` of the cell with the highest ground-truth valid accuracy among those `mask`
    allows (the optimum a search of that space could reach)."""
    allowed = nb201.check_mask(mask)
    ok = allowed[np.arange(nb201.NUM_EDGES), nb201.all_archs()].all(axis=1)
    valid = np.where(ok, _truth()["valid"], -np.inf)
    return describe(int(np.argmax(valid)))


def _steps(n, facts, scores=None, x=None, best_facts=None):
    """Per step `i` of `n`: `{"n": i + 1, **facts(i)}`, with `x[i]`, and with `scores` the
    step's score, the best score so far and `best_<key>` of `best_facts(best)` (default
    `facts`)."""
    best_facts = facts if best_facts is None else best_facts
    steps, best = [], None
    for i in range(n):
        step = {"n": i + 1, **facts(i)}
        if x is not None:
            step["x"] = x[i]
        if scores is not None:
            step["score"] = float(scores[i])
            if best is None or scores[i] > scores[best]:
                best = i
            step["best_score"] = float(scores[best])
            step.update({f"best_{k}": v for k, v in best_facts(best).items()})
        steps.append(step)
    return steps


def trajectory(archs, scores=None, x=None) -> list:
    """Per step: the cell, its score and the best cell so far by score (when `scores` are
    given), each with its ground-truth accuracies; without scores, each step's cell alone.
    `x` (e.g. epochs) labels the steps instead of their count `n`."""
    truth = _truth()
    indices = nb201.archs_to_indices(np.asarray(archs, np.int32).reshape(-1, nb201.NUM_EDGES))

    def facts(i):
        index = int(indices[i])
        return {"index": index, "valid_acc": float(truth["valid"][index]),
                "test_acc": float(truth["test"][index])}
    return _steps(len(indices), facts, scores, x)


def describe_darts(arch) -> dict:
    """DARTS facts of one genotype: its text, NB301 compact form and `[28]` encoding; no ground
    truth ships for this space."""
    ops = darts.parse_arch(arch)
    return {"arch": darts.arch_to_str(ops), "compact": str(darts.to_compact(ops)),
            "ops": ops.tolist(), "index": None, "ground_truth": None}


def _report_darts(arch, *, strategy, metric, score, archs, scores, x, mask, info):
    """`report` in the DARTS space: genotypes and scores, no ground truth."""
    result = {"strategy": strategy, "metric": metric, "space": "darts",
              "found": describe_darts(arch), "score": None if score is None else float(score),
              **info}
    if mask is not None:
        result["mask"] = darts.mask_to_str(mask)
    if archs is not None:
        texts = [darts.arch_to_str(a) for a in np.asarray(archs, np.int32)]
        steps = _steps(len(texts), lambda i: {"arch": texts[i]}, scores, x,
                       best_facts=lambda i: {})
        result.update(evaluated=len(steps), evaluated_unique=len(set(texts)), trajectory=steps)
    return result


def report(arch, *, strategy, metric=None, score=None, archs=None, scores=None, x=None,
           mask=None, space=NB201, **info) -> dict:
    """The result of a search that returned `arch` after evaluating `archs` (with `scores`; `x`
    labels the trajectory's steps, see `trajectory`) in `space` (NB201 or DARTS).

    `info` (seed, budget, seconds, workdir, x_label...) is stored as given.
    """
    if space.name == "darts":
        return _report_darts(arch, strategy=strategy, metric=metric, score=score, archs=archs,
                             scores=scores, x=x, mask=mask, info=info)
    result = {"strategy": strategy, "metric": metric, "found": describe(arch),
              "score": None if score is None else float(score), **info}
    if mask is not None:
        result["mask"] = np.asarray(mask, bool).astype(int).tolist()
    result["best_in_space"] = best_in_space(mask)
    if archs is not None:
        steps = trajectory(archs, scores, x)
        result["evaluated"] = len(steps)
        result["evaluated_unique"] = len({s["index"] for s in steps})
        result["trajectory"] = steps
    return result


def judge(result, table, space, split="valid") -> dict:
    """`result` (a `report`) judged by a stand-alone table of `space` (`jaxnas standalone`'s,
    e.g. the shipped nb201-mini, or one of DARTS genotypes, which have no other truth), in
    place: under `result["table"]` the found cell's `<split>_acc` in the table and its rank
    among the table's cells (1 = best; None when the table lacks it), the best cell the search
    scored among those the table holds (a small table rarely holds the found one), and the
    table's own best; each trajectory step gains `table_acc` (None where absent) and, when
    scored, `best_table_acc` of the best so far. Isomorphic cells share a row."""
    column = f"{split}_acc"
    values = np.asarray(table.get(column), np.float64)
    keys = groundtruth.table_keys(table, space)
    row = dict(zip(keys, range(len(keys))))

    def facts(arch):
        key = space.to_str(space.canonical(space.check(arch, batched=False)[None])[0])
        i = row.get(key)
        return {"arch": key, "in_table": i is not None,
                "acc": None if i is None else float(values[i]),
                "rank": None if i is None else int(np.sum(values > values[i])) + 1}

    found = result["found"]
    out = {"source": table.source, "column": column, "cells": len(keys),
           "found": facts(found["ops"]),
           "best_in_table": {"arch": keys[int(np.argmax(values))],
                             "acc": float(values.max()), "rank": 1}}
    steps = result.get("trajectory") or []
    arch_of = ((lambda s: nb201.index_to_arch(s["index"])) if space.name == "nb201"
               else (lambda s: space.from_str(s["arch"])))
    judged, best = [facts(arch_of(s)) for s in steps], None
    for step, f in zip(steps, judged):
        step["table_acc"] = f["acc"]
        if "score" in step and f["in_table"] and (best is None or step["score"] > best[0]):
            best = (step["score"], f)
        if "score" in step:
            step["best_table_acc"] = None if best is None else best[1]["acc"]
    out["evaluated_in_table"] = len({f["arch"] for f in judged if f["in_table"]})
    out["best_scored_in_table"] = None if best is None else {**best[1], "score": best[0]}
    result["table"] = out
    return result


def headline(result) -> dict:
    """A search result's headline (`jaxnas search` prints it, `jaxnas run` summarises with it):
    the found cell and its ground truth; a judging table's verdict under `table`."""
    found = result["found"]
    head = {"strategy": result["strategy"], "metric": result.get("metric"),
            "score": result.get("score"), "arch": found["arch"]}
    if "table" in result:  # judged by a stand-alone table (`judge`)
        t = result["table"]
        head["table"] = {"column": t["column"], "cells": t["cells"], **{
            k: t["found"][k] for k in ("in_table", "acc", "rank")}}
        if t["best_scored_in_table"] is not None:
            head["table"]["best_scored_in_table"] = {
                k: t["best_scored_in_table"][k] for k in ("arch", "acc", "rank")}
    if "compact" in found:  # DARTS: no ground truth ships
        return {**head, "compact": found["compact"], "ground_truth": None}
    return {**head, "index": found["index"], "valid_acc": found["valid_acc"],
            "test_acc": found["test_acc"], "rank_valid": found["rank_valid"],
            "rank_test": found["rank_test"]}


def write(result, path, *, plot_file=True):
    """Write `result` as JSON to `path` and, with `plot_file`, its trajectory plot beside it
    (same name, `.png`). Returns the paths written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    tmp.replace(path)
    written = [path]
    if plot_file and result.get("trajectory"):
        written.append(plot(result, path.with_suffix(".png")))
    return written


def plot(result, path):
    """Trajectory plot, one panel each: scores and best-so-far score (when scored); the NB201
    ground-truth accuracy of the best cell so far (or of each step's cell) against the space's
    optimum; a judging table's accuracy (`judge`) likewise against the table's best; DARTS
    without either and without scores (GDAS): how far each step's genotype is from the found."""
    from matplotlib.figure import Figure  # no pyplot: leaves the user's backend alone

    steps = result["trajectory"]
    n = [s.get("x", s["n"]) for s in steps]
    scored = "score" in steps[0]
    truth = result["found"].get("ground_truth", "nb201") is not None
    table = result.get("table")
    panels = ["score"] * scored + ["truth"] * truth + ["table"] * (table is not None)
    panels = panels or ["distance"]
    fig = Figure(figsize=(8, 1.0 + 2.5 * len(panels)))
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    prefix = "best_" if scored else ""
    for ax, panel in zip(axes, panels):
        if panel == "score":
            ax.plot(n, [s["score"] for s in steps], ".", ms=3, alpha=0.4, label="score")
            ax.plot(n, [s["best_score"] for s in steps], "-", drawstyle="steps-post",
                    label="best so far")
            ax.set_ylabel(f"supernet {result.get('metric') or 'score'}")
        elif panel == "truth":
            for split in ("valid", "test"):
                ax.plot(n, [s[f"{prefix}{split}_acc"] for s in steps], "-",
                        drawstyle="steps-post",
                        label=f"GT {split} acc" + (" of the best so far" if scored else ""))
            ax.axhline(result["best_in_space"]["valid_acc"], color="gray", ls=":",
                       label="best GT valid acc in space")
            ax.set_ylabel("NB201 accuracy (%)")
        elif panel == "table":
            ys = [s[f"{prefix}table_acc"] for s in steps]
            ax.plot(n, [np.nan if y is None else y for y in ys], "-" if scored else "o",
                    drawstyle="steps-post", label=("best scored cell the table holds, so far"
                                                   if scored else "each step's cell"))
            ax.axhline(table["best_in_table"]["acc"], color="gray", ls=":",
                       label="the table's best")
            ax.set_ylabel(f"table {table['column']} (%)")
        else:  # GDAS's DARTS choices: how far each is from the found genotype
            final = darts.str_to_arch(result["found"]["arch"])
            ax.plot(n, [int((darts.str_to_arch(s["arch"]) != final).sum()) for s in steps],
                    "o-", drawstyle="steps-post")
            ax.set_ylabel("edges unlike the found cell")
        if panel != "distance":
            ax.legend(loc="lower right", fontsize=7)
    axes[-1].set_xlabel(result.get("x_label", "architectures evaluated"))
    found = result["found"]
    if truth:
        title = (f"{result['strategy']}: {found['arch']}\nindex {found['index']}, "
                 f"valid {found['valid_acc']:.2f}% (rank {found['rank_valid']}), "
                 f"test {found['test_acc']:.2f}% (rank {found['rank_test']})")
    else:
        title = f"{result['strategy']}: {found['compact']}"
    if table is not None:
        f = table["found"]
        title += (f"\ntable {table['column']} {f['acc']:.2f}% (rank {f['rank']} of "
                  f"{table['cells']})" if f["in_table"] else
                  f"\nnot in the table ({table['cells']} cells)")
    elif not truth:
        title += "\n(no ground truth for this space)"
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return Path(path)
