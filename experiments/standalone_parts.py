"""Stand-alone runs that span sessions: copy each part's small files (cells, config, run,
table, metrics log; no checkpoints) between a live workdir and the repository's results.

`jaxnas standalone --resume` on a restored part skips every cell its table holds (a cell cut off
mid-training starts again), so a run's progress survives a fresh machine. A part is copied only
where the source is further along than the destination, so neither `save` nor `restore` ever
replaces progress with less of it (e.g. a live workdir, or results saved elsewhere).
"""

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from jaxnas.analysis import plots, proxy

KEPT = ("cells.txt", "config.json", "run.json", "table.csv", "metrics.jsonl")


def progress(part):
    """(finished cells, metrics lines) of a part's folder: which copy is further along."""
    def count(path):
        return len(path.read_text().splitlines()) if path.is_file() else 0
    return count(part / "table.csv"), count(part / "metrics.jsonl")


def copy_parts(src, dst, parts):
    """Copy each of `parts` (folder names) from `src` to `dst` where `src` is further along."""
    for part in parts:
        if not (src / part / "cells.txt").is_file():
            continue
        if (dst / part / "cells.txt").is_file() and progress(src / part) <= progress(dst / part):
            print(f"{dst / part} is as far along as {src / part}: kept")
            continue
        (dst / part).mkdir(parents=True, exist_ok=True)
        for name in KEPT:
            if (src / part / name).is_file():
                shutil.copy2(src / part / name, dst / part / name)
        print(f"{src / part} -> {dst / part}")


def parser(doc):
    """`(parser, subparsers)` with the subcommands of an experiment that spans sessions:
    `cells OUT`, `save SRC DST`, `restore SRC DST`, `report RESULTS`."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("cells").add_argument("out", type=Path)
    for name in ("save", "restore"):
        s = sub.add_parser(name)
        s.add_argument("src", type=Path)
        s.add_argument("dst", type=Path)
    sub.add_parser("report").add_argument("results", type=Path)
    return p, sub


def write_report(results, report, markdown, curves=None, truth_label=None):
    """`report` (a dict) as `results/report.json`, its `markdown(report)` as `report.md`,
    printed; with the cells' learning `curves` and the report's `convergence` rows, also
    `report.png` (`plots.learning_curves`), linked from the markdown."""
    text = markdown(report)
    if curves and report.get("convergence"):
        plots.learning_curves(curves, report["convergence"], results / "report.png",
                              truth_label=truth_label)
        text += "\n![learning curves and the ranking over epochs](report.png)\n"
    (results / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    (results / "report.md").write_text(text)
    print(text, end="")


def curves(results, parts):
    """`{cell: {epoch: held-out accuracy}}` over the parts' metrics logs (`proxy.curves`)."""
    out = {}
    for part in parts:
        out.update(proxy.curves(results / part / "metrics.jsonl"))
    return out


def training_seconds(part, first_stack=1, last_stack=None):
    """Training seconds of each finished cell of a part run one cell a stack (K=1): its median
    epoch (robust to a paused or shared core) times its epochs, evaluation not counted; only
    the stacks (cells, counted from 1) `first_stack` to `last_stack` where given."""
    path, table = part / "metrics.jsonl", part / "table.csv"
    if not path.is_file() or not table.is_file():
        return []
    done = len([line for line in table.read_text().splitlines()[1:] if line.strip()])
    epochs = {}
    for line in path.read_text().splitlines():
        r = json.loads(line)
        epochs.setdefault(r["stack"], {})[r["epoch"]] = r["seconds"]
    return [float(np.median(list(t.values()))) * len(t)
            for stack, t in sorted(epochs.items())
            if first_stack <= stack <= (done if last_stack is None else min(done, last_stack))]


def rate(seconds):
    """Count, median, mean and range of per-cell `seconds`, and the cells per CPU-hour of one
    pinned process they mean (None without any)."""
    if not seconds:
        return None
    return {"cells": len(seconds), "median_s": float(np.median(seconds)),
            "mean_s": float(np.mean(seconds)), "min_s": float(min(seconds)),
            "max_s": float(max(seconds)), "cells_per_cpu_hour": 3600 / float(np.mean(seconds))}


def tau_text(agreement):
    """A `proxy.agreement` as report text: tau [95% interval] (n=cells)."""
    lo, hi = agreement["tau_ci95"]
    return f"{agreement['kendall_tau']:.3f} [{lo:.3f}, {hi:.3f}] (n={agreement['cells']})"


def seed_row(agreement, table):
    """A `proxy.seed_agreement` of `table` (its name in the text) as a report table row."""
    return (f"| seed 1 vs seed 0 of {table} (mean absolute difference "
            f"{agreement['mean_abs_diff']:.2f} points) | {tau_text(agreement)} |")


def rate_text(rate, noun, plural, epochs):
    """A `rate` as the report's sentence on training time, per `noun` trained `epochs`."""
    return (f"Training time per {noun} ({rate['cells']} {plural}; its median epoch x {epochs}, "
            f"evaluation not counted): median {rate['median_s'] / 60:.1f} min, range "
            f"{rate['min_s'] / 60:.1f}-{rate['max_s'] / 60:.1f} min; "
            f"{rate['cells_per_cpu_hour']:.2f} {plural} per CPU-hour.")
