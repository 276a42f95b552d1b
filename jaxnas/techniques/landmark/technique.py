"""Landmark regularisation as a technique: a loss term, its per-epoch coefficient, the set.

Pieces (see `jaxnas.train.technique`):
  * `init_state`: the landmark set as a fixed-capacity `LandmarkState` (`state.extra["landmark"]`).
  * `loss_terms["landmark"]`: inside the jitted step, `pairs` landmark pairs are drawn from the
    step's key over the first `count` landmarks, both landmark networks run on one regulariser
    batch and `coef * penalty(L(better) - L(worse))` joins the loss before the single clipped
    update, as the reference's summed gradients. During the warm-up (`coef == 0`) the epoch's
    step arguments are `None`, which turns the term off (`jaxnas.train.step`): the step is the
    plain SPOS step, and it compiles a second time when the coefficient turns positive.
  * `epoch_start`: the epoch's coefficient (`schedule`), the regulariser images (put on the
    device once), and at the first epoch of rounds 2..T the multi-round addition (`rounds`).
  * `exclude`: the landmarks (and their isomorphic copies) for every evaluation set.
  * Pairs are drawn among the landmarks the run's space allows (`state.space`, narrowed e.g. by
    ABS shrinking); with `follow_space` the set follows a narrowed space (`landmarks.within`) at
    the epoch start where the space changed (techniques that narrow the space run their hooks
    first), and later rounds draw their candidates from the space.

The regulariser batch. The reference trains the supernet on one half of the CIFAR-10 training
set and takes the regulariser batch from the other half (`landmark_use_valid=True`, train-time
augmentation), while it ranks architectures on the CIFAR-10 *test* set. Here the held-out half
is also where architectures are scored (the NB201 cifar10-valid protocol, first batches of the
held-out half), so drawing the regulariser batch from all of it would train the shared weights
on the evaluation images. `data="valid"` (default) therefore uses the held-out half *after* its
first `eval_reserve` images (2,560 = 10 evaluation batches of 256; `jaxnas evaluate` scores the
first `num_batches` batches), augmented as the train batches; a batch is a random window of the
(fixed, shuffled) images, the same for both landmarks of a pair. `data="train"` reuses the step's
own augmented train batch (the reference's `landmark_use_valid=False`).

Multi-round scoring uses the run's own scorer (`run.score`): accuracy through the run's subnet
by default, so CLOSE's gate is honoured; any metric of the run can be named (see `rounds`).

The regulariser images are the run's held-out half on the device (`run.held_out()`, shared with
every technique), windows drawn after its first `eval_reserve` images.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.config import epochs_of
from jaxnas.data import augment, normalize
from jaxnas.errors import ConfigError
from jaxnas.techniques.landmark import landmarks as lm_lib
from jaxnas.techniques.landmark import loss as loss_lib
from jaxnas.techniques.landmark import rounds as rounds_lib
from jaxnas.techniques.landmark import schedule as schedule_lib
from jaxnas.techniques.landmark import trained
from jaxnas.train.technique import Technique

NAME = "landmark"
DATA = ("valid", "train")


def config_block():
    """Defaults of `config.landmark`: the reference's NB201 SPOS settings where it has them."""
    return dict(
        # The landmark set. `table`: the ground truth, a packaged NB201 table name
        # ("cifar10-valid"; "nb201-mini": the mini scale's stand-alone table) or a .npz
        # (groundtruth.save_table), .csv (columns index|arch and `metric`|acc) or .json
        # ({arch or index: acc}) path, or "train": the landmarks are
        # trained stand-alone at the run's scale (`trained`; `train_overrides`: stand-alone
        # config changes, e.g. ("train.epochs=20",)) in `train_dir` (default
        # <workdir>/landmarks). `metric`: the accuracy column (valid_acc = NB201 x-valid,
        # test_acc = ori-test as the reference).
        # In a space without a packaged table (DARTS) a .csv/.json table is required.
        table="cifar10-valid",
        metric="valid_acc",
        train_overrides=(),
        train_dir="",
        num=30,              # M, landmarks at the start (the paper's 30)
        select="random",     # random | diverse (Hamming walk) | fixed (evenly spaced GT ranks)
        distance=5,          # diverse: the walk stops beyond this Hamming distance to its root
        roots=1,             # diverse: roots the M landmarks are split over
        seed=-1,             # selection seed; -1 = config.seed
        exclude_isomorphic=True,  # evaluation sets also drop cells isomorphic to a landmark
        # Beside ABS shrinking: when the space shrinks, landmarks outside it are replaced by
        # cells drawn from inside it (`landmarks.within`); False keeps the set, whose pairs then
        # mostly fall outside the space, which silences the term.
        follow_space=True,
        # The loss: coef * penalty(L(better) - L(worse)) per sampled pair.
        coef=10.0,           # lambda_max
        schedule="cosine_increase",  # reference (ends below coef) | cosine_increase_full | constant
        warmup_epochs=0.6,   # supernet warm-up without the regulariser, < train.epochs; in
                             # [0, 1): a fraction of train.epochs (the reference: 150 of 400)
        loss="hinge",        # hinge (reference default, relu) | softplus (its ablation)
        softplus_beta=5.0,   # softplus(beta d) / beta; the reference's ablation uses 5
        pairs=1,             # landmark pairs per step (run as train.path_loop runs FairNAS's paths)
        pair_distribution="reference",  # reference (a<b non-uniform) | uniform over pairs
        # Leave the landmark forwards/backwards out of the step while the coefficient is 0
        # (the warm-up runs the plain SPOS step; one more compilation when it ends). False
        # runs them every step, times 0 (one compilation, ~4x the warm-up's step cost).
        skip_warmup=True,
        # The regulariser batch: valid = the held-out half minus its first `eval_reserve`
        # images (kept for ranking evaluation); train = the step's own train batch.
        data="valid",
        batch_size=0,        # 0 = train.batch_size (the reference uses the same size)
        eval_reserve=2560,
        # Multi-round pipeline: `rounds` rounds after the warm-up (1 = the reference code);
        # each later round starts by adding the supernet's `top_k` best of `round_pool`
        # candidate cells ("unique" = all 6,466 classes), scored by the run's scorer
        # `round_metric` (accuracy: on `round_batches` held-out batches of eval.batch_size).
        rounds=1,
        round_epochs=0,      # epochs per round; 0 = the post-warm-up epochs split evenly
        top_k=10,
        round_pool=1000,
        round_metric="accuracy",
        round_batches=2,
    )


def _check(config):
    """The warm-up in epochs, after checking `config.landmark`."""
    c = config.landmark
    warmup = epochs_of(c.warmup_epochs, config.train.epochs, "landmark.warmup_epochs")
    if c.table == trained.TRAIN:
        trained.check(config)
    schedule_lib.check(c.schedule, warmup, config.train.epochs)
    for key, allowed in (("loss", loss_lib.LOSSES), ("data", DATA),
                         ("pair_distribution", loss_lib.PAIR_DISTRIBUTIONS)):
        if c[key] not in allowed:
            raise ConfigError(f"landmark.{key} must be one of {allowed}, got {c[key]!r}")
    for key in ("pairs", "top_k", "round_batches"):
        if not isinstance(c[key], int) or c[key] < 1:
            raise ConfigError(f"landmark.{key} must be an int >= 1, got {c[key]!r}")
    for key in ("batch_size", "eval_reserve"):
        if not isinstance(c[key], int) or c[key] < 0:
            raise ConfigError(f"landmark.{key} must be an int >= 0, got {c[key]!r}")
    if c.coef < 0 or c.softplus_beta <= 0:
        raise ConfigError(f"landmark.coef must be >= 0 and softplus_beta > 0, got {c.coef} and "
                          f"{c.softplus_beta}")
    e = config.eval
    if c.data == "valid" and e.every_epochs and e.num_batches * e.batch_size > c.eval_reserve:
        raise ConfigError(
            f"ranking evaluation scores {e.num_batches * e.batch_size} held-out images but "
            f"landmark.eval_reserve keeps only {c.eval_reserve} from the regulariser; raise it")
    return warmup


def technique(config, run, *, table=None, round_score=None):
    """The landmark `Technique` for `config` (block `config.landmark`).

    `table` (a `Table`, dict or path) replaces `config.landmark.table`; `round_score(state,
    archs) -> float[n]` (higher = better) replaces the multi-round scorer.
    """
    warmup = _check(config)
    c = config.landmark
    epochs = config.train.epochs
    space = run.space
    if space.size is None and c.rounds > 1:
        raise ConfigError(f"landmark.rounds > 1 draws its candidates from NB201's class "
                          f"representatives; use rounds=1 in the {space.name} space")
    seed = config.seed if c.seed < 0 else c.seed
    train_root = None
    if table is None and c.table == trained.TRAIN:
        train_root = trained.directory(config, run)
        cells = trained.initial_cells(config, run.space, seed)
        truth = trained.train_cells(config, run.space, cells, train_root / "initial",
                                    progress=run.progress)
    else:
        truth = lm_lib.read_table(c.table if table is None else table, c.metric, space)
    initial = lm_lib.select(truth, c.num, c.select, seed=seed, distance=c.distance,
                            roots=c.roots, space=space)
    if train_root is not None:  # a resumed run: the later rounds' trained additions too
        truth = trained.merged([truth, *trained.trained_rounds(train_root, config, space)])
    starts = rounds_lib.round_starts(c.rounds, c.round_epochs, warmup, epochs)
    capacity = len(initial) + len(starts) * c.top_k
    batch = c.batch_size or config.train.batch_size
    pad, flip = config.data.pad, config.data.flip
    coefficient = functools.partial(schedule_lib.coefficient, coef=c.coef,
                                    warmup_epochs=warmup, epochs=epochs, schedule=c.schedule)

    def round_scores(state, archs):
        if round_score is not None:
            return round_score(state, archs)
        return run.score(state, archs, c.round_metric, num_batches=c.round_batches)

    def init_state(key, params):
        del key, params
        return lm_lib.make_state(initial, truth, capacity, space=space)

    def term(params, ctx):
        args, state = ctx.step_args[NAME], ctx.extra[NAME]
        k_batch, k_aug, k_pairs = jax.random.split(ctx.key, 3)
        if c.data == "train":
            x, labels = ctx.x, ctx.labels
        else:
            images, labels = loss_lib.batch_window(k_batch, args["images"], args["labels"], batch,
                                                   start=c.eval_reserve)
            x = augment(k_aug, images, pad=pad, flip=flip) if pad or flip else normalize(images)
        penalty, _ = loss_lib.landmark_loss(
            params, ctx.forward, state, x, labels, k_pairs, pairs=c.pairs,
            distribution=c.pair_distribution, kind=c.loss, beta=c.softplus_beta,
            mask=ctx.step_args["mask"], loop=config.train.path_loop)
        return args["coef"] * penalty

    def regulariser_data():
        data = run.held_out()
        if len(data["labels"]) - c.eval_reserve < batch:
            raise ConfigError(f"{len(data['labels']) - c.eval_reserve} held-out images after "
                              f"landmark.eval_reserve={c.eval_reserve} do not fill a regulariser "
                              f"batch of {batch}")
        return data

    def epoch_start(state, epoch):
        nonlocal truth
        current = state.extra[NAME]
        log = {}
        mask = np.asarray(state.space)
        mask = None if mask.all() else mask  # the whole space: nothing to follow or filter
        if mask is not None and c.follow_space:
            moved, added = lm_lib.within(current, truth, mask, c.num, c.select,
                                         seed=[seed, int(mask.sum())], space=space)
            if moved is not current:
                current = moved
                log["landmark_space_added"] = [i.item() for i in added]
        while int(current.rounds_done) < rounds_lib.rounds_due(epoch, starts):
            pool = rounds_lib.candidates(
                c.round_pool, seed=[seed, int(current.rounds_done) + 1],
                exclude=lm_lib.exclusions(current, c.exclude_isomorphic),
                mask=mask if c.follow_space else None)
            archs = run.space.from_index(pool)
            scores = round_scores(state, archs)
            if train_root is not None:  # train the round's best before they join
                chosen = rounds_lib.best(scores, pool, current, c.top_k,
                                         isomorphic=c.exclude_isomorphic)
                folder = trained.round_folder(train_root, int(current.rounds_done) + 2)
                new = trained.train_cells(config, run.space, run.space.from_index(chosen),
                                          folder, progress=run.progress)
                truth = trained.merged([truth, new])
            current, added = rounds_lib.add_top_k(current, scores, pool, truth, c.top_k,
                                                  isomorphic=c.exclude_isomorphic)
            log["landmark_added"] = [int(i) for i in added]
        if log:
            state = state._replace(extra={**state.extra, NAME: current})
        coef = coefficient(epoch)
        args = None   # the term is off: no landmark forwards in the warm-up's steps
        if coef > 0 or not c.skip_warmup:
            args = {"coef": jnp.float32(coef)}
            if c.data == "valid":
                args.update(regulariser_data())
        usable = int(loss_lib.usable(current, None if mask is None else jnp.asarray(mask))[1])
        log.update(landmark_coef=coef, landmarks=int(current.count), landmarks_usable=usable,
                   landmark_round=int(current.rounds_done) + 1)
        return state, {NAME: args}, log

    def exclude(state):
        return lm_lib.exclusions(state.extra[NAME], c.exclude_isomorphic, space)

    return Technique(name=NAME, init_state=init_state, loss_terms={NAME: term},
                     epoch_start=epoch_start, exclude=exclude)
