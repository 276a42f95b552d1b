"""One scoring interface for evaluation and search: `score(state, archs, metric=...) -> float[n]`.

`make_score(recipe, ...)` is built once per run from the pieces the run already has (its
recipe, the held-out images), so `jaxnas evaluate`, the evaluation during training, the search
strategies and the techniques' hooks (`Run.score`) score architectures the same way. Scores are
"higher is better". Metrics come from the run's techniques (`Technique.scorers`) first, then the
base's:

  accuracy  supernet top-1 (percent) on the held-out images with inherited weights, through the
            run's `subnet` (e.g. CLOSE's gate)
  angle     ABS's angle between each cell's weights at initialisation and now (data-free; the
            `abs` technique replaces it with its own reference point and fixed-weight rule; in
            the DARTS space AngleNAS's DARTS vector, `jaxnas.evaluate.angle_darts`)
"""

import math

import jax
import numpy as np

from jaxnas import parallel, runtime
from jaxnas.errors import ConfigError
from jaxnas.evaluate import angle as angle_lib
from jaxnas.evaluate import angle_darts
from jaxnas.evaluate import scoring
from jaxnas.supernet import darts as darts_net
from jaxnas.train.technique import ScoreContext


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


def angle(ctx: ScoreContext, reference=None, fixed="nb201"):
    """The angle (radians) between each cell's weights at a reference point W0 and now.

    `reference(state) -> supernet params` gives W0; by default the run's initial parameters
    (`ctx.init_params` with the run seed: reproducible, nothing stored). The cells' weights come
    from the run's `subnet` (its sharing map, or e.g. CLOSE's gate-assigned slots)."""
    initial = {}

    def initial_params(state):
        del state
        if not initial:
            initial["params"] = ctx.init_params(jax.random.key(ctx.config.seed))["supernet"]
        return initial["params"]

    reference = reference or initial_params
    darts = isinstance(ctx.net_cfg, darts_net.SupernetConfig)
    if not darts and getattr(ctx.space, "name", "nb201") != "nb201":  # NB201's blocks
        raise ConfigError(f"the angle metric reads NB201's or DARTS's supernet; it is not "
                          f"ported to the {ctx.space.name} space: score by accuracy")

    def score(state, archs):
        params, sharing = ctx.subnet(state.params, archs,
                                     epoch_of(state.step, ctx.steps_per_epoch))
        if darts:  # AngleNAS's DARTS vector (its own fixed-weight rule)
            return np.asarray(angle_darts.all_angles(reference(state), params, np.asarray(archs),
                                                     np.asarray(sharing), cfg=ctx.net_cfg))
        return np.asarray(angle_lib.all_angles(reference(state), params, np.asarray(archs),
                                               np.asarray(sharing), cfg=ctx.net_cfg,
                                               fixed=fixed))
    return score


BUILTIN = {"accuracy": accuracy, "angle": angle}


def scorer_factory(metric, recipe):
    """The factory of `metric`: the run's techniques', else the base's."""
    for table in (recipe.scorers, BUILTIN):
        if metric in table:
            return table[metric]
    known = sorted(set(recipe.scorers) | set(BUILTIN))
    raise ConfigError(f"unknown metric {metric!r}; choose one of {known}")


def make_score(recipe, *, images=None, labels=None, batch_size=256, num_batches=None,
               progress=True):
    """`score(state, archs [n, ...], metric="accuracy") -> float64[n]` for the run of `recipe`."""
    run = recipe.run
    runtime.trim_after_compiles()  # the scoring programs' compiler memory back to the OS
    ctx = ScoreContext(config=run.config, net_cfg=run.net_cfg, images=images, labels=labels,
                       batch_size=batch_size, num_batches=num_batches, subnet=recipe.subnet,
                       init_params=lambda key: recipe.init(key).params,
                       steps_per_epoch=run.steps_per_epoch, progress=progress, space=run.space)
    built = {}

    def score(state, archs, metric="accuracy"):
        archs = run.space.check(archs)  # shape and op range (ArchError)
        if metric not in built:
            built[metric] = scorer_factory(metric, recipe)(ctx)
        return np.asarray(built[metric](state, archs), np.float64)

    return score


def run_scorer(recipe):
    """`score(state, archs, metric, **options)` for `Run.score`: held-out images and the eval
    batch size by default; `images`, `labels`, `batch_size`, `num_batches` override them."""
    config, run = recipe.run.config, recipe.run
    made = {}

    def score(state, archs, metric="accuracy", **options):
        unknown = set(options) - {"images", "labels", "batch_size", "num_batches"}
        if unknown:
            raise ConfigError(f"run.score takes images, labels, batch_size, num_batches; got "
                              f"{sorted(unknown)}")
        images, labels = run.valid_data or (None, None)
        opts = dict(images=images, labels=labels, batch_size=config.eval.batch_size,
                    num_batches=config.eval.num_batches)
        opts.update(options)
        key = (id(opts["images"]), opts["batch_size"], opts["num_batches"])
        if key not in made:
            made[key] = make_score(recipe, progress=False, **opts)
        return made[key](state, archs, metric)

    return score
