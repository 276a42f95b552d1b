"""The DARTS search network as two pure functions, `init` and `apply` (single path).

Macro skeleton (quark0/darts `model_search.Network`): stem conv3x3 (3 -> 3C) + BN; `layers`
cells, the ones at layers//3 and 2*layers//3 reduction cells that double the width and halve
the resolution; global average pooling and a linear classifier. A cell preprocesses its two
inputs (the outputs of the two previous cells) to its width C with ReLU-conv1x1-BN, or with a
FactorizedReduce when the previous cell reduced; node j (2..5) sums its incoming edges, each
running one op of `jaxnas.spaces.darts.OPS`; the cell outputs the concatenation of nodes 2..5.
In a reduction cell the edges from the two inputs have stride 2. As in DARTS's search network
the BNs of the ops and preprocessing have no affine parameters (the stem's has), the pools are
followed by a BN, and `skip_connect` on a stride-2 edge is a FactorizedReduce.

Ops (quark0/darts `operations.py`): `sep_conv_kxk` is (ReLU, depthwise kxk (stride s), 1x1, BN)
twice, the second with stride 1; `dil_conv_kxk` is ReLU, depthwise kxk with dilation 2, 1x1, BN;
pools are 3x3 with padding 1 (average without the padded zeros); `none` outputs zeros.

Parameters. The weights of the parametric ops live in one pool per width (C, 2C, 4C), with a
leading slot axis: `pools[g][op][name]` is `[P_g, ...]`, P_g = (cells of that width) x
`slots_per_cell`. A sharing map, int32 `[layers, 14, 8]`, gives the slot each (cell, edge, op)
reads in its width's pool; it is a runtime array, as the architecture is, so one compilation
serves every genotype and every sharing pattern. The default map (`vanilla_sharing`) gives
every (cell, edge) its own slot: the ordinary one-shot supernet. Preprocessing, stem and
classifier are per cell / global and not pooled.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxnas.errors import ConfigError
from jaxnas.spaces.darts import ARCH_LEN, EDGES, NUM_EDGES, NUM_OPS, OPS
from jaxnas.supernet import darts_ops as ops

_NONE, _MAX, _AVG, _SKIP, _SEP3, _SEP5, _DIL3, _DIL5 = range(NUM_OPS)
# Pooled parameter arrays of each parametric op: name -> (kernel size, depthwise).
POOLED = {
    "sep_conv_3x3": {"dw1": (3, True), "pw1": (1, False), "dw2": (3, True), "pw2": (1, False)},
    "sep_conv_5x5": {"dw1": (5, True), "pw1": (1, False), "dw2": (5, True), "pw2": (1, False)},
    "dil_conv_3x3": {"dw": (3, True), "pw": (1, False)},
    "dil_conv_5x5": {"dw": (5, True), "pw": (1, False)},
    "skip_connect": {"w1": (1, False), "w2": (1, False)},  # FactorizedReduce (stride-2 edges)
}


@dataclasses.dataclass(frozen=True)
class SupernetConfig:
    """Static shape of the DARTS supernet (DARTS's search: C=16, layers=8).

    Attributes:
      C: width of the first cells (reduction cells double it).
      layers: number of cells; reduction cells at layers//3 and 2*layers//3.
      num_classes: classifier outputs.
      slots_per_cell: pool slots each cell owns (14 = one per edge, the vanilla supernet).
      stem_multiplier: the stem outputs stem_multiplier * C channels (DARTS: 3).
    """

    C: int = 16
    layers: int = 8
    num_classes: int = 10
    slots_per_cell: int = NUM_EDGES
    stem_multiplier: int = 3

    def __post_init__(self):
        for name in ("C", "layers", "num_classes", "slots_per_cell", "stem_multiplier"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"supernet.{name} must be a positive integer, got {value!r}")
        if self.layers < 3:
            raise ConfigError(f"supernet.layers must be at least 3 (two reduction cells at "
                              f"layers//3 and 2*layers//3), got {self.layers}")
        if self.C % 2:
            raise ConfigError(f"supernet.C must be even (FactorizedReduce halves it), "
                              f"got {self.C}")

    @property
    def reductions(self):
        return (self.layers // 3, 2 * self.layers // 3)

    @property
    def cells(self):
        """Per cell: (width, reduction, reduction_prev, C_prev_prev, C_prev, group, local)."""
        out, c_pp, c_p, c_cur, red_prev = [], self.stem_multiplier * self.C, \
            self.stem_multiplier * self.C, self.C, False
        group, local = 0, 0
        for i in range(self.layers):
            red = i in self.reductions
            if red:
                c_cur *= 2
                group, local = group + 1, 0
            out.append((c_cur, red, red_prev, c_pp, c_p, group, local))
            local += 1
            c_pp, c_p, red_prev = c_p, 4 * c_cur, red
        return tuple(out)

    @property
    def group_sizes(self):
        """Cells of each width (the pools' cell counts)."""
        counts = {}
        for cell in self.cells:
            counts[cell[5]] = counts.get(cell[5], 0) + 1
        return tuple(counts[g] for g in sorted(counts))

    @property
    def head_width(self):
        return 4 * self.cells[-1][0]


def init(key, cfg: SupernetConfig):
    """Fresh parameters: `stem` {w, bn}, `cells` (per cell `pre0`, `pre1` 1x1 weights; `pre0`
    {w1, w2} when it is a FactorizedReduce), `pools` (per width group, `POOLED` layout) and
    `head` {w, b}. Weights follow PyTorch's default init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    drawn from one random vector (one random-number kernel to compile, not one per shape)."""
    c_stem = cfg.stem_multiplier * cfg.C
    cells = []
    for width, _, red_prev, c_pp, c_p, _, _ in cfg.cells:
        if red_prev:
            pre0 = {"w1": ((1, 1, c_pp, width // 2), c_pp), "w2": ((1, 1, c_pp, width // 2), c_pp)}
        else:
            pre0 = {"w": ((1, 1, c_pp, width), c_pp)}
        cells.append({"pre0": pre0, "pre1": {"w": ((1, 1, c_p, width), c_p)}})
    pools = []
    for g, n in enumerate(cfg.group_sizes):
        w, slots = cfg.C * 2**g, n * cfg.slots_per_cell
        pools.append({op: {name: ((slots, k, k, 1, w), k * k) if depthwise else
                           ((slots, 1, 1, w, w // 2 if op == "skip_connect" else w), w)
                           for name, (k, depthwise) in arrays.items()}
                      for op, arrays in POOLED.items()})
    c = cfg.head_width
    shapes = {"stem": ((3, 3, 3, c_stem), 27), "cells": cells, "pools": pools,
              "head_w": ((c, cfg.num_classes), c), "head_b": ((cfg.num_classes,), c)}
    def is_spec(x):
        return isinstance(x, tuple) and len(x) == 2 and isinstance(x[1], int)
    specs, treedef = jax.tree.flatten(shapes, is_leaf=is_spec)
    sizes = [int(np.prod(shape)) for shape, _ in specs]
    flat = jax.random.uniform(key, (sum(sizes),), jnp.float32, -1.0, 1.0)
    leaves = [part.reshape(shape) / np.sqrt(fan_in) for part, (shape, fan_in)
              in zip(jnp.split(flat, np.cumsum(sizes)[:-1].tolist()), specs)]
    w = jax.tree.unflatten(treedef, leaves)
    return {"stem": {"w": w["stem"], "bn": {"scale": jnp.ones((c_stem,)),
                                             "bias": jnp.zeros((c_stem,))}},
            "cells": w["cells"], "pools": w["pools"],
            "head": {"w": w["head_w"], "b": w["head_b"]}}


# ----------------------------------------------------------------------------- sharing maps


def sharing_from_blocks(blocks, cfg: SupernetConfig):
    """Sharing map `[layers, 14, 8]` from a per-(cell, edge) block in `[0, slots_per_cell)`:
    every op of an edge reads that block's slot of its cell (numpy or jax)."""
    local = np.array([cell[6] for cell in cfg.cells])[:, None]
    slots = local * cfg.slots_per_cell + blocks
    return (slots[..., None] + 0 * np.arange(NUM_OPS)).astype(np.int32)


def vanilla_sharing(cfg: SupernetConfig):
    """One slot per (cell, edge): the ordinary one-shot supernet (slots_per_cell >= 14)."""
    if cfg.slots_per_cell < NUM_EDGES:
        raise ConfigError(f"vanilla sharing needs supernet.slots_per_cell >= {NUM_EDGES}, got "
                          f"{cfg.slots_per_cell}")
    return sharing_from_blocks(np.arange(NUM_EDGES)[None], cfg)


def cell_sharing(cfg: SupernetConfig):
    """All edges of a cell read one slot: the largest sharing extent within a cell."""
    return sharing_from_blocks(np.zeros((1, NUM_EDGES), np.int32), cfg)


def check_sharing(sharing, cfg: SupernetConfig):
    """ConfigError unless `sharing` is a valid map for `cfg` (host-side)."""
    sharing = np.asarray(sharing)
    shape = (cfg.layers, NUM_EDGES, NUM_OPS)
    if sharing.shape != shape:
        raise ConfigError(f"DARTS sharing map has shape {list(sharing.shape)}, expected "
                          f"{list(shape)}")
    if sharing.dtype.kind not in "iu":
        raise ConfigError(f"sharing map must be integer, got {sharing.dtype}")
    limits = np.array([cfg.group_sizes[cell[5]] * cfg.slots_per_cell for cell in cfg.cells])
    if sharing.min() < 0 or (sharing >= limits[:, None, None]).any():
        raise ConfigError("sharing map slots must lie in [0, cells of the width x "
                          "slots_per_cell) of each cell's pool")
    return sharing


# ----------------------------------------------------------------------------- ops


def _branches(stride, axis_name):
    """The 8 candidate ops of an edge with this stride, each `(x, p) -> y` with `p` the edge's
    slice of the pools."""
    def sep(k):
        def run(x, p):
            q = p[f"sep_conv_{k}x{k}"]
            y = ops.dw_pw(x, q["dw1"], q["pw1"], stride, k // 2, 1, axis_name=axis_name)
            return ops.dw_pw(y, q["dw2"], q["pw2"], 1, k // 2, 1, axis_name=axis_name)
        return run

    def dil(k):
        def run(x, p):
            q = p[f"dil_conv_{k}x{k}"]
            return ops.dw_pw(x, q["dw"], q["pw"], stride, k - 1, 2, axis_name=axis_name)
        return run

    def skip(x, p):
        if stride == 1:
            return x
        q = p["skip_connect"]
        return ops.factorized_reduce(x, q["w1"], q["w2"], axis_name=axis_name)

    def zero(x, p):
        return jnp.zeros_like(x[:, ::stride, ::stride])

    return (zero,
            lambda x, p: ops.bn(ops.pool(x, stride, "max"), axis_name=axis_name),
            lambda x, p: ops.bn(ops.pool(x, stride, "avg"), axis_name=axis_name),
            skip, sep(3), sep(5), dil(3), dil(5))


# ----------------------------------------------------------------------------- network


def _preprocess(x, p, axis_name):
    if "w1" in p:
        return ops.factorized_reduce(x, p["w1"], p["w2"], axis_name=axis_name)
    return ops.relu_conv1x1_bn(x, p["w"], axis_name=axis_name)


@functools.cache
def _edge_loop(stride, axis_name, separate, weighted):
    """`run(buf, inputs, op_ids, to, src, p, scale) -> buf`: a `lax.scan` over edges, edge e
    adding op `op_ids[e]` (a traced int: a conditional over the 8 candidates, only that op runs)
    of state `src[e]` to state `to[e]` of the stacked states `buf`, with `p` the edges' stacked
    weights, times `scale[e]` when `weighted` (GDAS's edge weights; `scale` is None otherwise).
    The states are read from `inputs` instead when `separate` (a reduction cell's stride-2 edges
    read its two inputs and write its nodes); `inputs` is None otherwise.

    The gradient is written by hand for the whole loop. Differentiated by JAX, every edge would
    keep zero-filled residuals of all 8 branches whatever op ran, and the gradient of each
    dynamically indexed read would be a zero-filled copy of all the states. Here the residuals
    are the final states and the weights; the backward pass is one reverse scan that recomputes
    each edge's op, runs its transpose only, and adds the input's gradient in place. In reverse
    edge order a node's gradient is complete before the edges into it are reached, because
    every edge reads a node that is final when read (edges run in order of their target).
    """
    branches = _branches(stride, axis_name)

    def transpose(f):
        def run(x, p, dy, c):
            y, vjp = jax.vjp(f, x, p)
            if not weighted:
                return vjp(dy) + (None,)
            return vjp(dy * c) + (jnp.vdot(dy, y),)
        return run

    grads = [transpose(f) for f in branches]

    def forward(buf, inputs, op_ids, to, src, p, scale):
        def body(buf, xs):
            op, dst, frm, pe, c = xs
            y = lax.switch(op, branches, (inputs if separate else buf)[frm], pe)
            return buf.at[dst].add(y * c if weighted else y), None
        return lax.scan(body, buf, (op_ids, to, src, p, scale))[0]

    @jax.custom_vjp
    def run(buf, inputs, op_ids, to, src, p, scale):
        return forward(buf, inputs, op_ids, to, src, p, scale)

    def run_fwd(buf, inputs, op_ids, to, src, p, scale):
        out = forward(buf, inputs, op_ids, to, src, p, scale)
        return out, (out, inputs, op_ids, to, src, p, scale)

    def run_bwd(res, dout):
        final, inputs, op_ids, to, src, p, scale = res
        read = inputs if separate else final

        def body(carry, xs):
            dbuf, dread = carry
            op, dst, frm, pe, c = xs
            dx, dp, dc = lax.switch(op, grads, read[frm], pe, dbuf[dst], c)
            if separate:
                dread = dread.at[frm].add(dx)
            else:
                dbuf = dbuf.at[frm].add(dx)
            return (dbuf, dread), (dp, dc)

        init = (dout, jnp.zeros_like(inputs) if separate else None)
        (dbuf, dinputs), (dps, dscale) = lax.scan(body, init, (op_ids, to, src, p, scale),
                                                  reverse=True)
        return dbuf, dinputs, None, None, None, dps, dscale

    run.defvjp(run_fwd, run_bwd)
    return run


def _edge_scan(states, arch, weights, edges, stride, axis_name, inputs=None, scale=None,
               slots=1):
    """Run `edges` (positions in `EDGES`, in order) over the states (`_edge_loop`): edge e adds
    its op on state `src` to state `to` of the stacked `states` (read from `inputs` instead
    when given: the stride-2 edges of a reduction cell read its inputs; `to` then counts from
    the first node), times `scale[e]` when given. Adding in edge order is DARTS's summation
    order. With `slots` K > 1, `arch`, `weights` and `scale` hold K virtual edges per edge
    (edge-major, see `apply`'s `slot_mix`), which run one after another."""
    idx = np.array([e * slots + k for e in edges for k in range(slots)])
    offset = 0 if inputs is None else 2
    to = jnp.asarray([EDGES[e][0] - offset for e in edges for _ in range(slots)], jnp.int32)
    src = jnp.asarray([EDGES[e][1] for e in edges for _ in range(slots)], jnp.int32)
    run = _edge_loop(stride, axis_name, inputs is not None, scale is not None)
    return run(states, inputs, arch[idx], to, src, jax.tree.map(lambda a: a[idx], weights),
               None if scale is None else scale[idx])


def _cell(s0, s1, arch, weights, cell_params, reduction, axis_name, scale=None, slots=1):
    """One cell: arch int `[14 * slots]`, `weights` the pools gathered for its 14 edges (times
    `slots` virtual edges each), `scale` float `[14 * slots]` (or None) their output weights."""
    inputs = jnp.stack([_preprocess(s0, cell_params["pre0"], axis_name),
                        _preprocess(s1, cell_params["pre1"], axis_name)])
    if not reduction:
        states = jnp.concatenate([inputs, jnp.zeros((4,) + inputs.shape[1:], inputs.dtype)])
        states = _edge_scan(states, arch, weights, range(NUM_EDGES), 1, axis_name, scale=scale,
                            slots=slots)
        nodes = states[2:]
    else:  # the stride-2 edges read only the inputs: run them first, then the rest in order
        b, h, w, c = inputs.shape[1:]
        nodes = jnp.zeros((4, b, (h + 1) // 2, (w + 1) // 2, c), inputs.dtype)
        nodes = _edge_scan(nodes, arch, weights, _INPUT_EDGES, 2, axis_name, inputs=inputs,
                           scale=scale, slots=slots)
        states = jnp.concatenate([jnp.zeros((2,) + nodes.shape[1:], nodes.dtype), nodes])
        nodes = _edge_scan(states, arch, weights, _INNER_EDGES, 1, axis_name, scale=scale,
                           slots=slots)[2:]
    return jnp.concatenate(list(nodes), axis=-1)


_INPUT_EDGES = tuple(e for e, (_, src) in enumerate(EDGES) if src < 2)
_INNER_EDGES = tuple(e for e, (_, src) in enumerate(EDGES) if src >= 2)


def cell_archs(arch, cfg: SupernetConfig, dtype=jnp.int32):
    """Per-cell op arrays `[layers, 14]` of an architecture `[28]` (normal edges, then reduce),
    or `arch` itself when it is already `[layers, 14]` (any per-edge array: `dtype` None keeps
    its own). Trailing axes are kept: `[28, K]` gives `[layers, 14, K]`."""
    arch = jnp.asarray(arch, dtype)
    if arch.shape[:1] == (ARCH_LEN,) and arch.shape[1:] != (NUM_EDGES,):
        reduce = np.array([cell[1] for cell in cfg.cells]).reshape((-1,) + (1,) * arch.ndim)
        return jnp.where(reduce, arch[None, NUM_EDGES:], arch[None, :NUM_EDGES])
    if arch.shape[:2] != (cfg.layers, NUM_EDGES):
        raise ConfigError(f"DARTS architecture must have shape [{ARCH_LEN}] or "
                          f"[{cfg.layers}, {NUM_EDGES}], got {list(arch.shape)}")
    return arch


def _virtual_edges(archs, sharing, scales, slot_mix, cfg):
    """Per cell, K virtual edges per edge (edge-major, so edges still run in order of their
    target, as `_edge_loop`'s gradient needs): virtual edge (e, k) runs op `archs[e]` when slot
    k is active (else `none`, which costs nothing), reads slot `sharing[e, op, k]` and is scaled
    by `weights[e, k]` (times the edge weight). Returns `(archs, sharing, scales)` with 14 K
    edges per cell."""
    k = sharing.shape[-1]
    shape = (cfg.layers, NUM_EDGES, k)
    weights, active = slot_mix
    weights = jnp.broadcast_to(cell_archs(weights, cfg, None), shape)
    active = jnp.asarray(active, bool)
    active = jnp.broadcast_to(active if active.ndim == 1 else cell_archs(active, cfg, None),
                              shape)
    if scales is not None:
        weights = weights * scales[..., None]
    archs = jnp.where(active, archs[..., None], _NONE).reshape(cfg.layers, NUM_EDGES * k)
    sharing = jnp.swapaxes(sharing, 2, 3).reshape(cfg.layers, NUM_EDGES * k, NUM_OPS)
    return archs, sharing, weights.reshape(cfg.layers, NUM_EDGES * k)


def apply(params, arch, x, sharing, *, cfg: SupernetConfig, edge_weights=None, slot_mix=None,
          axis_name=None):
    """Logits of the sub-network `arch` of the supernet on images `x`.

    Args:
      params: from `init`.
      arch: int `[28]` (normal cell edges, then reduction cell edges; `jaxnas.spaces.darts`)
        or per cell `[layers, 14]`. Any op per edge runs, genotype or not.
      x: float `[B, H, W, 3]` normalised images (H, W multiples of 4).
      sharing: int `[layers, 14, 8]` sharing map (`vanilla_sharing`); with `slot_mix`,
        `[layers, 14, 8, K]`: K candidate slots per (cell, edge, op).
      cfg: the static `SupernetConfig` (bind it with functools.partial before jitting).
      edge_weights: optional float `[28]` or `[layers, 14]`, laid out as `arch`: each edge's
        output is multiplied by its weight. GDAS passes the straight-through hard Gumbel-softmax
        weight of the sampled op (one in value), so the loss reaches the architecture logits
        while each edge still runs only its op.
      slot_mix: optional `(weights, active)`: float `[28, K]` or `[layers, 14, K]`, and bool of
        that shape or `[K]`. Each edge outputs `sum_k weights[e, k] * op(x; slot k)` over the
        active slots (CLOSENet's straight-through GATE, one-hot in value: the forward value is
        the chosen slot's path, and every active slot's output reaches the gradient of its
        weight). Every active slot runs (cost proportional to the active slots), as virtual
        edges of the edge loop; with `edge_weights` too, both multiply.
      axis_name: mapped axis for synchronised batch-norm statistics; None on one device.

    Returns:
      float32 `[B, num_classes]` logits.
    """
    archs = cell_archs(arch, cfg)
    scales = None if edge_weights is None else cell_archs(edge_weights, cfg, None)
    sharing = jnp.asarray(sharing, jnp.int32)
    slots = 1
    if slot_mix is not None:
        slots = sharing.shape[-1]
        archs, sharing, scales = _virtual_edges(archs, sharing, scales, slot_mix, cfg)
    h = ops.conv(x, params["stem"]["w"], padding=1)
    h = ops.bn(h, params["stem"]["bn"], axis_name)
    s0 = s1 = h
    for i, (_, reduction, _, _, _, group, _) in enumerate(cfg.cells):
        pool = params["pools"][group]
        weights = {op: {name: a[sharing[i, :, OPS.index(op)]] for name, a in arrays.items()}
                   for op, arrays in pool.items()}
        s0, s1 = s1, _cell(s0, s1, archs[i], weights, params["cells"][i], reduction, axis_name,
                           None if scales is None else scales[i], slots)
    return jnp.mean(s1, axis=(1, 2)) @ params["head"]["w"] + params["head"]["b"]


@functools.cache
def jitted_apply(cfg: SupernetConfig):
    """`apply` jitted for `cfg`: `(params, arch, x, sharing) -> logits`."""
    return jax.jit(functools.partial(apply, cfg=cfg))
