"""One scoring interface for evaluation and search: `score(state, archs, metric=...) -> float[n]`.

`make_score(recipe, ...)` is built once per run from the pieces the run already has (its
recipe, the held-out images), so `jaxnas evaluate`, the evaluation during training and the search
strategies score architectures the same way. Scores are "higher is better". Metrics come from,
in order: the run's techniques (`Technique.scorers`), the built-in `accuracy` (supernet top-1 on
the held-out images with inherited weights, through the technique's `subnet`, e.g. CLOSE's
gate), and the plugin modules `PLUGINS` (each exposing `SCORERS`, e.g. `angle` and `magnitude`,
which need no data).
"""

import importlib
import math

import numpy as np

from jaxnas import parallel
from jaxnas.errors import ConfigError
from jaxnas.evaluate import scoring
from jaxnas.spaces.nb201 import archs_to_indices
from jaxnas.train.technique import ScoreContext

PLUGINS = ("jaxnas.angle",)


def epoch_of(step, steps_per_epoch):
    """The 1-based epoch whose weights a state at `step` holds (1 before any step)."""
    return max(1, math.ceil(int(step) / steps_per_epoch))


def accuracy(ctx: ScoreContext):
    """Supernet top-1 accuracy (percent) on the held-out images, weights inherited."""
    if ctx.images is None:
        raise ConfigError("the accuracy metric needs held-out images")
    # Cells spread over the devices (None: one device); a run trained on more devices than
    # this machine has is scored on those it has.
    mesh = parallel.mesh_for(ctx.config, at_most_visible=True)

    def score(state, archs):
        params, sharing = ctx.subnet(state.params, archs,
                                     epoch_of(state.step, ctx.steps_per_epoch))
        return scoring.score_archs(params, archs, ctx.images, ctx.labels, cfg=ctx.net_cfg,
                                   sharing=sharing, batch_size=ctx.batch_size,
                                   num_batches=ctx.num_batches, progress=ctx.progress,
                                   mesh=mesh)["acc"]
    return score


BUILTIN = {"accuracy": accuracy}


def _plugin_scorers():
    found = {}
    for name in PLUGINS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name and name.startswith(e.name):
                continue
            raise
        found.update(getattr(module, "SCORERS", {}))
    return found


def scorer_factory(metric, recipe):
    """The factory of `metric`: the run's techniques, then built-ins, then plugins."""
    plugins = _plugin_scorers()
    for table in (recipe.scorers, BUILTIN, plugins):
        if metric in table:
            return table[metric]
    known = sorted(set(recipe.scorers) | set(BUILTIN) | set(plugins))
    raise ConfigError(f"unknown metric {metric!r}; choose one of {known}")


def make_score(recipe, *, images=None, labels=None, batch_size=256, num_batches=None,
               progress=True):
    """`score(state, archs [n, 6], metric="accuracy") -> float64[n]` for the run of `recipe`."""
    run = recipe.run
    ctx = ScoreContext(config=run.config, net_cfg=run.net_cfg, images=images, labels=labels,
                       batch_size=batch_size, num_batches=num_batches, subnet=recipe.subnet,
                       init_params=lambda key: recipe.init(key).params,
                       steps_per_epoch=run.steps_per_epoch, progress=progress)
    built = {}

    def score(state, archs, metric="accuracy"):
        archs = np.asarray(archs, np.int32)
        archs_to_indices(archs)  # validates shape [n, 6] and op range (ArchError)
        if metric not in built:
            built[metric] = scorer_factory(metric, recipe)(ctx)
        return np.asarray(built[metric](state, archs), np.float64)

    return score
