"""The base supernet training and the techniques of `config.techniques`, combined.

`build(config, run)` loads each technique by name (`jaxnas.train.registry`), checks their
declarations (`jaxnas.train.technique.check_declarations`), then combines their pieces with the
base the way `optax.chain` combines transforms: loss terms are summed, `arch_weight`s
multiplied, optimizer edits applied in order, epoch hooks run (those that provide "space"
first) and their step arguments merged, and pieces only one technique may own (forward,
sampler, schedule, subnet, found, a step argument, an optimizer part, a parameter entry) raise
a ConfigError naming both owners when two claim them. Finally the run handle is bound to the
combined scorer, so hooks can score cells the way evaluation does (`Run.score`).

Keys: with no technique parameters the supernet is initialised from the run key itself;
otherwise the key splits into one for the supernet and one for the techniques' parameters (split
again when several techniques have parameters), so SPOS and CLOSE runs keep their initialisation.
"""

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxnas.data import load_data, num_batches
from jaxnas.errors import ConfigError
from jaxnas.optim import apply_edits, cosine_schedule, partition, sgd_parts
from jaxnas.supernet import darts, nb201, pools
from jaxnas.train import defaults, registry, samplers
from jaxnas.train import scorer as scorer_lib
from jaxnas.train import step as step_lib
from jaxnas.train.state import TrainState
from jaxnas.train.technique import Run, Technique, check_declarations

# Step arguments the base sets; techniques may not.
BASE_STEP_ARGS = ("sharing", "mask")


class Recipe(NamedTuple):
    """A run's combined pieces: what the training loop, the evaluator and search use."""

    techniques: tuple           # the `Technique`s, in config order
    init: Callable              # `key -> TrainState` at step 0
    tx: optax.GradientTransformation
    schedule: Callable          # `step -> learning rate` (for the log)
    train_step: Callable        # jitted `(state, images, labels, step_args) -> (state, metrics)`
    epoch_start: Callable       # host `(state, epoch) -> (state, step_args, log)`
    subnet: Callable            # `(params, archs, epoch) -> (supernet_params, sharing)`
    scorers: dict               # metric name -> `factory(ScoreContext) -> score(state, archs)`
    exclude: Callable           # `state -> sorted official indices` not to evaluate (landmarks)
    found: Any                  # `state -> (arch, details)` of a technique selecting one, or None
    run: Any


def supernet_config(config):
    """The static supernet config of `config.space`: NB201's from every `supernet` key but
    `layers`; DARTS's from C, layers, num_classes and slots_per_cell (`darts_scale`: 14, one
    per edge)."""
    s = config.supernet.to_dict()
    if config.get("space", "nb201") == "darts":
        return darts.SupernetConfig(C=s["C"], layers=s["layers"], num_classes=s["num_classes"],
                                    slots_per_cell=s["slots_per_cell"])
    s.pop("layers", None)
    return nb201.SupernetConfig(**s)


def supernet_init(key, net_cfg):
    """Fresh supernet parameters for `net_cfg` (NB201's or DARTS's), drawn in one jitted
    program: run eagerly, the init's per-shape reshapes and scalings compiled ~50 small
    programs whose cached code held ~55 MiB for the life of the process (paper scale,
    experiments/README.md section 2). Bit-identical to the eager init (tests/test_train.py)."""
    module = darts if isinstance(net_cfg, darts.SupernetConfig) else nb201
    return _jitted_init(module)(key, cfg=net_cfg)


@functools.cache
def _jitted_init(module):
    return jax.jit(module.init, static_argnames="cfg")


def sharing_map(config):
    """The static sharing map named by `config.sharing` (a runtime array for the step)."""
    if config.get("space", "nb201") == "darts":
        net_cfg = supernet_config(config)
        if config.sharing == "vanilla" and net_cfg.slots_per_cell < darts.NUM_EDGES:
            # Fewer slots than edges: a technique owns the pools (CLOSE's GLOW blocks, allowed
            # by `rules`) and replaces the forward and subnet that read this map.
            return darts.cell_sharing(net_cfg)
        if config.sharing == "vanilla":
            return darts.vanilla_sharing(net_cfg)
        if config.sharing == "cell":
            return darts.cell_sharing(net_cfg)
    n = config.supernet.N
    if config.sharing == "vanilla":
        return pools.vanilla_sharing(n)
    if config.sharing == "cell":
        return pools.cell_sharing(n, config.supernet.slots_per_cell)
    raise ConfigError(f"unknown sharing {config.sharing!r}; choose vanilla or cell")


def _single(techniques, piece, base_owner=None):
    """The one technique providing `piece` (None if none); ConfigError if two do."""
    owners = [t for t in techniques if getattr(t, piece) is not None]
    if base_owner is not None and owners:
        raise ConfigError(f"{owners[0].name} provides the {piece}, so {base_owner} cannot be set")
    if len(owners) > 1:
        raise ConfigError(f"{owners[0].name} and {owners[1].name} both replace the {piece}; "
                          f"they cannot be combined")
    return owners[0] if owners else None


def _merged(techniques, piece):
    """Union of the technique dicts `piece`; ConfigError on a name two techniques use."""
    out, owner = {}, {}
    for t in techniques:
        for key, value in getattr(t, piece).items():
            if key in out:
                raise ConfigError(f"{owner[key]} and {t.name} both define the {piece[:-1]} "
                                  f"{key!r}")
            out[key], owner[key] = value, t.name
    return out


def _product(fns):
    if not fns:
        return None
    if len(fns) == 1:
        return fns[0]
    return lambda arch, ctx: functools.reduce(jnp.multiply, [f(arch, ctx) for f in fns])


def _load(config, run):
    names = registry.canonical_names(config.techniques)
    techniques = []
    for name in names:
        if registry.block_name(name) not in config:
            raise ConfigError(f"technique {name!r} has no config block "
                              f"{registry.block_name(name)!r}; build the config with "
                              f"base_config(techniques=...)")
        t = registry.module(name).technique(config, run)
        if not isinstance(t, Technique):
            raise ConfigError(f"technique {name!r} did not return a Technique")
        techniques.append(t._replace(name=name))
    check_declarations(techniques)
    return tuple(techniques)


def make_run(config, steps_per_epoch, train_data=None, valid_data=None, workdir=None,
             progress=True):
    """The `Run` handle of `config` before its techniques are built."""
    return Run(config, supernet_config(config), steps_per_epoch,
               steps_per_epoch * config.train.epochs, train_data, valid_data, workdir, progress)


def build(config, run: Run) -> Recipe:
    """Combine the base and `config.techniques` for `run` (see the module docstring)."""
    techniques = _load(config, run)
    net_cfg, o, space = run.net_cfg, config.optim, run.space
    sharing = sharing_map(config)
    initial_space = space.mask_from_str(config.space_mask)

    sampler_owner = _single(techniques, "sampler",
                            None if config.sampler == "uniform" else f"sampler={config.sampler!r}")
    sampler = sampler_owner.sampler if sampler_owner else samplers.make(config.sampler, space)
    forward_owner = _single(techniques, "forward")
    forward = forward_owner.forward if forward_owner else step_lib.supernet_forward(net_cfg)
    schedule_owner = _single(techniques, "schedule")
    schedule = (schedule_owner.schedule if schedule_owner
                else cosine_schedule(o.lr, o.min_lr, run.total_steps))
    parts = apply_edits(sgd_parts(schedule, o.momentum, o.nesterov, o.weight_decay, o.clip),
                        [(t.name, e) for t in techniques for e in t.optimizer])
    tx = partition(optax.named_chain(*parts), config.optim.groups.to_dict())
    subnet_owner = _single(techniques, "subnet")
    found_owner = _single(techniques, "found")

    def base_subnet(params, archs, epoch):
        del archs, epoch
        return params["supernet"], sharing

    train_step = step_lib.make_train_step(
        forward, tx, sampler, pad=config.data.pad, flip=config.data.flip,
        loss_terms=_merged(techniques, "loss_terms"),
        arch_weight=_product([t.arch_weight for t in techniques if t.arch_weight]),
        complexity=space.complexity(net_cfg, config.data.resolution),
        update_state={t.name: t.update_state for t in techniques if t.update_state},
        path_loop=config.train.path_loop, skip_nonfinite=config.train.skip_nonfinite)

    recipe = Recipe(
        techniques=techniques,
        init=functools.partial(_init, techniques, net_cfg, tx, config.seed, initial_space),
        tx=tx,
        schedule=schedule,
        train_step=train_step,
        epoch_start=functools.partial(_epoch_start, techniques, sharing, space.full_mask()),
        subnet=subnet_owner.subnet if subnet_owner else base_subnet,
        scorers=_merged(techniques, "scorers"),
        exclude=functools.partial(_exclude, techniques),
        found=found_owner.found if found_owner else None,
        run=run,
    )
    run.bind(scorer_lib.run_scorer(recipe))
    return recipe


def _init(techniques, net_cfg, tx, seed, initial_space, key=None):
    """The train state at step 0 (`key` defaults to the run seed's)."""
    key = jax.random.key(seed) if key is None else key
    with_params = [t for t in techniques if t.init_params is not None]
    if not with_params:
        params = {"supernet": supernet_init(key, net_cfg)}
    else:
        k_net, k_tech = jax.random.split(key)
        params = {"supernet": supernet_init(k_net, net_cfg)}
        keys = [k_tech] if len(with_params) == 1 else jax.random.split(k_tech, len(with_params))
        for t, k in zip(with_params, keys):
            for name, value in t.init_params(k).items():
                if name in params:
                    raise ConfigError(f"{t.name} adds parameters {name!r}, which already exist")
                params[name] = value
    with_state = [t for t in techniques if t.init_state is not None]
    extra = None
    if with_state:
        keys = jax.random.split(jax.random.fold_in(key, 1), len(with_state))
        extra = {t.name: t.init_state(k, params) for t, k in zip(with_state, keys)}
    return TrainState(params=params, opt_state=jax.jit(tx.init)(params),
                      step=jnp.zeros((), jnp.int32),
                      rng=jax.random.key_data(jax.random.key(seed)),
                      space=jnp.asarray(initial_space), extra=extra)


def _epoch_start(techniques, sharing, whole_space, state, epoch):
    """Run every technique's epoch hook, those that narrow the space first; merge their step
    arguments and log fields; the space mask is the state's after the hooks (the whole space
    for a state made without one, e.g. `state.create`)."""
    step_args = {"sharing": jnp.asarray(sharing)}
    owner = {}
    log = {}
    ordered = sorted(techniques, key=lambda t: "space" not in t.provides)
    for t in ordered:
        if t.epoch_start is None:
            continue
        space = state.space
        state, args, more = t.epoch_start(state, epoch)
        if state.space is not space and "space" not in t.provides:
            raise ConfigError(f"{t.name} changed the run's space without declaring "
                              f"provides=('space',)")
        for key, value in args.items():
            if key in BASE_STEP_ARGS:
                raise ConfigError(f"{t.name} sets the step argument {key!r}, which the base "
                                  f"owns (write state.space to change the space)")
            if key == "opt":
                for name, v in value.items():
                    if ("opt", name) in owner:
                        raise ConfigError(f"{owner['opt', name]} and {t.name} both set the "
                                          f"optimizer argument {name!r}")
                    owner["opt", name] = t.name
                    step_args.setdefault("opt", {})[name] = v
                continue
            if key in owner:
                raise ConfigError(f"{owner[key]} and {t.name} both set the step argument {key!r}")
            owner[key] = t.name
            step_args[key] = value
        log.update(more)
    # A copy: the step donates the state's buffers, and the mask must outlive that.
    step_args["mask"] = jnp.array(whole_space if state.space is None else state.space, copy=True)
    return state, step_args, log


def _exclude(techniques, state):
    """Sorted official indices (or, in a space without indices such as DARTS, canonical texts)
    that no evaluation set may contain (e.g. landmarks)."""
    found = [np.asarray(t.exclude(state)).ravel() for t in techniques if t.exclude is not None]
    if not found:
        return np.zeros(0, np.int64)
    keys = np.unique(np.concatenate(found))
    return keys if keys.dtype.kind in "US" else keys.astype(np.int64)


def from_config(config, *, data=True, steps_per_epoch=None, workdir=None, progress=True):
    """Check `config`, load its data (the cifar10-valid halves) and build its recipe.

    With `data=False` nothing is loaded (data-free scoring of a stored run); `steps_per_epoch`
    must then be given. `workdir`: the run's folder, for techniques that keep files there.
    `progress`: whether loading and the techniques show progress bars (`Run.progress`).
    """
    defaults.check(config, paths=data)
    train_data = valid_data = None
    if data:
        train_data, valid_data = load_data(config.data, progress)
        steps_per_epoch = num_batches(len(train_data[0]), config.train.batch_size)
    elif steps_per_epoch is None:
        raise ConfigError("steps_per_epoch is needed to build a run without its data")
    return build(config, make_run(config, steps_per_epoch, train_data, valid_data, workdir,
                                  progress))
