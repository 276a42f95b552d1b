"""The ABS angle in the DARTS space (AngleNAS `DARTS/shrinking/angle.py::get_arch_vector`).

theta(S) = arccos(cos(V(S, W0), V(S, Wt))) as for NB201 (`jaxnas.evaluate.angle`), with the
vector of AngleNAS's DARTS code. Per cell, the 16 paths from an input node (0 or 1) to node 5
(paths ending at nodes 2..4 are left out, as there, though those nodes feed the cell output);
a path holding a `none` edge is dropped; on the others each edge adds its op's weights:
`sep_conv_kxk` its two depthwise and two pointwise kernels, `dil_conv_kxk` its depthwise and
pointwise kernels, the pools a constant `[C, 3, 3]` block of 1/9 (C the cell's width), and
`skip_connect` nothing (also where it is a FactorizedReduce, as there). Fixed parts: the stem
conv, every cell's preprocessing convs and the classifier weight; no BN (AngleNAS appends the
ImageNet network's two stems; the CIFAR network here has one). The normal cells all run the
genotype's normal cell, the reduction cells its reduction cell.

Computed as `jaxnas.evaluate.angle`'s exact fast path: five block sums per pool slot, gathered
through the sharing map into a per-(cell type, edge, op) table, and an architecture's totals are
the fixed part plus each edge's entry times the number of its live paths to node 5.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.evaluate.angle import NUM_STATS, _stats, angle_from_sums
from jaxnas.spaces.darts import EDGES, NUM_EDGES, NUM_OPS, OPS

_OUTPUT = 5
# The op's kernels in AngleNAS's order (sep: op[1], op[2], op[5], op[6]; dil: op[1], op[2]).
_SEP = ("dw1", "pw1", "dw2", "pw2")
BLOCKS = {"sep_conv_3x3": _SEP, "sep_conv_5x5": _SEP, "dil_conv_3x3": ("dw", "pw"),
          "dil_conv_5x5": ("dw", "pw")}
POOLS = ("max_pool_3x3", "avg_pool_3x3")


def _paths():
    """Edge positions of every path from node 0 or 1 to node 5 (16)."""
    out = []

    def walk(node, edges):
        if node == _OUTPUT:
            out.append(tuple(edges))
            return
        for e, (to, src) in enumerate(EDGES):
            if src == node:
                walk(to, edges + [e])

    walk(0, [])
    walk(1, [])
    return tuple(out)


PATHS = _paths()
# incidence [16 paths, 14 edges]: how often each path holds each edge (0 or 1)
_INCIDENCE = np.array([[e in p for e in range(NUM_EDGES)] for p in PATHS], np.float32)


def fixed_leaves(params):
    """Stem conv, each cell's preprocessing convs, classifier weight (no BN, no bias)."""
    leaves = [params["stem"]["w"]]
    for cell in params["cells"]:
        leaves += [cell["pre0"][k] for k in sorted(cell["pre0"])] + [cell["pre1"]["w"]]
    return leaves + [params["head"]["w"]]


def angle_tables(ref, cur, sharing, *, cfg):
    """`(fixed [5], table [2, 14, 8, 5])`: the block sums of `ref` vs `cur`, per cell type
    (normal, reduce), edge and op, summed over the cells of that type."""
    sharing = jnp.asarray(sharing, jnp.int32)
    fixed = sum(_stats(a, b) for a, b in zip(fixed_leaves(ref), fixed_leaves(cur), strict=True))
    per_slot = [{op: sum(_stats(ref["pools"][g][op][k], cur["pools"][g][op][k], lead=1)
                         for k in names) for op, names in BLOCKS.items()}
                for g in range(len(cfg.group_sizes))]
    table = jnp.zeros((2, NUM_EDGES, NUM_OPS, NUM_STATS))
    for i, (width, reduction, _, _, _, group, _) in enumerate(cfg.cells):
        cell = jnp.zeros((NUM_EDGES, NUM_OPS, NUM_STATS))
        for op, slots in per_slot[group].items():
            o = OPS.index(op)
            cell = cell.at[:, o].set(slots[sharing[i, :, o]])
        pool = jnp.array([width / 9.0] * 3 + [0.0, 0.0])  # |[C, 3, 3] of 1/9|^2 = C * 9 / 81
        for op in POOLS:
            cell = cell.at[:, OPS.index(op)].set(pool)
        table = table.at[int(reduction)].add(cell)
    return fixed, table


def path_multiplicity(cell_ops):
    """Live paths to node 5 through each edge: float32 `[n, 14]` of cell ops `[n, 14]`."""
    incidence = jnp.asarray(_INCIDENCE)
    dead = jnp.any((cell_ops[:, None, :] == 0) & (incidence[None] > 0), axis=-1)  # [n, 16]
    return (~dead).astype(jnp.float32) @ incidence


@jax.jit
def angles_from_tables(fixed, table, archs):
    """Angles (radians) of genotypes `archs` int `[n, 28]`: float32 `[n]`."""
    archs = jnp.asarray(archs, jnp.int32)
    sums = fixed
    for c in range(2):
        ops = archs[:, c * NUM_EDGES:(c + 1) * NUM_EDGES]
        picked = table[c][jnp.arange(NUM_EDGES), ops]                        # [n, 14, 5]
        sums = sums + jnp.einsum("ne,nes->ns", path_multiplicity(ops), picked)
    return angle_from_sums(sums)


_tables_jit = jax.jit(angle_tables, static_argnames=("cfg",))


def all_angles(ref, cur, archs, sharing, *, cfg):
    """Angles of DARTS genotypes `archs` `[n, 28]` between supernet params `ref` and `cur`;
    `sharing` one map `[layers, 14, 8]`, or one per genotype `[n, layers, 14, 8]` (CLOSE's
    GATE-assigned blocks: a table per genotype)."""
    if np.ndim(sharing) == 4:
        return _per_arch_angles(ref, cur, jnp.asarray(archs, jnp.int32), sharing, cfg=cfg)
    fixed, table = _tables_jit(ref, cur, sharing, cfg=cfg)
    return angles_from_tables(fixed, table, archs)


@functools.partial(jax.jit, static_argnames=("cfg",))
def _per_arch_angles(ref, cur, archs, sharing, *, cfg):
    def one(arch, arch_sharing):
        fixed, table = angle_tables(ref, cur, arch_sharing, cfg=cfg)
        return angles_from_tables(fixed, table, arch[None])[0]
    return jax.vmap(one)(archs, jnp.asarray(sharing, jnp.int32))
