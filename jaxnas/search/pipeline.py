"""One command from a config to the found architecture: train, evaluate, search (`jaxnas run`).

Each stage leaves its output in the workdir and is skipped when that output is already there
for the run's latest checkpoint, so rerunning the command after an interruption continues where
it stopped: training resumes from its newest checkpoint, the ranking evaluation is redone only
if missing, and the search replays its seeded proposals from the on-disk score cache.

  W/checkpoints, W/metrics.jsonl   training (`jaxnas train`)
  W/evaluate.json                  ranking of `eval.num_archs` cells (`jaxnas evaluate`)
  W/evaluate_space.json            a run whose techniques narrow the space (ABS): the same
                                   inside the space it ended in (`--within-space`), where the
                                   search looks
  W/search/<strategy>.json, .png   the found cell and the trajectory (`jaxnas search`);
                                   a run with a technique that selects a cell itself (`gdas`)
                                   also gets `gdas.json`
  W/summary.json                   what `run` returns: each stage's result and time; the
                                   command line prints it as one screen (`format_summary`)

The search settings are `config.search` (`jaxnas.train.defaults.search_block`).

`eval.table` (a `jaxnas standalone` table, or nb201-mini) replaces NB201's ground truth in
both stages: the ranking is of the table's cells against it, and it judges each search
(`result.judge`). It is read before training, so a bad table stops the run first.

In the DARTS space no ground truth ships: without `eval.table` the ranking stage is skipped and
the summary names the found genotype (`Genotype(...)` text and NB301 compact form) without a
true accuracy.
"""

import json
import time
from pathlib import Path

from jaxnas import spaces
from jaxnas.errors import ConfigError
from jaxnas.evaluate.groundtruth import space_table
from jaxnas.search import result
from jaxnas.search.settings import settings
from jaxnas.search.workdir import search_workdir
from jaxnas.train import checkpoint, loop
from jaxnas.train.evaluation import evaluate_workdir
from jaxnas.train.open_run import run_info
from jaxnas.train.recipe import from_config


def _latest_step(workdir):
    steps = checkpoint.steps(workdir)
    return max(steps) if steps else None


def _trained(config, workdir):
    """Whether `workdir` holds this config's run, trained to its last step."""
    spe, step = run_info(workdir).get("steps_per_epoch"), _latest_step(workdir)
    if not spe or step is None:
        return False
    checkpoint.check_compatible((Path(workdir) / "config.json").read_text(), config, workdir)
    return step >= spe * config.train.epochs


def _read(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def _declared(config, workdir):
    """`(selects, narrows)`: whether a technique of `config` selects a cell itself
    (`Technique.found`, GDAS) and whether one narrows the space (provides "space", ABS), from
    the recipe built without data."""
    recipe = from_config(config.copy_and_resolve_references(), data=False, steps_per_epoch=1,
                         workdir=workdir)
    return (recipe.found is not None,
            any("space" in t.provides for t in recipe.techniques))


def run(config, workdir, *, search=None, progress=True):
    """Train, evaluate and search the run of `config` in `workdir`; returns a summary dict.

    `search` (a mapping of `config.search` keys) overrides the config's search settings.
    """
    workdir = Path(workdir)
    opts = settings(config, **dict(search or {}))
    source = config.eval.get("table", "")
    table = space_table(source, spaces.get(config.get("space", "nb201"))) if source else None
    truth = None if table is None else table.source  # what a stored stage was judged by
    selects, narrows = _declared(config, workdir)
    if opts["strategy"] == "gdas" and not selects:
        raise ConfigError("search.strategy='gdas' needs gdas in config.techniques")
    summary, seconds, clock = {}, {}, time.perf_counter()

    def lap(stage):
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = round(now - clock, 1)
        clock = now

    if _trained(config, workdir):
        summary["train"] = "done before"
    else:
        record = loop.train(config, workdir, resume=_latest_step(workdir) is not None,
                            progress=progress)
        summary["train"] = {k: v for k, v in record.items() if not isinstance(v, dict)}
    step = _latest_step(workdir)
    lap("train")

    e = config.eval
    darts = config.get("space", "nb201") == "darts"
    unranked = darts and table is None
    if unranked:
        summary["evaluate"] = None  # no ground truth: `format_summary` says so
    for name, within in (("evaluate", False), ("evaluate_space", True)):
        if (within and not narrows) or unranked:
            continue
        eval_path = workdir / f"{name}.json"
        report = _read(eval_path)
        if not report or report.get("step") != step or report.get("gt_table") != truth:
            report = evaluate_workdir(workdir, archs=e.num_archs, seed=e.seed, gt=e.gt,
                                      within_space=within, progress=progress, table=table)
            eval_path.write_text(json.dumps(report, indent=1) + "\n")
        summary[name] = {k: v for k, v in report.items() if not isinstance(v, (list, dict))}
    lap("evaluate")

    strategies = [opts["strategy"]]
    if selects and "gdas" not in strategies:
        strategies.append("gdas")
    summary["search"] = {}
    for strategy in strategies:
        out = workdir / "search" / f"{strategy}.json"
        wanted = {k: v for k, v in opts.items() if k != "strategy"} if strategy != "gdas" else {}
        found = _read(out)
        fresh = found and found.get("step") == step and all(
            found.get(k) == v for k, v in wanted.items() if k in ("seed", "budget", "metric")
        ) and (found.get("table") or {}).get("source") == truth
        if not fresh:
            found = search_workdir(workdir, **{**wanted, "strategy": strategy}, out=out,
                                   progress=progress, table=table, gt_split=e.gt)
        summary["search"][strategy] = {**result.headline(found), "result": str(out)}
        plot = out.with_suffix(".png")
        if plot.is_file():
            summary["search"][strategy]["plot"] = str(plot)
    lap("search")
    summary.update(workdir=str(workdir), step=step, epochs=config.train.epochs, seconds=seconds)
    (workdir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def format_summary(summary):
    """`run`'s summary as one screen of text: the ranking with what it was measured on, each
    found cell with its true accuracy and rank, the time each stage took, where the files are."""
    w, lines = summary["workdir"], []
    lines.append(f"jaxnas run {w}: {summary['epochs']} epochs, step {summary['step']}")
    if "evaluate" in summary and summary["evaluate"] is None:
        lines.append("  ranking: not measured: no ground truth ships for the DARTS space (rank "
                     "the run against genotypes you trained: eval.table=TABLE.csv, or jaxnas "
                     "evaluate --gt TABLE.csv)")
    for name, where in (("evaluate", "whole space"), ("evaluate_space", "in the run's space")):
        e = summary.get(name)
        if not e:
            continue
        images = e.get("images_per_arch")
        lines.append(
            f"  ranking ({where}): Kendall's tau {e['kendall_tau']:.3f}, sparse tau "
            f"{e['sparse_kendall_tau']:.3f}, Spearman {e['spearman_rho']:.3f}, P@top-5% "
            f"{e['p_at_top_5']:.2f}")
        lines.append(
            f"    protocol {e.get('protocol', 'default')}: {e['n']} cells, "
            f"{f'{images:,} held-out images each, ' if images else ''}scored by "
            f"{e.get('metric', 'accuracy')}")
        lines.append(f"    against {e.get('ground_truth', e.get('gt', '?'))}")
        lines.append(f"    {w}/{name}.json")
    for strategy, f in summary["search"].items():
        files = f["result"] + (f", plot {f['plot']}" if f.get("plot") else "")
        if "compact" in f:  # DARTS
            lines.append(f"  found ({strategy}): {f['arch']}")
            score = "no supernet score (GDAS's derived genotype)" if f["score"] is None else \
                f"supernet score {f['score']:.2f}"
            lines.append(f"    NB301 compact {f['compact']}; {score}")
            if "table" not in f:
                lines.append(f"    true accuracy unknown: no ground truth for the DARTS space "
                             f"(train the genotype stand-alone); {files}")
        else:
            lines.append(f"  found ({strategy}): {f['arch']} (index {f['index']})")
            lines.append(f"    {f['valid_acc']:.2f}% x-valid (rank {f['rank_valid']:,} of "
                         f"15,625), {f['test_acc']:.2f}% test (rank {f['rank_test']:,})"
                         + ("" if "table" in f else f"; {files}"))
        if "table" in f:
            t = f["table"]
            where = (f"{t['acc']:.2f}% (rank {t['rank']:,} of {t['cells']:,})" if t["in_table"]
                     else f"not among its {t['cells']:,} cells")
            best = t.get("best_scored_in_table")
            lines.append(f"    table {t['column']}: {where}"
                         + (f"; the best-scored cell it holds {best['acc']:.2f}% (rank "
                            f"{best['rank']:,})" if best else "") + f"; {files}")
    s = summary["seconds"]
    train = " (trained before)" if summary["train"] == "done before" else ""
    lines.append(f"  time: {sum(s.values()) / 60:.1f} min: train {s['train'] / 60:.1f}{train}, "
                 f"evaluate {s['evaluate'] / 60:.1f}, search {s['search'] / 60:.1f}")
    lines.append(f"  all of it: {w}/summary.json")
    return "\n".join(lines)
