"""The NAS-Bench-201 supernet as two pure functions, `init` and `apply`.

Macro skeleton (AutoDL's `TinyNetwork`): stem conv3x3 + BN; three stages of N cells at widths C, 2C,
4C, separated by residual reduction blocks; BN + ReLU, global average pooling, linear classifier.
Each cell is the 4-node NB201 DAG; every edge runs one of the five candidate ops. With a fixed
architecture and the vanilla sharing map the same code is the stand-alone NB201 network (without
affine parameters in the cell BNs, as in the reference supernets).

The architecture (`[6]` or per cell `[3N, 6]` op indices) and the sharing map are runtime arrays, so
one compiled step serves every architecture and every sharing pattern.
"""

import dataclasses
import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxnas.errors import ConfigError
from jaxnas.spaces.nb201 import EDGES, NUM_EDGES, OPS
from jaxnas.supernet import ops
from jaxnas.supernet.conv import conv2d, default_impl
from jaxnas.supernet.pools import NUM_STAGES

CONV1, CONV3 = OPS.index("nor_conv_1x1"), OPS.index("nor_conv_3x3")


@dataclasses.dataclass(frozen=True)
class SupernetConfig:
    """Static shape of the supernet. Everything that changes during training is an array instead.

    Attributes:
      C: width of the first stage (stages are C, 2C, 4C).
      N: cells per stage.
      num_classes: classifier outputs.
      slots_per_cell: pool slots each cell owns (6 = vanilla one-shot; K_max for CLOSENet).
      edge_impl: "switch" (run only the sampled op), "masked" (run all, keep one) or "auto".
      conv_impl: "nested" (CPU-friendly gradient), "xla" or "auto".
      cell_loop: "scan" (one traced cell per stage: fast compiles), "unroll" (no per-cell stacking
        of residuals: faster single-path steps on the CPU) or "auto": unroll for single-path
        steps on the CPU, scan elsewhere and for slot mixtures (an unrolled CLOSE supernet
        compiles 2.4x longer and steps slower).
    """

    C: int = 16
    N: int = 5
    num_classes: int = 10
    slots_per_cell: int = 6
    edge_impl: str = "auto"
    conv_impl: str = "auto"
    cell_loop: str = "auto"

    def __post_init__(self):
        for name in ("C", "N", "num_classes", "slots_per_cell"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"supernet.{name} must be a positive integer, "
                                  f"got {getattr(self, name)!r}")
        choices = {"edge_impl": ("auto",) + tuple(ops.EDGE_IMPLS),
                   "conv_impl": ("auto", "nested", "xla"), "cell_loop": ("auto", "scan", "unroll")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"supernet.{name} must be one of {allowed}, "
                                  f"got {getattr(self, name)!r}")

    @property
    def num_cells(self):
        return NUM_STAGES * self.N

    @property
    def widths(self):
        return tuple(self.C * 2**s for s in range(NUM_STAGES))

    def resolved(self, backend=None, *, slot_mix=False):
        """Replace "auto" by the implementation that is fast on `backend` (for an `apply` with a
        slot mixture if `slot_mix`)."""
        backend = backend or jax.default_backend()
        edge = self.edge_impl if self.edge_impl != "auto" else (
            "masked" if backend == "tpu" else "switch")
        conv = self.conv_impl if self.conv_impl != "auto" else default_impl(backend)
        loop = self.cell_loop if self.cell_loop != "auto" else (
            "unroll" if backend == "cpu" and not slot_mix else "scan")
        return dataclasses.replace(self, edge_impl=edge, conv_impl=conv, cell_loop=loop)


def _conv_shape(k, c_in, c_out, lead=()):
    return lead + (k, k, c_in, c_out), k * k * c_in


def _bn(c):
    return {"scale": jnp.ones((c,)), "bias": jnp.zeros((c,))}


def init(key, cfg: SupernetConfig):
    """Fresh supernet parameters: a pytree of float32 arrays.

    Layout: `stem`, `pools` (one dict per stage with the slot-stacked `conv1x1`
    `[P, 1, 1, C, C]` and `conv3x3` `[P, 3, 3, C, C]`, P = N * slots_per_cell), `reduce` (two
    residual blocks), `head`.
    Weights follow PyTorch's default init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn from one
    random vector (one random-number kernel to compile instead of one per shape).
    """
    pool_size = cfg.N * cfg.slots_per_cell
    c = cfg.widths[-1]
    shapes = {  # name -> (shape, fan_in) of every randomly initialised array
        "stem": _conv_shape(3, 3, cfg.C),
        "pools": [{"conv1x1": _conv_shape(1, w, w, (pool_size,)),
                   "conv3x3": _conv_shape(3, w, w, (pool_size,))} for w in cfg.widths],
        "reduce": [{"conv_a": _conv_shape(3, c_in, c_out), "conv_b": _conv_shape(3, c_out, c_out),
                    "shortcut": _conv_shape(1, c_in, c_out)}
                   for c_in, c_out in zip(cfg.widths[:-1], cfg.widths[1:])],
        "head_w": ((c, cfg.num_classes), c), "head_b": ((cfg.num_classes,), c),
    }
    def is_spec(x):
        return isinstance(x, tuple) and isinstance(x[1], int)
    specs, treedef = jax.tree.flatten(shapes, is_leaf=is_spec)
    sizes = [math.prod(shape) for shape, _ in specs]
    flat = jax.random.uniform(key, (sum(sizes),), jnp.float32, -1.0, 1.0)
    leaves = [part.reshape(shape) / math.sqrt(fan_in) for part, (shape, fan_in)
              in zip(jnp.split(flat, list(itertools.accumulate(sizes))[:-1]), specs)]
    w = jax.tree.unflatten(treedef, leaves)
    return {
        "stem": {"w": w["stem"], "bn": _bn(cfg.C)},
        "pools": w["pools"],
        "reduce": [{"conv_a": {"w": r["conv_a"], "bn": _bn(r["conv_a"].shape[-1])},
                    "conv_b": {"w": r["conv_b"], "bn": _bn(r["conv_b"].shape[-1])},
                    "shortcut": r["shortcut"]} for r in w["reduce"]],
        "head": {"bn": _bn(c), "w": w["head_w"], "b": w["head_b"]},
    }


def _cell(x, arch, w1, w3, mix, affine, edge_fns):
    """One NB201 cell: node i = sum over j < i of edge (i <- j) applied to node j.

    `w1`, `w3` hold the parameters each edge reads: `[NUM_EDGES, k, k, C, C]`, or with a slot
    mixture `[NUM_EDGES, K, k, k, C, C]` and `mix = (weights, active)`, each `[NUM_EDGES, K]`: the
    edge output is then sum_k weights[e, k] * op(x; slot k), where inactive slots run no op.
    `affine = (scale, offset)`, each float `[NUM_EDGES]` or None, maps edge e's output y to
    `scale[e] * y + offset[e]`.
    """
    edge_fn, mix_fn = edge_fns
    scale, offset = affine
    nodes = [x]
    for to in range(1, 4):
        total = 0.0
        for e, (dst, src) in enumerate(EDGES):
            if dst != to:
                continue
            if mix is None:
                y = edge_fn(arch[e], nodes[src], w1[e], w3[e])
            else:
                y = mix_fn(arch[e], nodes[src], w1[e], w3[e], mix[0][e], mix[1][e])
            if scale is not None:
                y = scale[e] * y
            if offset is not None:
                y = y + offset[e]
            total = total + y
        nodes.append(total)
    return nodes[3]


def _stage(x, arch, sharing, mix, affine, pool, edge_fns, loop):
    """The N cells of one stage, scanned (one traced cell) or unrolled.

    The slots every edge reads are gathered from the pools once per stage, so the backward pass
    scatters into each pool once rather than once per edge.
    """
    w1 = pool["conv1x1"][sharing[:, :, CONV1]]
    w3 = pool["conv3x3"][sharing[:, :, CONV3]]
    if loop == "scan":
        def body(h, xs):
            return _cell(h, *xs, edge_fns), None
        return lax.scan(body, x, (arch, w1, w3, mix, affine))[0]
    for i in range(arch.shape[0]):
        cell_mix = None if mix is None else (mix[0][i], mix[1][i])
        cell_affine = tuple(None if a is None else a[i] for a in affine)
        x = _cell(x, arch[i], w1[i], w3[i], cell_mix, cell_affine, edge_fns)
    return x


def _reduction(x, p, axis_name):
    """NB201 residual reduction block: two ReLU-conv-BN (stride 2, then 1) + pooled 1x1 shortcut."""
    pad = ((1, 1), (1, 1))
    y = conv2d(jax.nn.relu(x), p["conv_a"]["w"], stride=2, padding=pad)
    y = ops.batch_norm(y, **p["conv_a"]["bn"], axis_name=axis_name)
    y = ops.relu_conv_bn(y, p["conv_b"]["w"], p["conv_b"]["bn"], axis_name=axis_name)
    return y + conv2d(ops.avg_pool_2x2(x), p["shortcut"])


def apply(params, arch, x, sharing, *, cfg: SupernetConfig, slot_mix=None, edge_weights=None,
          edge_offsets=None, axis_name=None):
    """Logits of the sub-network `arch` of the supernet on images `x`.

    Args:
      params: from `init`.
      arch: int `[NUM_EDGES]` (same cell everywhere, the NB201 convention) or `[3N, NUM_EDGES]`.
      x: float `[B, H, W, 3]` normalised images.
      sharing: int `[3N, NUM_EDGES, NUM_OPS]` sharing map (see `pools`); with `slot_mix`,
        `[3N, NUM_EDGES, NUM_OPS, K]`: K candidate slots per (cell, edge, op).
      slot_mix: optional `(weights, active)`, float and bool `[NUM_EDGES, K]` or
        `[3N, NUM_EDGES, K]`: each edge outputs the `weights`-weighted sum of its op run with each
        active slot's parameters. `weights` must be one-hot in value, as CLOSENet's
        straight-through gate (one-hot in value, yet every active block's output reaches the
        gate's gradient): the `switch` edge then runs only the chosen slot with a gradient.
      edge_weights: optional float `[NUM_EDGES]` or `[3N, NUM_EDGES]`: each edge's output is
        multiplied by its weight. GDAS passes the straight-through hard Gumbel-softmax weight of
        the sampled op (one in value), so the loss reaches the architecture logits while only the
        sampled op runs.
      edge_offsets: optional float, same shapes: added to each edge's output. GDAS passes the sum
        of the unsampled ops' hard weights (zero in value), as AutoDL's `forward_gdas` adds
        them, which gives those ops a gradient too.
      cfg: the static `SupernetConfig` (bind it with functools.partial before jitting).
      axis_name: mapped axis over which batch-norm statistics are synchronised when the batch is
        split across devices (inside `shard_map`); None on one device.

    Returns:
      float32 `[B, num_classes]` logits.
    """
    cfg = cfg.resolved(slot_mix=slot_mix is not None)
    edge_fns = _edge_fns(cfg, axis_name)
    arch = jnp.broadcast_to(jnp.asarray(arch, jnp.int32), (cfg.num_cells, NUM_EDGES))
    sharing = jnp.asarray(sharing, jnp.int32)
    if slot_mix is not None:
        k = sharing.shape[-1]
        slot_mix = (jnp.broadcast_to(slot_mix[0], (cfg.num_cells, NUM_EDGES, k)),
                    jnp.broadcast_to(slot_mix[1], (cfg.num_cells, NUM_EDGES, k)))
    affine = tuple(None if a is None else jnp.broadcast_to(a, (cfg.num_cells, NUM_EDGES))
                   for a in (edge_weights, edge_offsets))
    h = stem(params, x, axis_name=axis_name)
    return _cells_and_head(params, h, arch, sharing, slot_mix, affine, edge_fns, cfg, axis_name,
                           start=0)


def _edge_fns(cfg, axis_name):
    """(edge, slot-mixture edge) functions of the resolved `cfg`."""
    impl = dict(conv_impl=cfg.conv_impl, axis_name=axis_name)
    return (functools.partial(ops.EDGE_IMPLS[cfg.edge_impl], **impl),
            functools.partial(ops.EDGE_MIX_IMPLS[cfg.edge_impl], **impl))


def stem(params, x, *, axis_name=None):
    """The stem (conv3x3 + BN) on normalised images `x`: the only part of a sub-network that
    does not depend on its architecture, so scoring runs it once per batch for all cells."""
    h = conv2d(x, params["stem"]["w"])
    return ops.batch_norm(h, **params["stem"]["bn"], axis_name=axis_name)


def _cells_and_head(params, h, arch, sharing, slot_mix, affine, edge_fns, cfg, axis_name, start):
    """Logits from `h`, the output of the first `start` cells of stage 1 (the stem's for 0)."""
    for s in range(NUM_STAGES):
        rows = slice(s * cfg.N + (start if s == 0 else 0), (s + 1) * cfg.N)
        if s > 0:
            h = _reduction(h, params["reduce"][s - 1], axis_name)
        if rows.start == rows.stop:
            continue
        mix = None if slot_mix is None else (slot_mix[0][rows], slot_mix[1][rows])
        stage_affine = tuple(None if a is None else a[rows] for a in affine)
        h = _stage(h, arch[rows], sharing[rows], mix, stage_affine, params["pools"][s],
                   edge_fns, cfg.cell_loop)
    head = params["head"]
    h = jax.nn.relu(ops.batch_norm(h, **head["bn"], axis_name=axis_name))
    return jnp.mean(h, axis=(1, 2)) @ head["w"] + head["b"]


def apply_cells(params, arch, h, sharing, *, cfg: SupernetConfig, start=0):
    """Logits of sub-network `arch` from `h`: the stem's output (`start=0`) or the output of the
    first `start` cells of stage 1. With `stem` (and `first_cell_output` for `start=1`) this is
    `apply` without slot mixtures or edge scales, split where scoring shares work between cells."""
    cfg = cfg.resolved()
    arch = jnp.broadcast_to(jnp.asarray(arch, jnp.int32), (cfg.num_cells, NUM_EDGES))
    return _cells_and_head(params, h, arch, jnp.asarray(sharing, jnp.int32), None, (None, None),
                           _edge_fns(cfg, None), cfg, None, start)


# Stage 1's first cell reads the stem's output, the same for every architecture. Its edges from
# node 0, and its edges from node 1 for each of node 1's five possible values, are computed once
# per batch into a table; a cell then reads its rows and runs only edge (3,2) itself.
_FROM0 = (0, 1, 3)  # edges (1,0), (2,0), (3,0)
_FROM1 = (2, 4)  # edges (2,1), (3,1)
_NONE, _SKIP, _POOL = OPS.index("none"), OPS.index("skip_connect"), OPS.index("avg_pool_3x3")


def first_cell_table(params, x0, sharing):
    """Every value an edge of stage 1's first cell can output but edge (3,2)'s, `[29, *x0.shape]`.

    Rows: 0 zeros, 1 `x0`, 2 pool(x0), 3-5 conv1x1 on edges (1,0), (2,0), (3,0), 6-8 their
    conv3x3; then for each non-zero value of node 1 (in op order: x0, conv1x1, conv3x3, pool of
    edge (1,0)) 5 rows: pool(node 1), conv1x1 on edges (2,1), (3,1), then their conv3x3. One
    input's convolutions with several edges' weights run as one convolution with concatenated
    output channels (BN is per channel: same numbers), ~2.5x cheaper at C=8 on the CPU.
    `sharing` is one map `[3N, 6, 5]` (the table holds the first cell's slots).
    """
    w1 = params["pools"][0]["conv1x1"][sharing[0, :, CONV1]]
    w3 = params["pools"][0]["conv3x3"][sharing[0, :, CONV3]]

    def convs(x, edges):
        r, out = jax.nn.relu(x), []
        for w in (w1, w3):
            y = ops.batch_norm(conv2d(r, jnp.concatenate([w[e] for e in edges], axis=-1)))
            out += jnp.split(y, len(edges), axis=-1)
        return out

    pooled = ops.avg_pool_3x3(x0)
    from0 = convs(x0, _FROM0)
    rows = [jnp.zeros_like(x0), x0, pooled] + from0
    for node1 in (x0, from0[0], from0[len(_FROM0)], pooled):
        rows += [ops.avg_pool_3x3(node1)] + convs(node1, _FROM1)
    return jnp.stack(rows)


def first_cell_rows(archs):
    """The `first_cell_table` rows each cell reads: int32 `[n, 5]`, the rows of node 1 and of the
    outputs of edges (2,0), (2,1), (3,0), (3,1). Host-side (numpy)."""
    a = np.asarray(archs, np.int32).reshape(-1, NUM_EDGES)

    def from0(op, j):
        return np.select([op == _NONE, op == _SKIP, op == _POOL, op == CONV1, op == CONV3],
                         [0, 1, 2, 3 + j, 3 + len(_FROM0) + j])

    node1 = from0(a[:, 0], 0)
    base = 3 + 2 * len(_FROM0) + (1 + 2 * len(_FROM1)) * (a[:, 0] - 1)

    def from1(op, j):
        row = np.select([op == _NONE, op == _SKIP, op == _POOL, op == CONV1, op == CONV3],
                        [0, node1, base, base + 1 + j, base + 1 + len(_FROM1) + j])
        return np.where(a[:, 0] == _NONE, 0, row)  # node 1 is zero: so is every edge from it

    return np.stack([node1, from0(a[:, 1], 1), from1(a[:, 2], 0), from0(a[:, 3], 2),
                     from1(a[:, 4], 1)], axis=1).astype(np.int32)


def first_cell_node2(table, rows):
    """Node 2 of stage 1's first cell: its edges (2,0) and (2,1) summed in `_cell`'s order."""
    return table[rows[1]] + table[rows[2]]


def first_cell_last_edge(params, op, node2, sharing, *, cfg: SupernetConfig):
    """Edge (3,2) of stage 1's first cell: op `op` on `node2`, as `_cell` runs it."""
    cfg = cfg.resolved()
    w1 = params["pools"][0]["conv1x1"][sharing[0, 5, CONV1]]
    w3 = params["pools"][0]["conv3x3"][sharing[0, 5, CONV3]]
    return _edge_fns(cfg, None)[0](op, node2, w1, w3)


def first_cell_output(table, rows, last_edge):
    """Node 3 of stage 1's first cell: its edges (3,0), (3,1), (3,2) summed in `_cell`'s order."""
    return table[rows[3]] + table[rows[4]] + last_edge
