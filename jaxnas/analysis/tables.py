"""Per-seed tables of finished runs, in markdown with the numbers behind them as JSON.

  `method_table`  every method's paired runs: ranking quality of the final supernet and the
                  cell it finds (ground truth and rank), train and search time; mean ± std over
                  seeds (`seed_row` per seed)
  `found_vs`      the found cell's test accuracy of each arm against a base, paired by seed
  `epoch_table`   the last in-training evaluation of runs (mean ± std, per-seed values)
  `final_table`   final `jaxnas evaluate` reports of runs (mean ± std, per-seed values)
"""

from pathlib import Path

import numpy as np

from jaxnas.analysis import arms as arms_lib
from jaxnas.analysis.plots import evals
from jaxnas.analysis.stats import diff_row
from jaxnas.search import result

COLUMNS = (("images_per_arch", "images per cell", 0), ("kendall_tau", "Kendall's tau", 3),
           ("sparse_kendall_tau", "sparse tau", 3),
           ("p_at_top_5", "P@top-5%", 3), ("found_test_acc", "found cell test acc", 2),
           ("found_rank_test", "found cell rank", 0), ("train_minutes", "train min", 1),
           ("search_seconds", "search s", 0))
RANKING = (("kendall_tau", "Kendall's tau"), ("sparse_kendall_tau", "sparse tau"),
           ("p_at_top_5", "P@top-5%"), ("spearman_rho", "Spearman's rho"),
           ("top1_true_rank", "true rank of top-1"))


def seed_row(seed):
    """The numbers of one `arms.Seed` (ranking columns NaN for a seed that only searched)."""
    final = seed.final or {}
    row = {k: final.get(k, np.nan) for k in ("kendall_tau", "sparse_kendall_tau", "p_at_top_5",
                                               "images_per_arch")}
    index, seconds, how = arms_lib.found_index(seed)
    info = result.describe(int(index))
    row.update(found_index=int(index), found_arch=info["arch"], found_test_acc=info["test_acc"],
               found_rank_test=info["rank_test"], found_by=how, search_seconds=seconds,
               train_minutes=sum(x.get("seconds", 0.0) for x in seed.log) / 60)
    return row


def arm_rows(seeds):
    """`{seed: seed_row}` of an arm (`arms.load`)."""
    return {s: seed_row(seed) for s, seed in seeds.items()}


def _cell(values, digits):
    v = np.array(values, float)
    if np.isnan(v).all():
        return "—"
    if np.all(v == v[0]):
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1) if v.size > 1 else 0:.{digits}f}"


def method_table(table):
    """Markdown of `{arm: arm_rows}`: one line per arm, mean ± std (ddof 1) over its seeds."""
    head = "| method | seeds | " + " | ".join(c[1] for c in COLUMNS) + " |"
    lines = [head, "|---|---|" + "---|" * len(COLUMNS)]
    for arm, rows in table.items():
        cells = [_cell([r[key] for r in rows.values()], digits) for key, _, digits in COLUMNS]
        lines.append(f"| {arm} | {','.join(map(str, rows))} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def found_vs(table, base):
    """Per arm: per-seed difference of the found cell's test accuracy against arm `base`."""
    lines = [f"Found cell's test accuracy, arm - {base}, paired by seed:", "",
             "| method | seeds | per seed | mean, 95% CI |", "|---|---|---|---|"]
    found = {arm: {s: r["found_test_acc"] for s, r in rows.items()}
             for arm, rows in table.items()}
    rows = (diff_row(arm, found[arm], found[base]) for arm in found if arm != base)
    return "\n".join(lines + [r for r in rows if r]) + "\n"


def spread(values, digits=3):
    """`mean ± std [per-seed values]` (std with ddof 0, as the epoch tables always had)."""
    values = np.asarray(values, float)
    seeds = ", ".join(f"{v:.{digits}f}" for v in values)
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f} [{seeds}]"


def epoch_row(logs):
    """Of `{seed: metrics log}`: the last evaluated epoch, each metric's final values over
    seeds, and the mean train and evaluation seconds per seed."""
    finals, epochs, train_s, eval_s = {m: [] for m, _ in RANKING}, [], [], []
    for log in logs.values():
        ep, vals = evals(log, [m for m, _ in RANKING])
        for m in finals:
            finals[m].append(vals[m][-1])
        epochs.append(int(ep[-1]))
        train_s.append(sum(r["seconds"] for r in log))
        eval_s.append(sum(r["eval"]["seconds"] for r in log if "eval" in r))
    return {"epochs": epochs[0], "finals": finals, "train_seconds": float(np.mean(train_s)),
            "eval_seconds": float(np.mean(eval_s))}


def epoch_table(runs, params=None):
    """Markdown of `{name: {seed: metrics log}}`; `params[name]` (text) fills a last column."""
    head = ["run", "epochs", *[label for _, label in RANKING], "train s/seed", "eval s/seed",
            "params"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, logs in runs.items():
        row = epoch_row(logs)
        cells = [name, str(row["epochs"]),
                 *[spread(row["finals"][m], 0 if m == "top1_true_rank" else 3)
                   for m, _ in RANKING],
                 f"{row['train_seconds']:.0f}", f"{row['eval_seconds']:.0f}",
                 (params or {}).get(name, "")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def final_table(reports):
    """Markdown of `{name: [final jaxnas evaluate reports, one per seed]}`."""
    head = ["run", "cells x images", *[label for _, label in RANKING], "P@top-10%"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, rs in reports.items():
        cells = [name, f"{rs[0]['num_archs']} x {rs[0]['images_per_arch']}"]
        for metric in [m for m, _ in RANKING] + ["p_at_top_10"]:
            cells.append(spread([r[metric] for r in rs], 0 if metric == "top1_true_rank" else 3))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def over_epochs_by_group(results, keys):
    """Per group of runs (`results`: `{workdir: {"rows": [{"epoch", key: value}]}}`, grouped by
    the workdir's parent folder, e.g. spos/seed0..4) and each of `keys`: the mean, std (ddof 0)
    and number of runs of every epoch's value, as `{"group/key": [{"epoch", "mean", "std",
    "runs"}]}`."""
    groups = {}
    for name, res in results.items():
        groups.setdefault(Path(name).parent.name, []).append(res)
    out = {}
    for group, runs in groups.items():
        for key in keys:
            by_epoch = {}
            for res in runs:
                for r in res["rows"]:
                    if key in r:
                        by_epoch.setdefault(r["epoch"], []).append(r[key])
            if by_epoch:
                out[f"{group}/{key}"] = [
                    {"epoch": e, "mean": float(np.mean(v)), "std": float(np.std(v)), "runs": len(v)}
                    for e, v in sorted(by_epoch.items())]
    return out
