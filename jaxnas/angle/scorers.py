"""Data-free architecture scorers: `angle` (ABS) and `magnitude` (DARTS alpha).

`factory(ScoreContext) -> score(state, archs int[n, 6]) -> float[n]`, higher = better, as
`jaxnas.evaluate.score` expects. The angle works on any run: the cells' weights come from the
run's `subnet` (its sharing map, or e.g. CLOSE's gate-assigned slots) and W0 from
`state.extra["angle"]["reference"]` when the run trained with the technique, else from the
run's initial parameters (`ctx.init_params` with the run seed: reproducible, nothing stored).
"""

import jax
import numpy as np

from jaxnas.angle import angle as angle_lib
from jaxnas.angle import magnitude as mag_lib
from jaxnas.errors import ConfigError

NAME = "angle"


def _technique_state(state):
    extra = getattr(state, "extra", None)
    return extra.get(NAME) if isinstance(extra, dict) else None


def angle(ctx):
    """The ABS angle between each cell's weights at W0 and now (radians)."""
    from jaxnas.angle.abs_technique import block
    from jaxnas.evaluate.score import epoch_of

    fixed = block(ctx.config).fixed
    initial = {}

    def reference(state):
        own = _technique_state(state)
        if own is not None:
            return own["reference"]
        if not initial:
            initial["params"] = ctx.init_params(jax.random.key(ctx.config.seed))["supernet"]
        return initial["params"]

    def score(state, archs):
        params, sharing = ctx.subnet(state.params, archs,
                                     epoch_of(state.step, ctx.steps_per_epoch))
        return np.asarray(angle_lib.all_angles(reference(state), params, np.asarray(archs),
                                               np.asarray(sharing), cfg=ctx.net_cfg,
                                               fixed=fixed))
    return score


def magnitude(ctx):
    """log P(cell) under the jointly trained DARTS alpha: sum_e log softmax(alpha)[e, op_e]."""
    del ctx

    def score(state, archs):
        own = _technique_state(state)
        if own is None or "alpha" not in own:
            raise ConfigError("the magnitude metric needs a run trained with the angle technique "
                              "and angle.magnitude.train=True")
        return np.asarray(mag_lib.arch_log_prob(own["alpha"], archs))
    return score


SCORERS = {"angle": angle, "magnitude": magnitude}
