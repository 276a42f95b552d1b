"""Search a trained run: `search_workdir(W, strategy=...)` behind `jaxnas search`.

Random search and evolution score cells with the run's latest weights through the run's one
scoring interface (`jaxnas.train.scorer.make_score`, metric `accuracy` on the held-out images
or a data-free one such as `angle`), inside the run's space (the bool `[6, 5]` masks that its
techniques keep in the train state, e.g. an ABS-shrunk space), in the run's `config.space`
(NB201 cells, or DARTS genotypes: the result then names the `Genotype(...)` text and has no
ground truth). GDAS, in either space, reads the architecture logits the run trained
(`search.gdas` must be among its techniques) and its per-epoch choices from `metrics.jsonl`.

A stand-alone table (`jaxnas standalone`'s, the shipped nb201-mini) judges the result when
given (`result.judge`): in the DARTS space, the only ground truth there is.

Scores are cached in `W/search/scores-<metric>-step<S>.json` as they come, so a search that is
interrupted replays (same seed, same proposals) to where it stopped without rescoring.
"""

import json
import time
from pathlib import Path

import numpy as np

from jaxnas.errors import ConfigError
from jaxnas.search import evolution, result
from jaxnas.search import random as random_search
from jaxnas.search.history import arch_keys
from jaxnas.search.settings import settings
from jaxnas.spaces import nb201
from jaxnas.train.evaluation import space_of
from jaxnas.train.open_run import load_config, open_run
from jaxnas.train.scorer import make_score


def _gdas_trajectory(workdir, final, step, steps_per_epoch, space):
    """`(epochs trained, cell)` pairs: the cell GDAS would return after each epoch, from the
    metrics log (each line records it at its epoch's start: NB201 by index, DARTS by Genotype
    text), then the current one."""
    points = []
    path = Path(workdir) / "metrics.jsonl"
    if path.is_file():
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record.get("step", 0) > step:
                continue
            if "gdas_index" in record:
                points.append((record["epoch"] - 1, nb201.index_to_arch(int(record["gdas_index"]))))
            elif "gdas_arch" in record and space.name != "nb201":
                points.append((record["epoch"] - 1, space.from_str(record["gdas_arch"])))
    points.append((step / steps_per_epoch, final))
    return points


def search_workdir(workdir, *, strategy=None, budget=None, metric=None, seed=None,
                   population_size=None, tournament_size=None, num_batches=None, data=None,
                   out=None, progress=True, table=None, gt_split="valid"):
    """Search the run in `workdir` with its latest weights; write and return the result.

    Unset arguments come from `settings.settings` (the run config's `search` block, else the
    defaults). `out` defaults to `W/search/<strategy>.json` (a plot beside it). `table`: a
    stand-alone table of the run's space (`groundtruth.space_table`) that judges the found cell
    and the trajectory by its `gt_split` accuracy (`result.judge`).
    """
    workdir = Path(workdir)
    config = load_config(workdir)
    opts = settings(config, strategy=strategy, budget=budget, metric=metric, seed=seed,
                    population_size=population_size, tournament_size=tournament_size,
                    num_batches=num_batches)
    strategy = opts["strategy"]
    out = Path(out) if out else workdir / "search" / f"{strategy}.json"
    start = time.perf_counter()
    if strategy == "gdas":
        opened = open_run(workdir, data=data, needs_data=False, config=config,
                          progress=progress)
        recipe, state = opened.recipe, opened.state
        if recipe.found is None:
            raise ConfigError(f"{workdir} was not trained with a technique that selects a cell "
                              f"itself (techniques: {list(config.techniques) or 'none'}); list "
                              f"gdas in config.techniques to train GDAS's architecture logits")
        arch, details = recipe.found(state)
        step = int(state.step)
        points = _gdas_trajectory(workdir, arch, step, recipe.run.steps_per_epoch,
                                  recipe.run.space)
        report = result.report(arch, strategy="gdas", archs=[a for _, a in points],
                               x=[e for e, _ in points], mask=space_of(state),
                               space=recipe.run.space,
                               x_label="epochs trained", step=step, workdir=str(workdir),
                               seconds=time.perf_counter() - start, **details)
        return _write(report, out, table, recipe.run.space, gt_split)

    opened = open_run(workdir, data=data, needs_data=opts["metric"] == "accuracy", config=config,
                      progress=progress)
    recipe, state = opened.recipe, opened.state
    space = recipe.run.space
    images, labels = recipe.run.valid_data or (None, None)
    nb = opts["num_batches"] or config.eval.num_batches
    score = make_score(recipe, images=images, labels=labels, batch_size=config.eval.batch_size,
                       num_batches=nb, progress=False)
    step = int(state.step)
    excluded = set(np.asarray(recipe.exclude(state)).tolist())
    mask = space_of(state)
    cache = ScoreCache(workdir / "search" / f"scores-{opts['metric']}-step{step}.json",
                       metric=opts["metric"], step=step, num_batches=nb,
                       batch_size=config.eval.batch_size, space=space)

    def score_fn(archs):
        return score(state, archs, opts["metric"])

    cached = set(cache.scores)  # scored by an earlier, interrupted or other, search
    kwargs = dict(seed=opts["seed"], mask=mask, progress=progress, cache=cache.scores,
                  on_scored=cache.save, space=space)
    if strategy == "random":
        found = random_search.search(score_fn, opts["budget"], **kwargs)
    else:
        found = evolution.search(score_fn, opts["budget"],
                                 population_size=opts["population_size"],
                                 tournament_size=opts["tournament_size"], **kwargs)
    cache.save(force=True)
    unique = set(arch_keys(space, found.archs))
    info = dict(seed=opts["seed"], budget=opts["budget"], step=step, workdir=str(workdir),
                cells_from_cache=len(unique & cached),
                landmarks_evaluated=len(excluded & unique))
    if strategy == "evolution":
        info.update(population_size=opts["population_size"],
                    tournament_size=opts["tournament_size"])
    if opts["metric"] == "accuracy":
        info["images_per_arch"] = config.eval.batch_size * nb
    report = result.report(found.arch, strategy=strategy, metric=opts["metric"],
                           score=found.score, archs=found.archs, scores=found.scores, mask=mask,
                           space=space, seconds=time.perf_counter() - start, **info)
    return _write(report, out, table, space, gt_split)


def _write(report, out, table, space, split):
    """Judge `report` by `table` when given, write it (and its plot) to `out`, return it."""
    if table is not None:
        result.judge(report, table, space, split)
    result.write(report, out)
    return report


class ScoreCache:
    """Scores by official index (DARTS: by Genotype text; `history.arch_keys`), kept on disk
    for one (metric, checkpoint step, batches). A
    search resumed after an interrupt, or run after another on the same checkpoint, looks its
    cells up instead of rescoring them; its report's `seconds` then covers only the rest, and
    `cells_from_cache` says how many of its unique cells came from here."""

    def __init__(self, path, space=None, **key):
        self.path, self.key = Path(path), key
        as_key = int if space is None or space.size is not None else str
        self.scores = {}
        self._unsaved = 0
        if self.path.is_file():
            try:
                stored = json.loads(self.path.read_text())
            except json.JSONDecodeError:
                stored = {}
            if stored.get("key") == key:
                self.scores.update({as_key(i): float(s) for i, s in stored["scores"].items()})

    def save(self, new=0, force=False):
        self._unsaved += new
        if not (force or self._unsaved >= 20) or not self.scores:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"key": self.key, "scores": self.scores}))
        tmp.replace(self.path)
        self._unsaved = 0
