"""The ABS angle metric: how far a subnet's weight vector has turned since a reference point.

theta(S) = arccos(cos(V(S, W0), V(S, Wt))), where V(S, W) concatenates the weights subnet S reads
(Hu et al., ECCV 2020, Algorithm 1; AngleNAS `NAS-Bench-201/exps/angle/weight_angle.py`). For an
NB201 cell the vector is built per path from the cell input to its output (4 paths; every cell of
the network runs the same cell):

  * `nor_conv_1x1` / `nor_conv_3x3`: the conv kernel the (cell, edge) reads under the run's sharing
    map (a kernel shared by several paths appears once per path, as in the reference);
  * `avg_pool_3x3`: a constant block `[C_stage, 3, 3]` of 1/9, equal in W0 and Wt;
  * `skip_connect`: nothing; `none`: removes the whole path.

Plus the fixed parts. `fixed="nb201"` follows the NB201 reference: stem conv and BN affine, both
reduction blocks (two conv + BN affine, the shortcut 1x1 conv), the last BN affine and the
classifier weight and bias. `fixed="weights"` keeps only conv/FC weights (the ImageNet code's rule).

Exact fast path. Every quantity the angle needs is a sum over the blocks of the concatenation, so
only five sums per block are kept (see Numerics). They are computed once per pool slot, gathered
through the sharing map into an (edge, op) table summed over the cells, and an architecture's
totals are the fixed part plus, per edge, the number of live paths through the edge times the
edge's entry: all 15,625 angles are one gather (`all_angles`; ms on a CPU, see
`experiments/angle_timing.py`).

Numerics (float32). arccos(<V0, Vt> / (|V0| |Vt|)) loses half the digits at small angles (an
error of ~1e-7 / sin(theta)) and the reference's `acos` gives NaN for identical weights when
rounding puts the cosine above 1. So five sums are kept per block, |w0|^2, |wt|^2, <w0, wt>,
|wt - w0|^2 and <wt - w0, wt + w0>, and the angle is also taken as 2 asin(sqrt(s)) with
s = sin^2(theta / 2) = (|dV|^2 - (|Vt| - |V0|)^2) / (4 |V0| |Vt|), |Vt| - |V0| =
<dV, Vt + V0> / (|Vt| + |V0|): exactly 0 for identical weights, accurate at small angles unless
the norms differ by a large factor (then |dV|^2 is mostly the norm change and cancels). Each
angle uses the form with the smaller error bound (`angle_from_sums`); both equal arccos of the
reference's cosine.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.errors import ConfigError
from jaxnas.spaces.nb201 import EDGES, NUM_EDGES, NUM_NODES, NUM_OPS, OPS
from jaxnas.supernet.pools import NUM_STAGES

NONE, SKIP, CONV1, CONV3, POOL = (OPS.index(name) for name in (
    "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"))
FIXED = ("nb201", "weights")
NUM_STATS = 5  # |w0|^2, |wt|^2, <w0, wt>, |wt - w0|^2, <wt - w0, wt + w0>


def _cell_paths():
    """Edge positions of every path from node 0 to node 3, shortest first."""
    paths = [[]]
    done = []
    while paths:
        path = paths.pop(0)
        node = EDGES[path[-1]][0] if path else 0
        for e, (to, src) in enumerate(EDGES):
            if src == node:
                (done if to == NUM_NODES - 1 else paths).append(path + [e])
    return tuple(tuple(p) for p in done)


PATHS = _cell_paths()  # ((3,), (0, 4), (1, 5), (0, 2, 5)) for NB201
PATH_EDGES = np.array([[e in p for e in range(NUM_EDGES)] for p in PATHS], np.float32)


class AngleTables(NamedTuple):
    """Per-block sums from which every architecture's angle follows (last axis: the 5 sums).

    fixed: float32 `[5]`, the fixed parts.
    edge_op: float32 `[6, 5, 5]` (or `[n, 6, 5, 5]`, one per architecture when the sharing map is
      per architecture): one path's block of (edge, op), summed over the cells.
    """

    fixed: jax.Array
    edge_op: jax.Array


def _stats(w0, wt, lead=0):
    """The 5 sums of a block pair over all axes after the first `lead` ones: `[..., 5]`."""
    axes = tuple(range(lead, w0.ndim))
    d = wt - w0
    return jnp.stack([jnp.sum(w0 * w0, axes), jnp.sum(wt * wt, axes), jnp.sum(w0 * wt, axes),
                      jnp.sum(d * d, axes), jnp.sum(d * (wt + w0), axes)], -1)


def fixed_leaves(params, fixed="nb201"):
    """The supernet arrays outside the cells that enter the vector (see the module docstring)."""
    if fixed not in FIXED:
        raise ConfigError(f"angle.fixed must be one of {FIXED}, got {fixed!r}")
    bn = (lambda b: [b["scale"], b["bias"]]) if fixed == "nb201" else (lambda b: [])
    leaves = [params["stem"]["w"], *bn(params["stem"]["bn"])]
    for block in params["reduce"]:
        leaves += [block["conv_a"]["w"], *bn(block["conv_a"]["bn"]),
                   block["conv_b"]["w"], *bn(block["conv_b"]["bn"]), block["shortcut"]]
    leaves += [*bn(params["head"]["bn"]), params["head"]["w"]]
    return leaves + ([params["head"]["b"]] if fixed == "nb201" else [])


def angle_tables(ref, cur, sharing, *, cfg, fixed="nb201") -> AngleTables:
    """The block sums of reference params `ref` and current params `cur` (supernet layout).

    `sharing` is the run's map `[3N, 6, 5]` or one per architecture `[n, 3N, 6, 5]`: each cell
    reads the slot the map names, so the angle follows the weights a cell actually uses.
    """
    sharing = jnp.asarray(sharing, jnp.int32)
    fixed_sum = sum(_stats(a, b) for a, b in zip(fixed_leaves(ref, fixed),
                                                 fixed_leaves(cur, fixed), strict=True))
    table = 0.0
    for s, width in enumerate(cfg.widths):
        rows = sharing[..., s * cfg.N:(s + 1) * cfg.N, :, :]            # [..., N, 6, 5]
        pool0, poolt = ref["pools"][s], cur["pools"][s]
        per_op = [jnp.zeros(rows.shape[:-3] + (NUM_EDGES, NUM_STATS))] * NUM_OPS
        for op, name in ((CONV1, "conv1x1"), (CONV3, "conv3x3")):
            slots = _stats(pool0[name], poolt[name], lead=1)            # [P, 5]
            per_op[op] = slots[rows[..., op]].sum(-3)                   # [..., 6, 5]
        pool_norm = cfg.N * width / 9.0  # N cells x |[C, 3, 3] of 1/9|^2 = C * 9 / 81
        per_op[POOL] = jnp.broadcast_to(jnp.array([pool_norm, pool_norm, pool_norm, 0.0, 0.0]),
                                        per_op[POOL].shape)
        table = table + jnp.stack(per_op, -2)                           # [..., 6, 5, 5]
    return AngleTables(fixed=fixed_sum, edge_op=table)


def path_multiplicity(archs):
    """Number of live paths (no `none` edge) through each edge: float32 `[n, 6]`."""
    archs = jnp.asarray(archs)
    edges = jnp.asarray(PATH_EDGES)
    dead = jnp.any((archs[:, None, :] == NONE) & (edges[None] > 0), axis=-1)   # [n, paths]
    return (~dead).astype(jnp.float32) @ edges


def angle_from_sums(sums):
    """Angle (radians) from the 5 sums `[..., 5]` of a vector pair; NaN if a vector is zero.

    Two exact forms, each with its float32 error bound (relative rounding eps of the sums):
    arccos(cos) errs by ~eps / sin(theta), the half-angle form by ~eps |dV|^2 / (2 |V0| |Vt|
    theta); the smaller wins (the half-angle form at small angles and comparable norms, so
    identical weights give exactly 0).
    """
    n0, nt, dot, diff, radial = (sums[..., i] for i in range(NUM_STATS))
    r0, rt = jnp.sqrt(n0), jnp.sqrt(nt)
    norms = r0 * rt
    safe = jnp.where(norms > 0, norms, 1.0)
    by_cos = jnp.arccos(jnp.clip(dot / safe, -1.0, 1.0))
    gap = radial / jnp.where(r0 + rt > 0, r0 + rt, 1.0)      # |Vt| - |V0|, without cancellation
    by_half = 2.0 * jnp.arcsin(jnp.sqrt(jnp.clip((diff - gap**2) / (4.0 * safe), 0.0, 1.0)))
    use_half = diff * jnp.sin(by_half) <= 2.0 * norms * by_half
    return jnp.where(norms > 0, jnp.where(use_half, by_half, by_cos), jnp.nan)


def angles_from_tables(tables: AngleTables, archs):
    """Angles of architectures `archs` int `[n, 6]` (the same cell in every cell): float `[n]`."""
    archs = jnp.asarray(archs, jnp.int32)
    edge_op = tables.edge_op
    if edge_op.ndim == 3:
        picked = edge_op[jnp.arange(NUM_EDGES), archs]                          # [n, 6, 5]
    else:
        picked = jnp.take_along_axis(edge_op, archs[:, :, None, None], 2)[:, :, 0]
    sums = tables.fixed + jnp.einsum("ne,nes->ns", path_multiplicity(archs), picked)
    return angle_from_sums(sums)


_tables_jit = jax.jit(angle_tables, static_argnames=("cfg", "fixed"))
_angles_jit = jax.jit(angles_from_tables)


def all_angles(ref, cur, archs, sharing, *, cfg, fixed="nb201"):
    """Angles of `archs` `[n, 6]` between supernet params `ref` and `cur`: the fast path.

    Two jitted calls (block sums, then the per-cell gather); one compilation each serves any
    `archs` of the same length and any sharing map of the same shape. (As one jitted function
    XLA's CPU backend made it 40x slower: 63 ms instead of 1.6 ms at mini scale.)
    """
    tables = _tables_jit(ref, cur, sharing, cfg=cfg, fixed=fixed)
    return _angles_jit(tables, jnp.asarray(archs, jnp.int32))


# ---------------------------------------------------------------------------------------------
# The direct construction (the reference's concatenation), for checks and single subnets.


def subnet_vector(params, arch, sharing, *, cfg, fixed="nb201"):
    """The weight vector V(arch, params) of Algorithm 1, with `arch` a runtime int `[6]`.

    To keep one shape for every architecture, each (path, cell, edge) position holds a 1x1, a 3x3
    and a pool block, all but the op's own block multiplied by zero, and a dead path's blocks are
    all zero: zeros change no dot product or norm, so every angle equals the reference's.
    """
    arch = jnp.asarray(arch, jnp.int32)
    sharing = jnp.asarray(sharing, jnp.int32)
    parts = [leaf.reshape(-1) for leaf in fixed_leaves(params, fixed)]
    for path in PATHS:
        alive = jnp.all(arch[jnp.array(path)] != NONE)
        for stage in range(NUM_STAGES):   # the N cells of a stage at once: [N, ...] blocks
            cells = sharing[stage * cfg.N:(stage + 1) * cfg.N]
            pool = params["pools"][stage]
            for e in path:
                live = lambda op: (alive & (arch[e] == op)).astype(jnp.float32)  # noqa: E731
                parts += [
                    pool["conv1x1"][cells[:, e, CONV1]].reshape(-1) * live(CONV1),
                    pool["conv3x3"][cells[:, e, CONV3]].reshape(-1) * live(CONV3),
                    jnp.full((cfg.N * 9 * cfg.widths[stage],), 1.0 / 9.0) * live(POOL),
                ]
    return jnp.concatenate(parts)


def vector_angle(v0, vt):
    """Angle (radians) between two vectors, accurate near 0 (see the module docstring)."""
    return angle_from_sums(_stats(v0.reshape(-1), vt.reshape(-1)))


@functools.partial(jax.jit, static_argnames=("cfg", "fixed"))
def arch_angle(ref, cur, arch, sharing, *, cfg, fixed="nb201"):
    """Angle of one architecture `[6]` from the concatenated vectors (the direct computation)."""
    return vector_angle(subnet_vector(ref, arch, sharing, cfg=cfg, fixed=fixed),
                        subnet_vector(cur, arch, sharing, cfg=cfg, fixed=fixed))
