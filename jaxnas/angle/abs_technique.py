"""ABS as a technique: angle-based shrinking of the space mask, plus the angle and magnitude
scorers.

Pieces (see `jaxnas.train.technique`):
  * `init_state`: `state.extra["angle"]` holds the space mask, the shrink steps done, the
    reference weights W0 (a copy of the initial supernet; replaced by the weights after
    `reference_epoch` epochs when that is > 0) and, when `magnitude.train`, DARTS's `alpha` and
    its Adam state. Checkpointed with the run, so a resumed run keeps its shrunk space.
  * `epoch_start`: on the schedule, scores every operator (mean metric of the cells of the
    current space containing it), drops the lowest (`shrink.drop_operators`) and returns the mask
    as `step_args["mask"]`, which every sampler reads (no recompilation). Logs the space size.
  * `update_state` (only with `magnitude.train`): one Adam step of `alpha` on a held-out batch
    through the joint DARTS forward (`magnitude.alpha_step`), after the weight update.
  * `scorers`: `angle` and `magnitude` (also available to runs without this technique through
    `jaxnas.angle.SCORERS`).

Departures from the reference (AngleNAS NB201 code):
  * cells are sampled by `config.sampler` (one cell for all 3N cells; the reference's `dropnode`
    draws each cell's ops independently and resamples all-`none` nodes);
  * accuracy-based shrinking scores `acc_num_archs` sampled cells of the space (default 1,000)
    on one batch of `acc_batch_size` held-out images (default 256) with batch statistics (the
    reference: every cell, one batch of 512, running statistics);
  * the held-out batch of the magnitude baseline is drawn with replacement per step, without
    augmentation;
  * the ImageNet code's re-anchoring (W0 := Wt once more than 50 operators are dropped) has no
    NB201 counterpart (30 operators) and is not implemented; `reference_epoch` instead picks W0
    as the NB201 correlation study does.
"""

import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.angle import angle as angle_lib
from jaxnas.angle import magnitude as mag_lib
from jaxnas.angle import shrink as shrink_lib
from jaxnas.angle.scorers import SCORERS
from jaxnas.errors import ConfigError, DataError
from jaxnas.spaces.nb201 import all_archs, archs_to_indices
from jaxnas.train.technique import Technique

NAME = "angle"
METRICS = ("angle", "accuracy", "magnitude")
ALL_ARCHS = all_archs()


def config_block():
    """Defaults of `config.angle`: the reference's NB201 shrinking (one step dropping 20 of the
    30 operators) after `shrink.start_epoch` epochs."""
    return dict(
        # W0: 0 = the initial weights (the NB201 shrinking script); k > 0 = the weights after k
        # epochs (the NB201 correlation study uses k = 1, its checkpoint "epoch-0").
        reference_epoch=0,
        # Fixed (non-cell) weights in the vector: nb201 = stem, reductions, last BN (conv/FC
        # weights and BN affine) and classifier weight and bias (the NB201 code); weights =
        # conv/FC weights only (the ImageNet code).
        fixed="nb201",
        # The space at the start: "" = all 15,625 cells, or 6 comma-separated groups of allowed
        # op digits per edge (0 none, 1 skip, 2 conv1x1, 3 conv3x3, 4 avg_pool), e.g. a shrunk
        # space logged by an earlier run (`angle_space`), to train SPOS on it.
        space="",
        shrink=dict(
            metric="angle",     # operator score: angle | accuracy | magnitude (the baselines)
            num_steps=1,        # shrink steps; 0 = never (NB201 reference: 30 // 20 = 1)
            start_epoch=50,     # epochs trained before the first step (the reference's --epochs)
            every_epochs=5,     # epochs between steps (the ImageNet code: 5)
            drop_per_step=20,   # operators dropped per step (NB201 reference: 20 of 30)
            max_space_size=0,   # also stop once the space has <= this many cells (0 = off;
                                # the ImageNet code: 1e6)
            # accuracy metric: one batch of `acc_batch_size` held-out images (the reference:
            # 512), `acc_num_archs` cells of the space drawn with `acc_seed` (0 = all cells).
            acc_batch_size=256,
            acc_num_archs=1000,
            acc_seed=0,
        ),
        # The magnitude baseline (DARTS alpha trained beside the weights, reference settings);
        # needed for shrink.metric = magnitude and for the `magnitude` scorer.
        magnitude=dict(train=False, lr=3e-4, b1=0.5, b2=0.999, weight_decay=1e-3,
                       batch_size=64),
    )


def block(config):
    """`config.angle`, or the defaults for a run that does not list the technique."""
    if "angle" in config:
        return config.angle
    import ml_collections
    return ml_collections.ConfigDict(config_block())


def _check(config):
    c = config.angle
    s = c.shrink
    if c.fixed not in angle_lib.FIXED:
        raise ConfigError(f"angle.fixed must be one of {angle_lib.FIXED}, got {c.fixed!r}")
    if s.metric not in METRICS:
        raise ConfigError(f"angle.shrink.metric must be one of {METRICS}, got {s.metric!r}")
    ints = {"reference_epoch": c.reference_epoch, "shrink.num_steps": s.num_steps,
            "shrink.start_epoch": s.start_epoch, "shrink.drop_per_step": s.drop_per_step,
            "shrink.max_space_size": s.max_space_size, "shrink.acc_num_archs": s.acc_num_archs}
    for key, value in ints.items():
        if not isinstance(value, int) or value < 0:
            raise ConfigError(f"angle.{key} must be an int >= 0, got {value!r}")
    if s.num_steps and s.start_epoch < 1:
        raise ConfigError("angle.shrink.start_epoch must be >= 1: the supernet trains before "
                          "the first shrink step")
    for key in ("every_epochs", "acc_batch_size"):
        if not isinstance(s[key], int) or s[key] < 1:
            raise ConfigError(f"angle.shrink.{key} must be an int >= 1, got {s[key]!r}")
    if s.num_steps and s.metric == "magnitude" and not c.magnitude.train:
        raise ConfigError("angle.shrink.metric='magnitude' needs angle.magnitude.train=True")
    if s.num_steps and s.metric == "angle" and c.reference_epoch >= s.start_epoch:
        raise ConfigError(f"angle.reference_epoch={c.reference_epoch} must come before the first "
                          f"shrink step (after shrink.start_epoch={s.start_epoch} epochs)")
    return shrink_lib.str_to_mask(c.space)


def space_mask(state):
    """The space mask a run's state holds (bool `[6, 5]`), or None for a run without ABS; for
    search strategies and reports."""
    extra = getattr(state, "extra", None)
    own = extra.get(NAME) if isinstance(extra, dict) else None
    return None if own is None else np.asarray(own["mask"], bool)


def steps_due(epoch, cfg) -> int:
    """Shrink steps the schedule has started by the start of 1-based `epoch`."""
    s = cfg.shrink
    trained = epoch - 1
    if not s.num_steps or trained < s.start_epoch:
        return 0
    return min(s.num_steps, 1 + (trained - s.start_epoch) // s.every_epochs)


def technique(config, run):
    """The ABS `Technique` for `config` (block `config.angle`)."""
    from jaxnas.evaluate import scoring
    from jaxnas.train.recipe import sharing_map

    initial_mask = _check(config)
    c = config.angle
    s = c.shrink
    net_cfg = run.net_cfg
    sharing = jnp.asarray(sharing_map(config))
    train_alpha = bool(c.magnitude.train)
    alpha_tx = mag_lib.alpha_optimizer(c.magnitude.lr, c.magnitude.b1, c.magnitude.b2,
                                       c.magnitude.weight_decay)
    device_data = {}

    def init_state(key, params):
        state = {
            "mask": jnp.asarray(initial_mask),
            "shrinks": jnp.int32(0),
            # A copy, not an alias: the train step donates the params' buffers.
            "reference": jax.tree.map(lambda x: jnp.array(x, copy=True), params["supernet"]),
            "reference_epoch": jnp.int32(0),
        }
        if train_alpha:
            alpha = mag_lib.init_alpha(key)
            state.update(alpha=alpha, alpha_opt=alpha_tx.init(alpha))
        return state

    def held_out():
        if run.valid_data is None:
            raise DataError(f"angle.shrink.metric={s.metric!r} / angle.magnitude.train need the "
                            f"held-out half (run.valid_data)")
        return run.valid_data

    def device_held_out():
        if not device_data:
            images, labels = held_out()
            device_data.update(images=jax.device_put(np.asarray(images, np.uint8)),
                               labels=jax.device_put(np.asarray(labels, np.int32)))
        return device_data

    def metric_scores(state, ext, mask, done):
        """Operator scores `[6, 5]` of the current space by `shrink.metric`."""
        params = state.params["supernet"]
        if s.metric == "magnitude":
            return np.where(mask, np.asarray(mag_lib.operator_magnitude(ext["alpha"])), np.nan)
        archs = shrink_lib.space_archs(mask)
        if s.metric == "angle":  # all cells (one compilation for every space), then the space's
            scores = np.asarray(angle_lib.all_angles(ext["reference"], params, ALL_ARCHS,
                                                     sharing, cfg=net_cfg, fixed=c.fixed))
            scores = scores[archs_to_indices(archs)]
        else:
            if s.acc_num_archs and len(archs) > s.acc_num_archs:
                rng = np.random.default_rng([s.acc_seed, done])
                archs = archs[np.sort(rng.choice(len(archs), s.acc_num_archs, replace=False))]
            images, labels = held_out()
            scores = scoring.score_archs(params, archs, images, labels, cfg=net_cfg,
                                         sharing=sharing, batch_size=s.acc_batch_size,
                                         num_batches=1, progress=False)["acc"]
        return shrink_lib.operator_scores(archs, np.asarray(scores), mask)

    def epoch_start(state, epoch):
        ext = dict(state.extra[NAME])
        log = {}
        if 0 < c.reference_epoch <= epoch - 1 and int(ext["reference_epoch"]) == 0:
            ext["reference"] = jax.tree.map(lambda x: jnp.array(x, copy=True),
                                            state.params["supernet"])
            ext["reference_epoch"] = jnp.int32(epoch - 1)
            log["angle_reference_epoch"] = epoch - 1
        mask = np.asarray(ext["mask"])
        done = int(ext["shrinks"])
        if done < steps_due(epoch, c) and not (
                s.max_space_size and shrink_lib.space_size(mask) <= s.max_space_size):
            start = time.perf_counter()
            scores = metric_scores(state, ext, mask, done)
            mask, dropped = shrink_lib.drop_operators(scores, mask, s.drop_per_step)
            ext.update(mask=jnp.asarray(mask), shrinks=jnp.int32(done + 1))
            log.update(angle_dropped=shrink_lib.describe(dropped),
                       angle_shrink_seconds=round(time.perf_counter() - start, 3))
        if log:
            state = state._replace(extra={**state.extra, NAME: ext})
        log.update(angle_space_size=shrink_lib.space_size(mask),
                   angle_space=shrink_lib.mask_to_str(mask))
        args = {"mask": jnp.asarray(mask)}
        if train_alpha:
            args[NAME] = device_held_out()
        return state, args, log

    def update_state(ext, params, ctx):
        data = ctx.step_args[NAME]
        idx = jax.random.randint(ctx.key, (c.magnitude.batch_size,), 0, data["labels"].shape[0])
        alpha, opt = mag_lib.alpha_step(ext["alpha"], ext["alpha_opt"], alpha_tx,
                                        params["supernet"], data["images"][idx],
                                        data["labels"][idx], ctx.step_args["sharing"],
                                        cfg=net_cfg)
        return {**ext, "alpha": alpha, "alpha_opt": opt}

    def check(names):
        if s.num_steps and "close" in names:
            raise ConfigError("angle shrinking scores cells under the static sharing map "
                              "(config.sharing); it cannot run beside close (set "
                              "angle.shrink.num_steps=0 to use only the angle scorer)")

    return Technique(name=NAME, init_state=init_state, epoch_start=epoch_start,
                     update_state=update_state if train_alpha else None, scorers=SCORERS,
                     check=check)
