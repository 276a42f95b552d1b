"""An arm of a paired experiment: one method trained with several seeds, read from disk.

Two layouts are read, both keyed by seed:
  * a result folder as `experiments/run_paired.sh` writes it: `seed<S>.final.json` (a
    `jaxnas evaluate` report), `seed<S>.jsonl` (the metrics log) and optionally
    `seed<S>.search.json` (a `jaxnas search` result);
  * a folder of run directories (`jaxnas run` / `jaxnas train` workdirs, any names), the seed
    read from each run's `config.json`: `W/evaluate.json`, `W/metrics.jsonl`, `W/search/*.json`.
"""

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np

from jaxnas.errors import UsageError
from jaxnas.spaces import nb201

SEARCHES = ("evolution", "random", "gdas")  # which search result a run dir's found cell is


class Seed(NamedTuple):
    """One seed of an arm: its final ranking report (None if it only searched), metrics log
    (a list of epoch records), search result (None if none) and where it was read."""

    final: dict | None
    log: list
    search: dict | None
    source: Path


def _json(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {path}: {e}") from None


def read_log(path):
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _seed_of(name):
    return int(name[4:].split(".")[0])


def _result_folder(folder):
    paths = [*folder.glob("seed*.final.json"), *folder.glob("seed*.search.json")]
    seeds = {}
    for seed in sorted({_seed_of(p.name) for p in paths}):
        final, search = folder / f"seed{seed}.final.json", folder / f"seed{seed}.search.json"
        seeds[seed] = Seed(_json(final) if final.is_file() else None,
                           read_log(folder / f"seed{seed}.jsonl"),
                           _json(search) if search.is_file() else None, folder)
    return seeds


def _run_dirs(folder, report):
    seeds = {}
    for run in sorted(p for p in folder.iterdir() if (p / "config.json").is_file()):
        seed = int(_json(run / "config.json").get("seed", 0))
        if seed in seeds:
            raise UsageError(f"{folder}: runs {seeds[seed].source.name} and {run.name} "
                             f"both have seed {seed}")
        final = run / report
        search = next((run / "search" / f"{s}.json" for s in SEARCHES
                       if (run / "search" / f"{s}.json").is_file()), None)
        if not final.is_file() and search is None:
            raise UsageError(f"{run} has no {report}: run `jaxnas evaluate --workdir {run} "
                             f"--out {final}` first")
        seeds[seed] = Seed(_json(final) if final.is_file() else None,
                           read_log(run / "metrics.jsonl"), _json(search) if search else None,
                           run)
    return seeds


def load(folder, *, report="evaluate.json"):
    """`{seed: Seed}` of the arm in `folder` (either layout); UsageError if it holds neither.
    `report`: the evaluation file read from each run dir."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"arm {folder} is not a folder")
    seeds = _result_folder(folder) or _run_dirs(folder, report)
    if not seeds:
        raise UsageError(f"arm {folder} holds no seed<S>.final.json and no run directories")
    return seeds


def scores(report):
    """A `jaxnas evaluate` report's per-cell scores (`supernet_acc` in older reports)."""
    return report.get("scores", report.get("supernet_acc"))


def cell_keys(report):
    """The cells a `jaxnas evaluate` report scored: NB201 indices, or the architectures' text
    in a space without official indices (DARTS genotypes)."""
    return report["indices"] if "indices" in report else report["archs_text"]


def cell_scores(report):
    """`{cell: score}` of a `jaxnas evaluate` report (cells as `cell_keys`)."""
    return dict(zip(cell_keys(report), scores(report)))


def cell_truth(report):
    """`{cell: ground truth}` of a report ranked against a stand-alone table (`gt_table`), whose
    values it carries; UsageError for such a report written before it carried them."""
    if "truth" not in report:
        raise UsageError(f"a report ranked against {report['gt_table']} holds no per-cell "
                         "ground truth (written by an older jaxnas): run jaxnas evaluate again")
    return dict(zip(cell_keys(report), report["truth"]))


def final_space(log):
    """The space a run ended in (its last logged `angle_space`, ABS), "" for the whole space."""
    space = ""
    for record in log:
        space = record.get("angle_space", space)
    return space


def space_cells(log):
    """NB201 indices of the space a run ended in (all cells when it never narrowed it)."""
    space = final_space(log)
    if not space:
        return set(range(nb201.NUM_ARCHS))
    return set(nb201.archs_to_indices(nb201.space_archs(nb201.str_to_mask(space))).tolist())


def found_index(seed):
    """`(index, seconds, how)` of the cell an arm's seed found: its search result, else the
    best-scored cell of its final report."""
    if seed.search is not None:
        s = seed.search
        how = (f"{s['strategy']} search, budget {s['budget']}" if "budget" in s
               else f"{s['strategy']}: argmax of the trained architecture logits")
        return int(s["found"]["index"]), s["seconds"], how
    final = seed.final
    index = final["indices"][int(np.argmax(scores(final)))]
    drawn = final.get("archs", "")
    n = int(drawn) if str(drawn).isdigit() else len(final["indices"])
    return int(index), final["seconds"], f"best of the {n:,} scored cells"
