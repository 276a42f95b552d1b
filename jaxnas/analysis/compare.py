"""`jaxnas compare`: arms against a base, paired by seed, as a report a reviewer can check.

Every arm (`arms.load`: a result folder of `seed<S>.final.json` or a folder of seed run dirs)
is paired with the base seed by seed (`paired.check_pairing` refuses anything else in one
line), its ranking metrics recomputed on the cells both scored, and the per-seed differences
summarised by their mean and 95% Student-t interval, saying plainly whether it includes zero.
The found cell (the run's search result, else its best-scored cell) is compared by its
ground-truth test accuracy. The ground truth is the column the reports name (`gt`), of the
dataset they name (cifar10-valid by default), under the protocol they name; or, for reports
ranked against a stand-alone table (`jaxnas evaluate --gt TABLE.csv`, any space), the values
of that table they carry (found cells are then not compared). With `gt` (`jaxnas compare --gt
nb201-mini|TABLE.csv`), NB201 reports are ranked again, from the per-cell scores they hold,
against a stand-alone table on the cells it has: the same arms against another ground truth,
e.g. the mini scale's own, without scoring anything again.
"""

from pathlib import Path

from jaxnas.analysis import arms as arms_lib
from jaxnas.analysis import paired, plots
from jaxnas.analysis.stats import verdict
from jaxnas.errors import UsageError
from jaxnas.evaluate import protocols


def _table_truth(reports):
    """`{cell: value}` of the stand-alone table the reports were ranked against (each report
    carries its cells' values), and its name; UsageError when they disagree."""
    truth = {}
    for r in reports:
        for cell, value in arms_lib.cell_truth(r).items():
            if truth.setdefault(cell, value) != value:
                raise UsageError(f"the reports give cell {cell} two ground-truth values "
                                 f"({truth[cell]} and {value}): not one table")
    first = reports[0]
    return truth, {"protocol": first.get("protocol", "default"), "dataset": "stand-alone table",
                   "column": first.get("gt", "valid_acc"), "text": first["ground_truth"]}


def _truth(reports):
    """The ground truth the reports were ranked against, and its name: NB201's column `[15625]`
    (by index), or `{cell: value}` of the stand-alone table they name (`gt_table`)."""
    tables = {r.get("gt_table") for r in reports}
    if len(tables) > 1:
        raise UsageError(f"the reports use different ground truths: "
                         f"{sorted(str(t) for t in tables)}")
    if tables != {None}:
        return _table_truth(reports)
    keys = {(r.get("protocol", "default"), r.get("dataset", protocols.DEFAULT_DATASET),
             r.get("gt", "valid_acc")) for r in reports}
    if len(keys) > 1:
        raise UsageError(f"the reports use different ground truths or protocols: {sorted(keys)}")
    protocol, dataset, column = next(iter(keys))
    split = column.removesuffix("_acc")
    truth = protocols.truth_column(protocol, dataset, split)
    return truth, {"protocol": protocol, "dataset": dataset, "column": column,
                   "text": protocols.describe_truth(protocol, dataset, split)}


def _given_truth(gt, split, reports):
    """`{index: value}` of the stand-alone NB201 table `gt` (a `GroundTruth`) to rank the
    reports' scores against, and its name."""
    if any("indices" not in r for r in reports):
        raise UsageError("--gt ranks NB201 reports again; these score architectures without "
                         "NB201 indices (rank them with jaxnas evaluate --gt TABLE.csv)")
    column = f"{split}_acc"
    return dict(zip(gt.indices.tolist(), gt.get(column).tolist())), {
        "protocol": reports[0].get("protocol", "default"), "dataset": "stand-alone table",
        "column": column, "text": f"{gt.source} {column}, ranked from the reports' scores"}


def compare(base_path, arm_paths, *, common_seeds=False, within_space=False,
            names=paired.ALL_METRICS, report="evaluate.json", gt=None, gt_split="valid"):
    """The comparison of every arm of `arm_paths` against the base: a JSON-ready dict.
    `report`: the evaluation file read from each run directory of an arm of run dirs. `gt`: a
    stand-alone NB201 table (`GroundTruth`) to rank the reports' scores against instead of the
    ground truth they name, on its cells (`gt_split`: its valid or test accuracy)."""
    base_path = Path(base_path)
    base = arms_lib.load(base_path, report=report)
    loaded = {Path(p): arms_lib.load(p, report=report) for p in arm_paths}
    base_name = base_path.name
    paired_seeds = {path: paired.check_pairing(base_name, base, path.name, arm,
                                               common_seeds=common_seeds)
                    for path, arm in loaded.items()}
    reports = [x[s].final for path, seeds in paired_seeds.items() for s in seeds
               for x in (base, loaded[path])]
    truth, ground_truth = _truth(reports) if gt is None else _given_truth(gt, gt_split, reports)
    table = isinstance(truth, dict)
    if table and within_space and gt is None:
        raise UsageError("--within-space reads NB201 spaces; these reports rank a stand-alone "
                         "table's cells")
    # a found cell is judged by NB201's test accuracy; a table's cells have no such column here
    found_truth = None if table else protocols.truth_column("default", ground_truth["dataset"],
                                                            "test")
    out = {"base": str(base_path), "ground_truth": ground_truth,
           "found_truth": None if table else f"{ground_truth['dataset']} test_acc",
           "within_space": within_space,
           "images_per_arch": reports[0].get("images_per_arch"), "arms": {}}
    for path, arm in loaded.items():
        seeds = paired_seeds[path]
        b = {s: arms_lib.cell_scores(base[s].final) for s in seeds}
        a = {s: arms_lib.cell_scores(arm[s].final) for s in seeds}
        keep = {s: arms_lib.space_cells(arm[s].log) for s in seeds} if within_space else None
        if gt is not None:  # the table's cells only
            keep = {s: set(truth) & (keep[s] if keep else set(truth)) for s in seeds}
        rows, summary = paired.compare(b, a, truth, keep, names)
        found, found_ci = ([], None) if table else paired.found_rows(base, arm, found_truth,
                                                                     seeds)
        out["arms"][path.name] = {
            "path": str(path), "seeds": seeds, "rows": rows, "summary": summary,
            "found": found, "found_summary": found_ci,
            "verdict": {m: verdict(ci) for m, ci in summary.items()}
            | ({} if table else {"found_test_acc": verdict(found_ci, 2)})}
    return out


def markdown(report):
    """The tables and one sentence per metric of a `compare` report."""
    g = report["ground_truth"]
    base = Path(report["base"]).name
    lines = [f"Protocol {g['protocol']}; ground truth {g['text']}; "
             f"{report['images_per_arch']} images per cell"
             + (", cells inside each arm's final space" if report["within_space"] else ""), ""]
    for name, arm in report["arms"].items():
        lines.append(paired.markdown(name, base, arm["rows"], arm["summary"]))
        if report["found_truth"] is None:
            lines.append("Found cells: not compared (the ground truth is a stand-alone table, "
                         "which need not hold them).\n")
        else:
            lines.append(paired.found_markdown(name, base, arm["found"], arm["found_summary"],
                                               report["found_truth"]))
        lines += [f"* {m}: {v}" for m, v in arm["verdict"].items()] + [""]
    return "\n".join(lines)


def epochs_plot(base_path, arm_paths, path, *, report="evaluate.json"):
    """The in-training evaluations of the base and every arm over epochs (`plots.over_epochs`,
    from each seed's metrics log); UsageError when no log holds one."""
    runs = {}
    for p in [base_path, *arm_paths]:
        logs = {s: seed.log for s, seed in arms_lib.load(p, report=report).items()
                if any("eval" in r for r in seed.log)}
        if logs:
            runs[Path(p).name] = logs
    if not runs:
        raise UsageError("no metrics log of these arms holds an in-training evaluation "
                         "(train with eval.every_epochs > 0)")
    truths = {r["eval"].get("gt_table") or "NB201" for logs in runs.values()
              for log in logs.values() for r in log if "eval" in r}
    if len(truths) > 1:  # eval.table: one run's curve ranks other cells against another truth
        raise UsageError(f"the in-training evaluations rank against different ground truths "
                         f"({', '.join(sorted(truths))}); their curves do not compare")
    plots.over_epochs(runs, path)


def plot(report, path, metric="kendall_tau"):
    """Per-seed lines, base to arm, one panel per arm (`plots.paired`)."""
    data = {name: {"rows": a["rows"], "summary": a["summary"]}
            for name, a in report["arms"].items()}
    plots.paired(Path(report["base"]).name, data, path, metric)
