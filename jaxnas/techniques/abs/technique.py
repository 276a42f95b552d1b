"""ABS as a technique: angle-based shrinking of the run's space, and the magnitude baseline.

Pieces (see `jaxnas.train.technique`):
  * `provides=("space",)`: its epoch hook narrows `state.space` (the base's space mask every
    sampler reads; no recompilation); it runs before the other techniques' hooks, so they see
    the epoch's space.
  * `init_state`: `state.extra["abs"]` holds the shrink steps done, the reference weights W0 (a
    copy of the initial supernet; replaced by the weights after `reference_epoch` epochs when
    that is > 0) and, when `magnitude.train`, DARTS's `alpha` and its Adam state. Checkpointed
    with the run, so a resumed run keeps its shrunk space.
  * `epoch_start`: on the schedule, scores every operator (mean metric of the cells of the
    current space containing it) with the run's scorer (`run.score`: the angle with this
    technique's W0, or supernet accuracy, through the run's subnet, e.g. CLOSE's gate), drops
    the lowest (`shrink.drop_operators`) and writes the narrowed space. Logs the space size.
  * `update_state` (only with `magnitude.train`): one Adam step of `alpha` on a held-out batch
    through the joint DARTS forward (`magnitude.alpha_step`), after the weight update.
  * `scorers`: `angle` (the base's angle scorer with this technique's W0 and `fixed` rule) and
    `magnitude`.

Epoch settings (`shrink.start_epoch`, `reference_epoch`) are epochs, or fractions of
`train.epochs` when in [0, 1). The space a run starts in is the base's `config.space_mask`.

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

In the DARTS space (AngleNAS `DARTS/shrinking`, ported): an operator is (cell type, edge, op) of
the `[28, 8]` mask; it scores the mean angle (AngleNAS's DARTS vector, `abs.fixed` unused) of
`shrink.samples_per_op` genotypes of the current space containing it, drawn uniformly with
`shrink.sample_seed` (`jaxnas.techniques.abs.sampled`); `shrink.drop_rule="per_edge"` drops each
edge's lowest operator per step as AngleNAS does there, and either rule keeps every node two
usable input edges (`shrink.drop_operators`). Departures: normal and reduction cells shrink
separately (AngleNAS's ImageNet network shares one op list for all 14 cells), and `shrink.
max_space_size` counts genotypes, not AngleNAS's product of per-edge op counts. The magnitude
baseline is NB201's (refused in DARTS).
"""

import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.config import epochs_of
from jaxnas.errors import ConfigError
from jaxnas.evaluate import angle as angle_lib
from jaxnas.optim import adam_l2
from jaxnas.techniques.abs import magnitude as mag_lib
from jaxnas.techniques.abs import sampled as sampled_lib
from jaxnas.techniques.abs import shrink as shrink_lib
from jaxnas.train import scorer as scorer_lib
from jaxnas.train.technique import Technique

NAME = "abs"
METRICS = ("angle", "accuracy", "magnitude")


def config_block():
    """Defaults of `config.abs`: the reference's NB201 shrinking (one step dropping 20 of the
    30 operators) after `shrink.start_epoch` epochs (a fifth of the run by default: the
    reference's 50 of the base's 250)."""
    return dict(
        # W0: 0 = the initial weights (the NB201 shrinking script); k > 0 = the weights after k
        # epochs (the NB201 correlation study uses k = 1, its checkpoint "epoch-0").
        reference_epoch=0,
        # Fixed (non-cell) weights in the vector: nb201 = stem, reductions, last BN (conv/FC
        # weights and BN affine) and classifier weight and bias (the NB201 code); weights =
        # conv/FC weights only (the ImageNet code).
        fixed="nb201",
        shrink=dict(
            metric="angle",     # operator score: angle | accuracy | magnitude (the baselines)
            num_steps=1,        # shrink steps; 0 = never (NB201 reference: 30 // 20 = 1)
            start_epoch=0.2,    # epochs trained before the first step (the reference's --epochs:
                                # 50); in [0, 1): a fraction of train.epochs (at least 1 epoch)
            every_epochs=5,     # epochs between steps (the ImageNet code: 5)
            drop_per_step=20,   # operators dropped per step (NB201 reference: 20 of 30)
            drop_rule="lowest",  # lowest: the globally lowest, each edge keeping its best (NB201
                                # reference); per_edge: each edge's lowest (AngleNAS DARTS)
            max_space_size=0,   # also stop once the space has <= this many cells (0 = off;
                                # the ImageNet code: 1e6)
            # accuracy metric: one batch of `acc_batch_size` held-out images (the reference:
            # 512), `acc_num_archs` cells of the space drawn with `acc_seed` (0 = all cells).
            acc_batch_size=256,
            acc_num_archs=1000,
            acc_seed=0,
            # spaces too large to enumerate (DARTS): per operator, `samples_per_op` architectures
            # of the space containing it, drawn with `sample_seed` (AngleNAS DARTS: 1,000)
            samples_per_op=1000,
            sample_seed=0,
        ),
        # The magnitude baseline (DARTS alpha trained beside the weights, reference settings);
        # needed for shrink.metric = magnitude and for the `magnitude` scorer.
        magnitude=dict(train=False, lr=3e-4, b1=0.5, b2=0.999, weight_decay=1e-3,
                       batch_size=64),
    )


def _check(config):
    """`(start_epoch, reference_epoch)` in epochs, after checking `config.abs`."""
    c, epochs = config.abs, config.train.epochs
    s = c.shrink
    if c.fixed not in angle_lib.FIXED:
        raise ConfigError(f"abs.fixed must be one of {angle_lib.FIXED}, got {c.fixed!r}")
    if s.metric not in METRICS:
        raise ConfigError(f"abs.shrink.metric must be one of {METRICS}, got {s.metric!r}")
    if s.drop_rule not in shrink_lib.RULES:
        raise ConfigError(f"abs.shrink.drop_rule must be one of {shrink_lib.RULES}, got "
                          f"{s.drop_rule!r}")
    ints = {"shrink.num_steps": s.num_steps, "shrink.drop_per_step": s.drop_per_step,
            "shrink.max_space_size": s.max_space_size, "shrink.acc_num_archs": s.acc_num_archs,
            "shrink.sample_seed": s.sample_seed}
    for key, value in ints.items():
        if not isinstance(value, int) or value < 0:
            raise ConfigError(f"abs.{key} must be an int >= 0, got {value!r}")
    start = epochs_of(s.start_epoch, epochs, "abs.shrink.start_epoch", minimum=1)
    reference = epochs_of(c.reference_epoch, epochs, "abs.reference_epoch")
    for key in ("every_epochs", "acc_batch_size", "samples_per_op"):
        if not isinstance(s[key], int) or s[key] < 1:
            raise ConfigError(f"abs.shrink.{key} must be an int >= 1, got {s[key]!r}")
    if s.num_steps and s.metric == "magnitude" and not c.magnitude.train:
        raise ConfigError("abs.shrink.metric='magnitude' needs abs.magnitude.train=True")
    if s.num_steps and s.metric == "angle" and reference >= start:
        raise ConfigError(f"abs.reference_epoch={c.reference_epoch} must come before the first "
                          f"shrink step (after shrink.start_epoch={s.start_epoch} epochs)")
    return start, reference


def steps_due(epoch, num_steps, start_epoch, every_epochs) -> int:
    """Shrink steps the schedule has started by the start of 1-based `epoch`."""
    trained = epoch - 1
    if not num_steps or trained < start_epoch:
        return 0
    return min(num_steps, 1 + (trained - start_epoch) // every_epochs)


def magnitude(ctx):
    """log P(cell) under the jointly trained DARTS alpha: sum_e log softmax(alpha)[e, op_e]."""
    del ctx

    def score(state, archs):
        own = (state.extra or {}).get(NAME, {})
        if "alpha" not in own:
            raise ConfigError("the magnitude metric needs a run trained with the abs technique "
                              "and abs.magnitude.train=True")
        return np.asarray(mag_lib.arch_log_prob(own["alpha"], archs))
    return score


def technique(config, run):
    """The ABS `Technique` for `config` (block `config.abs`)."""
    start_epoch, reference_epoch = _check(config)
    c = config.abs
    s = c.shrink
    space, net_cfg = run.space, run.net_cfg
    train_alpha = bool(c.magnitude.train)
    if space.name != "nb201" and (train_alpha or s.metric == "magnitude"):
        raise ConfigError(f"abs's magnitude baseline (DARTS alpha over NB201's edges) is "
                          f"NB201's; in the {space.name} space use abs.shrink.metric='angle' "
                          f"or 'accuracy' and abs.magnitude.train=False")
    alpha_tx = adam_l2(c.magnitude.lr, c.magnitude.b1, c.magnitude.b2, c.magnitude.weight_decay)

    def init_state(key, params):
        state = {
            "shrinks": jnp.int32(0),
            # A copy, not an alias: the train step donates the params' buffers.
            "reference": jax.tree.map(lambda x: jnp.array(x, copy=True), params["supernet"]),
            "reference_epoch": jnp.int32(0),
        }
        if train_alpha:
            alpha = mag_lib.init_alpha(key)
            state.update(alpha=alpha, alpha_opt=alpha_tx.init(alpha))
        return state

    def angle(ctx):
        return scorer_lib.angle(ctx, reference=lambda state: state.extra[NAME]["reference"],
                                fixed=c.fixed)

    def metric_scores(state, ext, mask, done):
        """Operator scores `[edges, ops]` of the current space by `shrink.metric`."""
        if s.metric == "magnitude":
            return np.where(mask, np.asarray(mag_lib.operator_magnitude(ext["alpha"])), np.nan)
        if space.size is None:  # not enumerable: sampled architectures containing each op
            key = jax.random.fold_in(jax.random.key(s.sample_seed), done)
            archs = sampled_lib.containing(space, mask, s.samples_per_op, key)
        else:
            archs = space.mask_archs(mask)
        if s.metric == "angle" and space.size is None:
            scores = run.score(state, archs, "angle")
        elif s.metric == "angle":  # all cells (one compilation for every space), then the space's
            scores = run.score(state, space.enumerate(), "angle")[space.to_index(archs)]
        else:
            if s.acc_num_archs and len(archs) > s.acc_num_archs:
                rng = np.random.default_rng([s.acc_seed, done])
                archs = archs[np.sort(rng.choice(len(archs), s.acc_num_archs, replace=False))]
            scores = run.score(state, archs, "accuracy", batch_size=s.acc_batch_size,
                               num_batches=1)
        return shrink_lib.operator_scores(archs, np.asarray(scores), mask)

    def epoch_start(state, epoch):
        ext = dict(state.extra[NAME])
        log = {}
        if 0 < reference_epoch <= epoch - 1 and int(ext["reference_epoch"]) == 0:
            ext["reference"] = jax.tree.map(lambda x: jnp.array(x, copy=True),
                                            state.params["supernet"])
            ext["reference_epoch"] = jnp.int32(epoch - 1)
            log["angle_reference_epoch"] = epoch - 1
        mask = np.asarray(state.space)
        done = int(ext["shrinks"])
        due = steps_due(epoch, s.num_steps, start_epoch, s.every_epochs)
        if done < due and not (s.max_space_size and space.mask_size(mask) <= s.max_space_size):
            started = time.perf_counter()
            scores = metric_scores(state, ext, mask, done)
            mask, dropped = shrink_lib.drop_operators(scores, mask, s.drop_per_step,
                                                      space=space, rule=s.drop_rule)
            ext["shrinks"] = jnp.int32(done + 1)
            state = state._replace(space=jnp.asarray(mask))
            log.update(angle_dropped=shrink_lib.describe(dropped, space),
                       angle_shrink_seconds=round(time.perf_counter() - started, 3))
        if log:
            state = state._replace(extra={**state.extra, NAME: ext})
        log.update(angle_space_size=space.mask_size(mask), angle_space=space.mask_to_str(mask))
        return state, ({NAME: run.held_out()} if train_alpha else {}), log

    def update_state(ext, params, ctx):
        data = ctx.step_args[NAME]
        idx = jax.random.randint(ctx.key, (c.magnitude.batch_size,), 0, data["labels"].shape[0])
        alpha, opt = mag_lib.alpha_step(ext["alpha"], ext["alpha_opt"], alpha_tx,
                                        params["supernet"], data["images"][idx],
                                        data["labels"][idx], ctx.step_args["sharing"],
                                        cfg=net_cfg)
        return {**ext, "alpha": alpha, "alpha_opt": opt}

    return Technique(name=NAME, init_state=init_state, epoch_start=epoch_start,
                     update_state=update_state if train_alpha else None,
                     scorers={"angle": angle, "magnitude": magnitude}, provides=("space",))
