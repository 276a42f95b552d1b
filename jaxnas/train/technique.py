"""A training technique: a bundle of optional pure pieces, combined like `optax.chain`.

The base (the NB201 supernet trained single-path, `jaxnas.train.recipe`) owns the parameters
`{"supernet": ...}`, the sampler named by `config.sampler`, the torch-style SGD
(`jaxnas.optim.sgd_torch`, a `named_chain`) and the accuracy scorer. A `Technique` adds to or
replaces some of these; `config.techniques` lists the techniques of a run, e.g.
`("close", "landmark")`. Pieces a technique does not need stay `None` (or empty):

  * `init_params(key) -> dict`: extra trained top-level entries of `params` (CLOSE: `{"gate"}`).
  * `init_state(key, params) -> pytree`: technique state that is not trained by the optimizer,
    kept in `state.extra[name]` and checkpointed with the train state (landmark set, masks...).
  * `forward(params, arch, x, key, step_args) -> logits`: replaces the plain supernet forward.
  * `sampler(key, step_args) -> int32[k, 6]`: replaces `config.sampler`; may return several
    architectures (their losses are summed, gradients accumulated, one update). It reads the
    runtime mask `step_args["mask"]` and may read `step_args["extra"]` (`state.extra`).
  * `loss_terms`: name -> `term(params, ctx) -> scalar`, added to the loss once per step;
    `ctx` is a `StepContext`. A term is off for an epoch (0, not traced: a warm-up without
    its cost) while the epoch's `step_args[name]` is None.
  * `arch_weight(arch, ctx) -> scalar`: multiplies the cross-entropy of each sampled `arch`.
  * `optimizer`: `Edit`s of the base optimizer's named chain (insert or replace named parts).
  * `schedule`: `step -> learning rate`, replacing the base cosine in the part named "lr".
  * `update_state(tech_state, params, ctx) -> tech_state`: inside the jitted step, after the
    parameter update (e.g. architecture parameters trained on their own).
  * `epoch_start(state, epoch) -> (state, step_args, log)`: host side, before the steps of the
    1-based `epoch`; must be idempotent for a state already inside that epoch (resume). Its
    `step_args` (a dict of arrays; `"opt"` holds extra optimizer arguments) are merged into the
    base's; `log` goes into the epoch's metrics line.
  * `subnet(params, archs, epoch) -> (supernet_params, sharing)`: how an architecture is scored
    with the trained parameters (CLOSE: the gate's blocks).
  * `scorers`: metric name -> `factory(ScoreContext) -> score(state, archs) -> float[n]`
    (higher = better).
  * `exclude(state) -> int[m]`: NB201 indices dropped from every evaluation set (landmarks);
    reports say how many were dropped.
  * `check(names)`: raise `ConfigError` if this technique cannot run beside the others named.

A technique module `jaxnas.<name>` (or any importable module `<name>`) exposes
`technique(config, run) -> Technique` and `config_block() -> dict`, the defaults of its config
block `config.<last part of name>`. Two techniques that replace the same piece (forward,
sampler, schedule, an optimizer part, a step argument) fail with a ConfigError naming both.
"""

from typing import Any, Callable, Mapping, NamedTuple, Optional

import jax


class Run(NamedTuple):
    """What a technique factory may read about the run being built."""

    config: Any                 # the locked ConfigDict
    net_cfg: Any                # the static `SupernetConfig`
    steps_per_epoch: int
    total_steps: int
    train_data: Any = None      # (uint8 images [n, H, W, 3], int32 labels [n]) host arrays
    valid_data: Any = None      # the held-out half, same layout


class StepContext(NamedTuple):
    """What a loss term, `arch_weight` and `update_state` see inside the jitted step."""

    x: jax.Array            # the augmented, normalised float images of this step [B, H, W, 3]
    labels: jax.Array       # int32 [B]
    archs: jax.Array        # int32 [k, 6], every architecture sampled this step
    arch: jax.Array         # int32 [6], the architecture this call is about (archs[0] for terms)
    key: jax.Array          # a key of this term alone
    step: jax.Array         # int32, the global step before this update
    step_args: Any          # the epoch's runtime arguments (pytree of arrays)
    extra: Any              # `state.extra`: technique name -> technique state
    forward: Callable       # `forward(params, arch, x, key) -> logits` with this step's step_args
    complexity: Any         # {"flops": float32[k], "num_params": float32[k]} of `archs`, in
                            # millions (NB201's `flop` and `params` columns) at the run's width


class ScoreContext(NamedTuple):
    """What a scorer factory receives: the run's data and pieces, built once per run."""

    config: Any
    net_cfg: Any
    images: Any             # held-out uint8 images (None for data-free scoring)
    labels: Any
    batch_size: int
    num_batches: Optional[int]
    subnet: Callable        # `(params, archs, epoch) -> (supernet_params, sharing)`
    init_params: Callable   # `key -> params` of the run (e.g. the initial weights for angles)
    steps_per_epoch: int
    progress: bool = True


class Edit(NamedTuple):
    """One change of the base optimizer's named chain: `kind` is "before", "after" (insert `name`
    next to `anchor`), "replace" (the part `name`; `anchor` unused) or "append"."""

    kind: str
    name: str
    transform: Any
    anchor: Optional[str] = None


def before(anchor, name, transform):
    return Edit("before", name, transform, anchor)


def after(anchor, name, transform):
    return Edit("after", name, transform, anchor)


def replace(name, transform):
    return Edit("replace", name, transform)


def append(name, transform):
    return Edit("append", name, transform)


class Technique(NamedTuple):
    """The optional pieces of one technique (see the module docstring)."""

    name: str
    init_params: Optional[Callable] = None
    init_state: Optional[Callable] = None
    forward: Optional[Callable] = None
    sampler: Optional[Callable] = None
    loss_terms: Mapping[str, Callable] = {}
    arch_weight: Optional[Callable] = None
    optimizer: tuple = ()
    schedule: Optional[Callable] = None
    update_state: Optional[Callable] = None
    epoch_start: Optional[Callable] = None
    subnet: Optional[Callable] = None
    scorers: Mapping[str, Callable] = {}
    exclude: Optional[Callable] = None
    check: Optional[Callable] = None
