"""What a supernet-training technique hands to the trainer and the evaluator.

A `Method` bundles pure pieces: parameter init, the forward pass (the `make_train_step` seam), the
optax transformation, a host-side hook at the start of every epoch (curriculum edits, optimizer
restarts, the step's runtime arguments, numbers for the log), and how an architecture is scored
with the trained parameters. `config.method` picks one: `"spos"` (here) or `"close"`
(`jaxnas.close.method`).
"""

import importlib
from typing import Callable, NamedTuple

import jax.numpy as jnp
import optax

from jaxnas.errors import ConfigError
from jaxnas.supernet import nb201, pools
from jaxnas.train import optim, step as step_lib


class Method(NamedTuple):
    """The pieces of one training technique.

    Attributes:
      init: `key -> params` (the pytree the optimizer trains).
      forward: `(params, arch, x, key, step_args) -> logits`, see `train.step`.
      tx: the optax transformation; extra update arguments come from `step_args["opt"]`.
      schedule: `step -> learning rate`, for the log.
      epoch_start: host-side `(state, epoch) -> (state, step_args, log)` before the steps of the
        1-based `epoch`; it must be idempotent for a state already inside that epoch (resume).
      scoring: `(params, archs [n, 6], epoch) -> (supernet_params, sharing)` for evaluation, with
        `sharing` one map `[3N, 6, 5]` or one per architecture `[n, 3N, 6, 5]`.
    """

    init: Callable
    forward: Callable
    tx: optax.GradientTransformation
    schedule: Callable
    epoch_start: Callable
    scoring: Callable


def supernet_config(config):
    return nb201.SupernetConfig(**config.supernet.to_dict())


def sharing_map(config):
    """The static sharing map named by `config.sharing` (a runtime array for the step)."""
    n = config.supernet.N
    if config.sharing == "vanilla":
        return pools.vanilla_sharing(n)
    if config.sharing == "cell":
        return pools.cell_sharing(n, config.supernet.slots_per_cell)
    raise ConfigError(f"unknown sharing {config.sharing!r}; choose vanilla or cell")


def spos(config, steps_per_epoch):
    """Single-path one-shot: uniform sampling, a static sharing map, the config's optimizer."""
    net_cfg = supernet_config(config)
    sharing = sharing_map(config)
    step_args = {"sharing": jnp.asarray(sharing)}
    total_steps = steps_per_epoch * config.train.epochs

    def epoch_start(state, epoch):
        del epoch
        return state, step_args, {}

    def scoring(params, archs, epoch):
        del archs, epoch
        return params, sharing

    return Method(
        init=lambda key: nb201.init(key, net_cfg),
        forward=step_lib.supernet_forward(net_cfg),
        tx=optim.make_optimizer(config.optim, total_steps),
        schedule=optim.lr_schedule(config.optim, total_steps),
        epoch_start=epoch_start,
        scoring=scoring,
    )


METHODS = {"spos": "jaxnas.train.method:spos", "close": "jaxnas.close.method:close"}


def build(config, steps_per_epoch) -> Method:
    """The `Method` named by `config.method`, for a run of `steps_per_epoch` steps per epoch."""
    if config.method not in METHODS:
        raise ConfigError(f"unknown method {config.method!r}; choose one of {sorted(METHODS)}")
    module, name = METHODS[config.method].split(":")
    return getattr(importlib.import_module(module), name)(config, steps_per_epoch)

