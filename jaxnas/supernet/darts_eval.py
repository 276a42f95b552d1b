"""DARTS's evaluation network (quark0/darts `model.py::NetworkCIFAR`) for one genotype, as two
pure functions `init` and `apply`.

Unlike the search network (`jaxnas.supernet.darts`), it holds only the genotype's 8 edges per
cell, its BNs are affine, its pools have no BN after them, and a stride-1 `skip_connect` is the
identity (a stride-2 one a FactorizedReduce). Stem conv3x3 (3 -> 3C) + BN; `layers` cells with
reduction cells at layers//3 and 2*layers//3 (the channel plan of the search network, whose
`SupernetConfig.cells` it reuses); cell inputs preprocessed by ReLU-conv1x1-BN or, after a
reduction, FactorizedReduce; node j sums its two ops; the cell concatenates nodes 2..5. With
`auxiliary`, `AuxiliaryHeadCIFAR` reads the output of cell 2*layers//3 in training: ReLU,
avg-pool 5 stride 3 (no padding), conv1x1 -> 128, BN, ReLU, conv2x2 -> 768, BN, ReLU, linear.

Drop path (DARTS `utils.drop_path`): in training, every op's output except an identity's is
zeroed per example with probability `drop_prob` and the rest divided by 1 - drop_prob.
`drop_prob` is a runtime scalar (DARTS raises it linearly by epoch): drop_prob = 0 keeps every
example (a Bernoulli draw with probability 1), so one compiled step serves every epoch.

The genotype is static (`Plan`, hashable): the parameter pytree is the genotype's own, so its
size is DARTS's parameter count and each edge runs only its op with no `lax.switch` over the 8
candidates (a switch would make every edge hold all candidates' weights). A stack of different
genotypes under one compiled step therefore needs another network; this one trains one genotype
per program (`jaxnas final`). BN uses batch statistics in training and evaluation, as every
network of jaxnas (no running averages; DARTS evaluates with them).
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.errors import ConfigError
from jaxnas.spaces import darts as darts_space
from jaxnas.spaces.darts import CONCAT, EDGES, NUM_EDGES, OPS
from jaxnas.supernet import darts as search_net
from jaxnas.supernet import darts_ops as ops

_PARAMETRIC = {  # op -> its weights: name -> (kernel size, depthwise)
    "sep_conv_3x3": {"dw1": (3, True), "pw1": (1, False), "dw2": (3, True), "pw2": (1, False)},
    "sep_conv_5x5": {"dw1": (5, True), "pw1": (1, False), "dw2": (5, True), "pw2": (1, False)},
    "dil_conv_3x3": {"dw": (3, True), "pw": (1, False)},
    "dil_conv_5x5": {"dw": (5, True), "pw": (1, False)},
}
AUX_HIDDEN, AUX_OUT = 128, 768


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """Static shape of the evaluation network (DARTS's CIFAR-10 evaluation: C=36, layers=20,
    auxiliary head on; `configs/darts_final.py`).

    Attributes:
      C: width of the first cells (reduction cells double it; even).
      layers: cells (at least 3: reductions at layers//3 and 2*layers//3).
      num_classes: classifier outputs.
      auxiliary: build `AuxiliaryHeadCIFAR` after cell 2*layers//3 (needs 32x32 inputs or more).
      stem_multiplier: the stem outputs stem_multiplier * C channels (DARTS: 3).
    """

    C: int = 36
    layers: int = 20
    num_classes: int = 10
    auxiliary: bool = True
    stem_multiplier: int = 3

    def __post_init__(self):
        if not isinstance(self.auxiliary, bool):
            raise ConfigError(f"network.auxiliary must be true or false, got {self.auxiliary!r}")
        _ = self.skeleton  # validates C, layers, num_classes, stem_multiplier in one line

    @property
    def skeleton(self):
        """The search network's config of the same channel plan (its `cells`)."""
        return search_net.SupernetConfig(C=self.C, layers=self.layers,
                                         num_classes=self.num_classes,
                                         stem_multiplier=self.stem_multiplier)

    @property
    def aux_cell(self):
        return 2 * self.layers // 3


@dataclasses.dataclass(frozen=True)
class Plan:
    """A genotype as static structure: per cell type ("normal", "reduce"), per node 2..5, its
    two `(source node, op name)` edges in increasing source order (the space's canonical form;
    the sum does not depend on the order)."""

    normal: tuple
    reduce: tuple

    @classmethod
    def of(cls, arch):
        """The plan of an architecture `[28]` or Genotype text (ArchError, one line, if bad)."""
        ops = darts_space.str_to_arch(arch) if isinstance(arch, str) else \
            darts_space.parse_arch(arch)
        cells = []
        for c in range(2):
            nodes = [[] for _ in CONCAT]
            for e, (to, src) in enumerate(EDGES):
                if ops[c * NUM_EDGES + e]:
                    nodes[to - 2].append((src, OPS[ops[c * NUM_EDGES + e]]))
            cells.append(tuple(tuple(n) for n in nodes))
        return cls(*cells)


def _uniform_specs(cfg: EvalConfig, plan: Plan):
    """Every weight as `(shape, fan_in)`, in a pytree: PyTorch's default initialisation
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for convolutions and linear layers."""
    c_stem = cfg.stem_multiplier * cfg.C
    cells = []
    for width, reduction, red_prev, c_pp, c_p, _, _ in cfg.skeleton.cells:
        if red_prev:
            pre0 = {"w1": ((1, 1, c_pp, width // 2), c_pp), "w2": ((1, 1, c_pp, width // 2), c_pp)}
        else:
            pre0 = {"w": ((1, 1, c_pp, width), c_pp)}
        edges = []
        for node in (plan.reduce if reduction else plan.normal):
            for src, op in node:
                if op in _PARAMETRIC:
                    edges.append({name: ((k, k, 1, width), k * k) if depthwise else
                                  ((1, 1, width, width), width)
                                  for name, (k, depthwise) in _PARAMETRIC[op].items()})
                elif op == "skip_connect" and reduction and src < 2:
                    edges.append({"w1": ((1, 1, width, width // 2), width),
                                  "w2": ((1, 1, width, width // 2), width)})
                else:
                    edges.append({})
        cells.append({"pre0": pre0, "pre1": {"w": ((1, 1, c_p, width), c_p)}, "edges": edges})
    c = cfg.skeleton.head_width
    specs = {"stem": ((3, 3, 3, c_stem), 27), "cells": cells,
             "head": {"w": ((c, cfg.num_classes), c), "b": ((cfg.num_classes,), c)}}
    if cfg.auxiliary:
        c_aux = 4 * cfg.skeleton.cells[cfg.aux_cell][0]
        specs["aux"] = {"w1": ((1, 1, c_aux, AUX_HIDDEN), c_aux),
                        "w2": ((2, 2, AUX_HIDDEN, AUX_OUT), 4 * AUX_HIDDEN),
                        "head": {"w": ((AUX_OUT, cfg.num_classes), AUX_OUT),
                                 "b": ((cfg.num_classes,), AUX_OUT)}}
    return specs


def _bn_params(width):
    return {"scale": jnp.ones((width,)), "bias": jnp.zeros((width,))}


def init(key, cfg: EvalConfig, plan: Plan):
    """Fresh parameters: `stem` {w, bn}; per cell `pre0`, `pre1` (weights and `bn`) and `edges`
    (8, in node order, each its op's weights with a `bn` per BN; `{}` for pools and identities);
    `head` {w, b}; `aux` when `cfg.auxiliary`. Conv and linear weights are drawn from one random
    vector (one random-number kernel to compile); BN scales 1, biases 0."""
    specs = _uniform_specs(cfg, plan)
    def is_spec(x):
        return isinstance(x, tuple) and len(x) == 2 and isinstance(x[1], int)
    leaves, treedef = jax.tree.flatten(specs, is_leaf=is_spec)
    sizes = [int(np.prod(shape)) for shape, _ in leaves]
    flat = jax.random.uniform(key, (sum(sizes),), jnp.float32, -1.0, 1.0)
    parts = jnp.split(flat, np.cumsum(sizes)[:-1].tolist())
    w = jax.tree.unflatten(treedef, [p.reshape(s) / np.sqrt(f) for p, (s, f) in zip(parts, leaves)])
    c_stem = cfg.stem_multiplier * cfg.C
    params = {"stem": {"w": w["stem"], "bn": _bn_params(c_stem)}, "cells": [],
              "head": w["head"]}
    for cell, (width, *_) in zip(w["cells"], cfg.skeleton.cells):
        edges = []
        for e in cell["edges"]:
            if "dw1" in e:  # sep_conv: a BN after each half
                e = {**e, "bn1": _bn_params(width), "bn2": _bn_params(width)}
            elif e:  # dil_conv or FactorizedReduce: one BN
                e = {**e, "bn": _bn_params(width)}
            edges.append(e)
        params["cells"].append({"pre0": {**cell["pre0"], "bn": _bn_params(width)},
                                "pre1": {**cell["pre1"], "bn": _bn_params(width)},
                                "edges": edges})
    if cfg.auxiliary:
        params["aux"] = {**w["aux"], "bn1": _bn_params(AUX_HIDDEN), "bn2": _bn_params(AUX_OUT)}
    return params


def num_params(params):
    """Parameters in a pytree (DARTS counts the auxiliary head only when it is asked to)."""
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params))


# ----------------------------------------------------------------------------- ops


def _dw_pw(x, dw, pw, bn, stride, padding, dilation, axis_name):
    """ReLU, depthwise conv, pointwise 1x1, affine BN."""
    return ops.dw_pw(x, dw, pw, stride, padding, dilation, bn, axis_name)


def _factorized_reduce(x, p, axis_name):
    return ops.factorized_reduce(x, p["w1"], p["w2"], p["bn"], axis_name)


def _op(name, x, p, stride, axis_name):
    if name.startswith("sep_conv"):
        k = int(name[-1])
        y = _dw_pw(x, p["dw1"], p["pw1"], p["bn1"], stride, k // 2, 1, axis_name)
        return _dw_pw(y, p["dw2"], p["pw2"], p["bn2"], 1, k // 2, 1, axis_name)
    if name.startswith("dil_conv"):
        k = int(name[-1])
        return _dw_pw(x, p["dw"], p["pw"], p["bn"], stride, k - 1, 2, axis_name)
    if name == "skip_connect":
        return x if stride == 1 else _factorized_reduce(x, p, axis_name)
    if name in ("max_pool_3x3", "avg_pool_3x3"):
        return ops.pool(x, stride, name[:3])
    return jnp.zeros_like(x[:, ::stride, ::stride])  # none


def _drop_path(x, key, drop_prob):
    """DARTS's drop_path: keep each example with probability 1 - drop_prob, scaled up."""
    keep = 1.0 - drop_prob
    mask = jax.random.bernoulli(key, keep, (x.shape[0], 1, 1, 1))
    return jnp.where(mask, x / keep, 0.0).astype(x.dtype)


def _cell(s0, s1, p, nodes, reduction, drop, axis_name):
    """One cell; `drop` is None (no drop path) or `(key, drop_prob)`."""
    pre0 = _factorized_reduce(s0, p["pre0"], axis_name) if "w1" in p["pre0"] else \
        ops.relu_conv1x1_bn(s0, p["pre0"]["w"], p["pre0"]["bn"], axis_name)
    states = [pre0, ops.relu_conv1x1_bn(s1, p["pre1"]["w"], p["pre1"]["bn"], axis_name)]
    e = 0
    for node in nodes:
        total = 0.0
        for src, op in node:
            stride = 2 if reduction and src < 2 else 1
            h = _op(op, states[src], p["edges"][e], stride, axis_name)
            if drop is not None and not (op == "skip_connect" and stride == 1):
                h = _drop_path(h, jax.random.fold_in(drop[0], e), drop[1])
            total, e = total + h, e + 1
        states.append(total)
    return jnp.concatenate([states[i] for i in CONCAT], axis=-1)


def _aux_head(x, p, axis_name):
    """AuxiliaryHeadCIFAR on a [B, 8, 8, C] map (32x32 inputs)."""
    window, strides = (1, 5, 5, 1), (1, 3, 3, 1)
    y = jax.lax.reduce_window(jax.nn.relu(x), 0.0, jax.lax.add, window, strides, "VALID") / 25.0
    y = jax.nn.relu(ops.bn(ops.pointwise(y, p["w1"]), p["bn1"], axis_name))
    y = jax.nn.relu(ops.bn(ops.conv(y, p["w2"]), p["bn2"], axis_name))
    return jnp.mean(y, axis=(1, 2)) @ p["head"]["w"] + p["head"]["b"]


def apply(params, x, *, cfg: EvalConfig, plan: Plan, train=False, drop_prob=0.0, key=None,
          axis_name=None):
    """Logits of the network on images `x` (float `[B, H, W, 3]`, normalised; H, W multiples of
    4, at least 32 with the auxiliary head in training).

    Returns `(logits, aux_logits)`: `aux_logits` is None unless `train` and `cfg.auxiliary`
    (DARTS computes the auxiliary head in training only). With `train`, drop path runs with the
    runtime probability `drop_prob` and the PRNG `key` (required).
    """
    if train and key is None:
        raise ValueError("darts_eval.apply(train=True) needs a PRNG key for drop path")
    h = ops.conv(x, params["stem"]["w"], padding=1)
    s0 = s1 = ops.bn(h, params["stem"]["bn"], axis_name)
    aux = None
    for i, (cell, (_, reduction, *_)) in enumerate(zip(params["cells"], cfg.skeleton.cells)):
        drop = (jax.random.fold_in(key, i), drop_prob) if train else None
        nodes = plan.reduce if reduction else plan.normal
        s0, s1 = s1, _cell(s0, s1, cell, nodes, reduction, drop, axis_name)
        if train and cfg.auxiliary and i == cfg.aux_cell:
            if s1.shape[1] < 8:
                raise ConfigError(f"the auxiliary head needs a map of at least 8x8 after cell "
                                  f"{i} (32x32 images), got {s1.shape[1]}x{s1.shape[2]}")
            aux = _aux_head(s1, params["aux"], axis_name)
    logits = jnp.mean(s1, axis=(1, 2)) @ params["head"]["w"] + params["head"]["b"]
    return logits, aux


@functools.cache
def jitted_apply(cfg: EvalConfig, plan: Plan):
    """`apply` in evaluation mode, jitted for (cfg, plan): `(params, x) -> logits`."""
    return jax.jit(lambda params, x: apply(params, x, cfg=cfg, plan=plan)[0])
