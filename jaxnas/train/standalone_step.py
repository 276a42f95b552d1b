"""Stand-alone networks trained K at once: one jitted step `vmap`s over K independent networks.

Parameters, optimizer states, architectures and per-network keys are stacked on a leading axis
of size K; each network sees its own batch (its own data order) and its own augmentation key, so
network k of a stack trains exactly as it would alone. Architectures are runtime arrays: a new
set of K cells reuses the compiled step.

A space's stand-alone network is its supernet with a fixed architecture and a private sharing
map (`NETWORKS`: the vanilla map, one slot per (cell, edge), so no two edges share a weight):
NB201's supernet, or DARTS's search network (`darts_search_network`, the genotype `[28]` a
runtime array). A space with a supernet adds an entry here and everything else works through
the `Space` protocol. DARTS also has its evaluation network (`jaxnas.supernet.darts_eval`,
`darts_network`), whose structure is the genotype: one network (and one program) per genotype,
trained with DARTS's auxiliary loss, drop path and cutout; `network_for` picks it for a
`darts_eval.EvalConfig`.

Batch norm uses batch statistics in training and evaluation alike (the supernet has no running
statistics), so evaluation batches should be large (256 by default).
"""

import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxnas.data import augment, cutout as cutout_images, normalize
from jaxnas.errors import ConfigError
from jaxnas.optim import cosine_schedule, sgd_torch
from jaxnas.spaces.darts import NUM_EDGES as DARTS_EDGES
from jaxnas.spaces.nb201 import NUM_EDGES
from jaxnas.supernet import darts, darts_eval, nb201, pools


class Network(NamedTuple):
    """A stand-alone network family of a space: `init(key) -> params`,
    `apply(params, arch, images) -> logits` (images normalised float `[B, H, W, 3]`, evaluation
    mode) and optionally its training loss `loss(params, arch, images, labels, key, local_step)
    -> (mean loss, logits)` (default: cross-entropy of `apply`)."""

    init: Callable
    apply: Callable
    loss: Callable = None


def nb201_network(net_cfg: nb201.SupernetConfig) -> Network:
    """NB201's stand-alone network: the supernet at `net_cfg`'s width and depth with the vanilla
    sharing map (every (cell, edge) its own weights)."""
    cfg = dataclasses.replace(net_cfg, slots_per_cell=NUM_EDGES)
    sharing = pools.vanilla_sharing(cfg.N)

    def apply(params, arch, x):
        return nb201.apply(params, arch, x, jnp.asarray(sharing), cfg=cfg)

    return Network(lambda key: nb201.init(key, cfg), apply)


def darts_search_network(net_cfg: darts.SupernetConfig) -> Network:
    """DARTS's stand-alone search network: the DARTS supernet (`jaxnas.supernet.darts`) at
    `net_cfg`'s width and depth with the vanilla sharing map (every (cell, edge) its own
    weights); `arch` is the genotype, int `[28]`, a runtime array (one program for every
    genotype)."""
    cfg = dataclasses.replace(net_cfg, slots_per_cell=DARTS_EDGES)
    sharing = darts.vanilla_sharing(cfg)

    def apply(params, arch, x):
        return darts.apply(params, arch, x, jnp.asarray(sharing), cfg=cfg)

    return Network(lambda key: darts.init(key, cfg), apply)


def darts_network(net_cfg: darts_eval.EvalConfig, arch, *, auxiliary_weight=0.4,
                  drop_path_prob=0.0, steps_per_epoch=1, epochs=1) -> Network:
    """DARTS's evaluation network of the genotype `arch` (static: `[28]` or Genotype text) at
    `net_cfg`. Its training loss is DARTS's (`cnn/train.py`): cross-entropy plus
    `auxiliary_weight` x the auxiliary head's, with drop path at `drop_path_prob * epoch /
    epochs` (epoch = local_step // steps_per_epoch, counted from 0), a traced value, so every
    epoch runs the same compiled step. The `arch` argument of `apply`/`loss` is not read."""
    plan = darts_eval.Plan.of(arch)

    def apply(params, arch, x):
        return darts_eval.apply(params, x, cfg=net_cfg, plan=plan)[0]

    def loss(params, arch, x, labels, key, local):
        epoch = (local // steps_per_epoch).astype(jnp.float32)
        drop = drop_path_prob * epoch / epochs
        logits, aux = darts_eval.apply(params, x, cfg=net_cfg, plan=plan, train=True,
                                       drop_prob=drop, key=key)
        value = _cross_entropy(logits, labels).mean()
        if aux is not None:
            value = value + auxiliary_weight * _cross_entropy(aux, labels).mean()
        return value, logits

    return Network(lambda key: darts_eval.init(key, net_cfg, plan), apply, loss)


NETWORKS = {"nb201": nb201_network, "darts": darts_search_network}


def network_for(space, net_cfg, arch=None, **training) -> Network:
    """The stand-alone network of `space` (a `Space`) at `net_cfg` (`NETWORKS`); a
    `darts_eval.EvalConfig` gives DARTS's evaluation network of the genotype `arch` with its
    training settings (`darts_network`)."""
    if space.name not in NETWORKS:
        raise ConfigError(f"space {space.name!r} has no stand-alone network; known: "
                          f"{sorted(NETWORKS)}")
    if isinstance(net_cfg, darts_eval.EvalConfig):
        return darts_network(net_cfg, arch, **training)
    return NETWORKS[space.name](net_cfg)


class StackState(NamedTuple):
    """K networks' training state. `step` is the run's global step (checkpoints are named by
    it), `start` the global step at which this stack began, so `step - start` is each network's
    own step count (its keys and schedule depend on that only). `sums` holds each network's
    summed training loss and accuracy over the current epoch's steps (NB201 reports the last
    epoch's running training accuracy); the loop zeroes it at each epoch's start."""

    params: Any
    opt_state: Any
    archs: jax.Array     # int32 [K, *arch_shape]
    keys: jax.Array      # uint32 key data [K, 2]: each network's augmentation key
    step: jax.Array      # int32 scalar
    start: jax.Array     # int32 scalar
    sums: jax.Array      # float32 [K, 2]: (loss, accuracy) summed over this epoch's steps


def optimizer(optim_cfg, total_steps):
    """The configured stand-alone recipe: SGD (Nesterov or not) with L2 weight decay, cosine
    from `lr` to `min_lr` over `total_steps`, optional gradient clipping."""
    o = optim_cfg
    schedule = cosine_schedule(o.lr, o.min_lr, total_steps)
    return sgd_torch(schedule, o.momentum, o.nesterov, o.weight_decay, o.clip), schedule


def cell_keys(seed, codes):
    """uint32 key data `[K, 2]` of cells with 32-bit `codes` under `seed`: a cell's key depends
    on the cell (its code, `standalone.cell_code`) and the seed, not on its place in a stack."""
    base = jax.random.key(seed)
    codes = jnp.asarray(np.asarray(codes, np.uint32))
    return jax.vmap(lambda c: jax.random.key_data(jax.random.fold_in(base, c)))(codes)


def make_init(network: Network, tx):
    """`init(archs [K, ...], cell_keys [K, 2], start) -> StackState`, jitted: each network's
    parameters from its cell key folded with 0, its augmentation key folded with 1."""
    def one(key_data):
        key = jax.random.wrap_key_data(key_data)
        params = network.init(jax.random.fold_in(key, 0))
        return params, tx.init(params), jax.random.key_data(jax.random.fold_in(key, 1))

    @jax.jit
    def init(archs, keys, start):
        params, opt_state, aug = jax.vmap(one)(keys)
        start = jnp.asarray(start, jnp.int32)
        sums = jnp.zeros((aug.shape[0], 2), jnp.float32)
        return StackState(params, opt_state, jnp.asarray(archs, jnp.int32), aug, start, start,
                          sums)
    return init


def _cross_entropy(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels)


def network_step(network: Network, tx, *, pad=4, flip=True, cutout=0):
    """One network's update, unjitted: `one(params, opt_state, arch, key_data, local_step,
    images uint8 [B, ...], labels [B]) -> (params, opt_state, {"loss", "acc"})`; the batch is
    augmented with the key `fold_in(key_data, local_step)` (then DARTS's cutout of `cutout`
    pixels, when not 0, with that key folded with 1; the network's own loss gets it folded
    with 2)."""
    def one(params, opt_state, arch, key_data, local, images, labels):
        key = jax.random.fold_in(jax.random.wrap_key_data(key_data), local)
        x = augment(key, images, pad=pad, flip=flip) if pad or flip else normalize(images)
        if cutout:
            x = cutout_images(jax.random.fold_in(key, 1), x, cutout)

        def loss_fn(p):
            if network.loss is not None:
                return network.loss(p, arch, x, labels, jax.random.fold_in(key, 2), local)
            logits = network.apply(p, arch, x)
            return _cross_entropy(logits, labels).mean(), logits

        (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        acc = jnp.mean(jnp.argmax(logits, -1) == labels) * 100.0
        return params, opt_state, {"loss": loss, "acc": acc}
    return one


LOOPS = ("auto", "vmap", "map", "unroll")


def resolved_loop(loop, backend=None):
    """The stack loop `loop` means on `backend`: "auto" is "unroll" on the CPU, "vmap"
    elsewhere.

    "vmap" batches the K networks: an architecture is then a batched value, so each edge runs
    every op and keeps its network's (`lax.switch` with a batched index is a select); batching
    must win that back, which it does not on the CPU (`experiments/results/
    bench_standalone_mini.json`, one core: a mini stack of 4 took 467-931 ms per network-step,
    one network alone 100 ms, the unrolled stack 94-98 ms). "map"
    runs them one after another inside the step (`lax.map`: one traced network, but XLA's CPU
    convolutions inside a loop are slow, as for the supernet's scanned paths); "unroll" traces
    K copies (each edge only its own op; compile time grows with K, so on the CPU K from memory
    is 1: `standalone.choose_k`)."""
    if loop not in LOOPS:
        raise ConfigError(f"stack loop must be one of {LOOPS}, got {loop!r}")
    if loop != "auto":
        return loop
    return "unroll" if (backend or jax.default_backend()) == "cpu" else "vmap"


def make_train_step(network: Network, tx, *, pad=4, flip=True, loop="auto", cutout=0):
    """`step(state, images uint8 [K, B, H, W, 3], labels [K, B]) -> (state, metrics)`, jitted
    with the state donated: `network_step` over the K networks, `vmap`ped or `lax.map`ped
    (`loop`, see `resolved_loop`). Metrics `loss` and `acc` (percent) are `[K]`, also added to
    `state.sums`.

    Under `vmap` an architecture is a batched value, so each edge runs every candidate op and
    keeps its network's (`lax.switch` with a batched index is a select): a stack pays the
    all-ops cost per network, which batching K networks must win back."""
    one = network_step(network, tx, pad=pad, flip=flip, cutout=cutout)
    loop = resolved_loop(loop)

    def step(state, images, labels):
        local = state.step - state.start
        xs = (state.params, state.opt_state, state.archs, state.keys, images, labels)
        if loop == "vmap":
            params, opt_state, metrics = jax.vmap(one, in_axes=(0, 0, 0, 0, None, 0, 0))(
                *xs[:4], local, *xs[4:])
        elif loop == "unroll":
            outs = [one(*a[:4], local, *a[4:]) for a in _unstack(xs, images.shape[0])]
            params, opt_state, metrics = jax.tree.map(lambda *v: jnp.stack(v), *outs)
        else:
            params, opt_state, metrics = jax.lax.map(
                lambda a: one(*a[:4], local, *a[4:]), xs)
        sums = state.sums + jnp.stack([metrics["loss"], metrics["acc"]], axis=1)
        return state._replace(params=params, opt_state=opt_state, step=state.step + 1,
                              sums=sums), metrics

    return jax.jit(step, donate_argnums=(0,))


def _unstack(tree, k):
    """The K slices of a stacked pytree."""
    return [jax.tree.map(lambda a, i=i: a[i], tree) for i in range(k)]


def make_eval_step(network: Network, loop="auto"):
    """`evaluate(params, archs, images uint8 [B, ...], labels [B]) -> (loss_sum [K],
    correct [K])`, jitted: every network on the same (unaugmented) batch (`loop` as in
    `make_train_step`)."""
    loop = resolved_loop(loop)
    def one(params, arch, x, labels):
        logits = network.apply(params, arch, x)
        return (_cross_entropy(logits, labels).sum(),
                jnp.sum(jnp.argmax(logits, -1) == labels).astype(jnp.float32))

    @jax.jit
    def evaluate(params, archs, images, labels):
        x = normalize(images)
        if loop == "vmap":
            return jax.vmap(one, in_axes=(0, 0, None, None))(params, archs, x, labels)
        if loop == "unroll":
            outs = [one(*a, x, labels) for a in _unstack((params, archs), archs.shape[0])]
            return jax.tree.map(lambda *v: jnp.stack(v), *outs)
        return jax.lax.map(lambda a: one(*a, x, labels), (params, archs))
    return evaluate


def evaluate_stack(eval_step, params, archs, images, labels, batch_size):
    """Mean loss and accuracy (percent) `[K]` of each network on all of `images`, in batches of
    at most `batch_size` that differ in size by at most one (batch-norm statistics of no tiny
    remainder batch; two compiled shapes at most)."""
    n = len(images)
    if n == 0:
        return np.full(archs.shape[0], np.nan), np.full(archs.shape[0], np.nan)
    loss = correct = 0.0
    for idx in np.array_split(np.arange(n), -(-n // batch_size)):
        part = eval_step(params, archs, images[idx[0]:idx[-1] + 1], labels[idx[0]:idx[-1] + 1])
        loss, correct = loss + part[0], correct + part[1]
    return np.asarray(loss) / n, np.asarray(correct) / n * 100.0
