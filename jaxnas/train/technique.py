"""A training technique: a bundle of optional pure pieces, combined like `optax.chain`.

The base (a supernet trained single-path, `jaxnas.train.recipe`) owns the parameters
`{"supernet": ...}`, the sampler named by `config.sampler`, the torch-style SGD
(`jaxnas.optim.sgd_parts`, a `named_chain`), the accuracy and angle scorers and the current
space (`TrainState.space`, a mask of `run.space`). A `Technique` adds to or replaces some of
these; `config.techniques` lists the techniques of a run, e.g. `("close", "landmark")`. Pieces a
technique does not need stay `None` (or empty):

  * `init_params(key) -> dict`: extra trained top-level entries of `params` (CLOSE: `{"gate"}`).
  * `init_state(key, params) -> pytree`: technique state not trained by the optimizer, kept in
    `state.extra[name]` and checkpointed with the train state.
  * `forward(params, arch, x, key, step_args) -> logits`: replaces the plain supernet forward.
  * `sampler(key, step_args, extra) -> int32[k, *arch_shape]`: replaces `config.sampler`; reads
    the space mask `step_args["mask"]` and may read `extra` (`state.extra`, e.g. GDAS's logits,
    which change every step). k > 1 accumulates the paths' gradients into one update.
  * `loss_terms`: name -> `term(params, ctx) -> scalar`, added to the loss once per step; `ctx`
    is a `StepContext`. A term is off for an epoch (not traced: a warm-up without its cost)
    while the epoch's `step_args[name]` is None.
  * `arch_weight(arch, ctx) -> scalar`: multiplies the cross-entropy of each sampled `arch`.
  * `optimizer`: `Edit`s of the base optimizer's named chain (insert or replace named parts).
  * `schedule`: `step -> learning rate`, replacing the base cosine in the part named "lr".
  * `update_state(tech_state, params, ctx) -> tech_state`: inside the jitted step, after the
    parameter update (e.g. architecture parameters trained on their own).
  * `epoch_start(state, epoch) -> (state, step_args, log)`: host side, before the steps of the
    1-based `epoch`; idempotent for a state already inside that epoch (resume). Its
    `step_args` (a dict of arrays; `"opt"` holds extra optimizer arguments) are merged into the
    base's; `log` goes into the epoch's metrics line. A technique that `provides` "space" may
    return a state whose `space` it narrowed; those hooks run first, so every other hook of the
    epoch sees the new space.
  * `subnet(params, archs, epoch) -> (supernet_params, sharing)`: how architectures are scored
    with the trained parameters (CLOSE: the gate's blocks).
  * `scorers`: metric -> `factory(ScoreContext) -> score(state, archs) -> float[n]` (higher is
    better); a technique's scorer replaces a base scorer of the same name.
  * `exclude(state) -> int[m]`: official indices dropped from every evaluation set (landmarks).
  * `found(state) -> (arch, details)`: the architecture the technique itself selects (GDAS's
    argmax) and a JSON-ready dict for the search report (GDAS: its logits).

Declarations (checked when the run is built; a conflict is one ConfigError naming both
techniques and why):
  * `provides`: capabilities others may need: "space" (writes `state.space`), "arch" (`found`).
  * `needs`: capability -> why. "base.<piece>" (forward, subnet, sampler, schedule) needs the
    base's own piece: no listed technique may replace it; any other name must be provided by a
    listed technique.
  * `conflicts`: capability -> why: no listed technique may provide it.

A technique module (`jaxnas.techniques.<name>`, or any importable module `<name>`) exposes
`technique(config, run) -> Technique` and `config_block() -> dict`, the defaults of its config
block `config.<block>`; optionally `BLOCK` (the block's name, default the module's last name)
and `prepare(config)`, which sets what the technique needs of the base config before it is
checked (CLOSE gives the pools one slot per GLOW block). Factories read the run through `run`
(a `Run`): `run.space`, `run.held_out()`, and, from the first epoch hook on, `run.score`.
"""

from typing import Any, Callable, Mapping, NamedTuple, Optional

import jax
import numpy as np

from jaxnas import spaces
from jaxnas.errors import ConfigError, DataError
from jaxnas.train import samplers


class Run:
    """The handle on a run being built, and once built, on its combined pieces.

    Technique factories receive it; their hooks may keep it. Fields: `config` (locked),
    `net_cfg` (the static supernet config), `space` (the `jaxnas.spaces.Space` of
    `config.space`), `steps_per_epoch`, `total_steps`, `paths_per_step` (architectures the base
    sampler `config.sampler` draws per step: FairNAS 5), `train_data` and `valid_data` (host
    `(uint8 images, int32 labels)` or None), `workdir` (the run's folder, where a technique may
    keep files of its own, e.g. trained landmarks; None when the run is built without one),
    `progress` (whether the run shows progress bars, e.g. while landmarks train).
    """

    def __init__(self, config, net_cfg, steps_per_epoch, total_steps, train_data=None,
                 valid_data=None, workdir=None, progress=True):
        self.config, self.net_cfg, self.workdir = config, net_cfg, workdir
        self.progress = progress
        self.steps_per_epoch, self.total_steps = steps_per_epoch, total_steps
        self.train_data, self.valid_data = train_data, valid_data
        self.space = spaces.get(config.space)
        self.paths_per_step = samplers.make(config.sampler, self.space).num_paths
        self._held_out = None
        self._score = None

    def held_out(self):
        """The held-out half on the device, `{"images": uint8, "labels": int32}`, put there
        once for every technique of the run."""
        if self._held_out is None:
            if self.valid_data is None:
                raise DataError("this run was built without its held-out data")
            images, labels = self.valid_data
            self._held_out = {"images": jax.device_put(np.asarray(images, np.uint8)),
                              "labels": jax.device_put(np.asarray(labels, np.int32))}
        return self._held_out

    def bind(self, score):
        """Called by the recipe once combined: `score` is the run's scorer (`make_score`)."""
        self._score = score

    def score(self, state, archs, metric="accuracy", **options):
        """Score `archs` with the run's combined scorer (techniques' scorers first, e.g. CLOSE's
        gated subnets): `jaxnas.train.scorer.make_score(...)(state, archs, metric)`. Options:
        `images`, `labels` (default the held-out half), `batch_size`, `num_batches`. Usable from
        hooks (not inside a factory: the run is not combined yet)."""
        if self._score is None:
            raise ConfigError("run.score is usable once the run is built (from the hooks)")
        return self._score(state, archs, metric, **options)


class StepContext(NamedTuple):
    """What a loss term, `arch_weight` and `update_state` see inside the jitted step."""

    x: jax.Array            # the augmented, normalised float images of this step [B, H, W, 3]
    labels: jax.Array       # int32 [B]
    archs: jax.Array        # int32 [k, *arch_shape], every architecture sampled this step
    arch: jax.Array         # the architecture this call is about (archs[0] for terms)
    key: jax.Array          # a key of this term alone
    step: jax.Array         # int32, the global step before this update
    step_args: Any          # the epoch's runtime arguments (pytree of arrays)
    extra: Any              # `state.extra`: technique name -> technique state
    forward: Callable       # `forward(params, arch, x, key) -> logits` with this step's step_args
    complexity: Any         # {"flops": float32[k], "num_params": float32[k]} of `archs`, in
                            # millions at the run's width (`Space.complexity`)


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
    space: Any = None


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
    """The optional pieces and declarations of one technique (see the module docstring)."""

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
    found: Optional[Callable] = None
    provides: tuple = ()
    needs: Mapping[str, str] = {}
    conflicts: Mapping[str, str] = {}


# Pieces a technique may replace, checked by "base.<piece>" needs.
REPLACEABLE = ("forward", "subnet", "sampler", "schedule")


def check_declarations(techniques):
    """ConfigError naming both techniques when a declared need or conflict is not met."""
    providers = {}
    for t in techniques:
        for cap in t.provides:
            providers.setdefault(cap, []).append(t.name)
        for piece in REPLACEABLE:
            if getattr(t, piece) is not None:
                providers.setdefault(f"base.{piece}", []).append(t.name)
    for t in techniques:
        for cap, why in t.needs.items():
            if cap.startswith("base."):
                if cap[5:] not in REPLACEABLE:
                    raise ConfigError(f"{t.name} declares a need of {cap!r}; base pieces are "
                                      f"{', '.join('base.' + p for p in REPLACEABLE)}")
                others = [n for n in providers.get(cap, ()) if n != t.name]
                if others:
                    raise ConfigError(f"{t.name} cannot combine with {others[0]}: {t.name} needs "
                                      f"the base {cap[5:]}, which {others[0]} replaces ({why})")
            elif not providers.get(cap):
                raise ConfigError(f"{t.name} needs a technique that provides {cap!r} ({why}); "
                                  f"none of the listed techniques does")
        for cap, why in t.conflicts.items():
            others = [n for n in providers.get(cap, ()) if n != t.name]
            if others:
                raise ConfigError(f"{t.name} cannot combine with {others[0]}: {why}")
