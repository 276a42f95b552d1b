"""The NAS-Bench-201 cell search space: numpy functions, and `SPACE`, their `Space` (whose
jittable methods import jax when first called, so that strings, indices and tables load
without it).

A cell is a DAG on 4 nodes: node 0 is the cell input, node 3 its output, and node i sums its
incoming edges. Each of the 6 edges `EDGES[k] = (to, from)` runs one op of `OPS`, so an
architecture is an int array `[6]` of op indices in `EDGES` order (batches are `[n, 6]`). Its
string form is NB201's `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`: node 1's edges, then node 2's, then
node 3's, `op~j` reading input node j.

Official index order. AutoDL's `generate_meta_info` enumerates the cells as nested products over
`OPS` (node 1 slowest; within a node the edge from the lowest input slowest), i.e. in increasing
base-5 code with edge 0 most significant, then calls `random.seed(88); random.shuffle(archs)`.
`shuffle` only draws on the list length, so shuffling the codes with `random.Random(88)`
reproduces all 15,625 official indices (checked against the benchmark tables).

Isomorphism. The count of 6,466 non-isomorphic cells quoted by NATS-Bench (issues #13 and #43,
`api.get_unique_str`) is AutoDL's `Structure.to_unique_str(consider_zero=True)`; none of 17
cleaner variants tried (zero pruning, zero-term dropping, skip handling) reproduces it. That rule
writes each node as the sorted, '+'-joined list of its terms, one per incoming edge from input j
with expression e_j (node 0 is "0"):
  - "#" (zero) if the op is `none` or e_j is exactly "#" (only node 1 can be: its single edge is
    `none`; a node with all-zero inputs reads "#+#" and is not treated as zero downstream);
  - e_j itself, spliced in as text, if the op is `skip_connect`;
  - "(e_j)@op" otherwise.
Two cells are isomorphic when node 3's expressions are equal. This discards edges that cannot
reach the output, makes sums commutative and skips transparent, but keeps zero terms ("#+x" is
not "x"). Hence the 341 disconnected cells (no path 0 -> 3 of non-`none` edges) fall into 5
classes, not 1, and relabelling nodes 1 and 2 is generally not an isomorphism (node 2's `none`
edge from node 1 leaves a "#" term). For comparison: full zero pruning with skips transparent
gives 5,390 classes, and labelled-DAG isomorphism after pruning dead edges (skip as an ordinary
op) gives 8,765. A class's representative is its smallest official index.

Complexity follows AutoDL's `TinyNetwork` and `get_model_infos`, and reproduces the params and
flop fields of the NATS-Bench records exactly. Parameters count conv weights, BN affine weight and
bias (not running statistics) and the classifier. FLOPs are multiply-accumulates of the convs and
the classifier (plus its bias adds); BN, ReLU and all pooling (cell `avg_pool_3x3`, the reduction
shortcut's AvgPool2d, global pooling) count zero. NB201 reports both in millions (value / 1e6).
"""

import functools
import random

import numpy as np

from jaxnas.errors import ArchError, ConfigError
from jaxnas.spaces.base import EdgeOpSpace

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NUM_OPS = 5
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NUM_EDGES = 6
NUM_NODES = 4
NUM_ARCHS = NUM_OPS**NUM_EDGES

_NONE, _SKIP, _CONV1, _CONV3 = range(4)  # avg_pool_3x3 (4) needs no special case
# Edge positions entering node i, ordered by input node: ((0,), (1, 2), (3, 4, 5)).
_NODE_EDGES = tuple(tuple(k for k, (to, _) in enumerate(EDGES) if to == node)
                    for node in range(1, NUM_NODES))
_POWERS = NUM_OPS ** np.arange(NUM_EDGES - 1, -1, -1)  # edge 0 is the most significant digit
_SHUFFLE_SEED = 88


# ----------------------------------------------------------------------------- encoding


def arch_to_str(arch) -> str:
    """NB201 string of an architecture (anything `parse_arch` accepts)."""
    ops = parse_arch(arch)
    nodes = ("|".join(f"{OPS[ops[k]]}~{src}" for src, k in enumerate(edges))
             for edges in _NODE_EDGES)
    return "+".join(f"|{node}|" for node in nodes)


def str_to_arch(s) -> np.ndarray:
    """Parse an NB201 string strictly into an int32 `[6]`; only outer whitespace is allowed."""
    if not isinstance(s, str):
        raise ArchError(f"architecture string must be a str, got {type(s).__name__}")
    text = s.strip()
    nodes = text.split("+")
    if len(nodes) != NUM_NODES - 1:
        raise ArchError(f"expected {NUM_NODES - 1} nodes separated by '+', got {len(nodes)} "
                        f"in {s!r}")
    ops = np.zeros(NUM_EDGES, np.int32)
    for node, (body, edges) in enumerate(zip(nodes, _NODE_EDGES, strict=True), start=1):
        if len(body) < 2 or body[0] != "|" or body[-1] != "|":
            raise ArchError(f"node {node} {body!r} must be wrapped in '|' in {s!r}")
        terms = body[1:-1].split("|")
        if len(terms) != node:
            raise ArchError(f"node {node} has {len(terms)} edge(s), expected {node} in {s!r}")
        for src, (term, k) in enumerate(zip(terms, edges, strict=True)):
            ops[k] = _parse_term(term, node, src, terms, s)
    return ops


def _parse_term(term: str, node: int, src: int, terms: list, s: str) -> int:
    """Op index of the edge `term` ('op~j'), which must read input `src` of `node`."""
    op, tilde, inp = term.partition("~")
    if not tilde:
        raise ArchError(f"edge {term!r} of node {node} lacks '~input' in {s!r}")
    if op not in OPS:
        raise ArchError(f"unknown op {op!r} in {s!r}")
    if sum(t.partition("~")[2] == inp for t in terms) > 1:
        raise ArchError(f"input ~{inp} of node {node} is duplicated in {s!r}")
    if inp != str(src):
        raise ArchError(f"edge {src} of node {node} reads input ~{inp}, expected ~{src} "
                        f"in {s!r}")
    return OPS.index(op)


def parse_arch(x) -> np.ndarray:
    """An int32 `[6]` op array from a string, an official index or an op array/list."""
    if isinstance(x, str):
        return str_to_arch(x)
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return index_to_arch(x)
    return _check_ops(x, ndim=1)


def _check_ops(x, ndim: int) -> np.ndarray:
    """Validate op indices of shape `[6]` (ndim 1) or `[n, 6]` (ndim 2); return int32."""
    try:
        ops = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise ArchError(f"not an op array: {err}") from None
    want = "[6]" if ndim == 1 else "[n, 6]"
    if ops.ndim != ndim or ops.shape[-1] != NUM_EDGES:
        raise ArchError(f"op array must have shape {want}, got {list(ops.shape)}")
    if ops.dtype.kind not in "iu":
        raise ArchError(f"op array must hold integers, got dtype {ops.dtype}")
    if ops.size and (ops.min() < 0 or ops.max() >= NUM_OPS):
        raise ArchError(f"op indices must lie in 0..{NUM_OPS - 1}, got {ops.min()}..{ops.max()}")
    return ops.astype(np.int32)


def _encode(ops: np.ndarray) -> np.ndarray:
    """Base-5 code of op arrays (edge 0 most significant), over the last axis."""
    return ops @ _POWERS


# ----------------------------------------------------------------------------- NASLib's order
# NASLib (`naslib/search_spaces/nasbench201/conversions.py`) writes a cell as six op indices in
# its own orders: ops `OP_NAMES_NB201 = [skip_connect, none, nor_conv_3x3, nor_conv_1x1,
# avg_pool_3x3]` (none and skip, 1x1 and 3x3 swapped against `OPS`) over edges `EDGE_LIST =
# ((1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4))` of its 1-based nodes, i.e. 0->1, 0->2, 0->3,
# 1->2, 1->3, 2->3 (edges 2 and 3 swapped against `EDGES`).
NASLIB_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
_NASLIB_OP = np.array([OPS.index(name) for name in NASLIB_OPS])  # NASLib op -> jaxnas op
_NASLIB_EDGE = np.array([EDGES.index((dst - 1, src - 1)) for src, dst in
                         ((1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4))])  # NASLib -> jaxnas


def from_naslib(op_indices) -> np.ndarray:
    """The int32 `[6]` (or `[n, 6]`) jaxnas cell of NASLib NB201 op indices."""
    ops = np.asarray(op_indices)
    ops = _check_ops(ops, ndim=ops.ndim if ops.ndim in (1, 2) else 1)
    out = np.empty_like(ops)
    out[..., _NASLIB_EDGE] = _NASLIB_OP[ops]
    return out


def to_naslib(arch) -> np.ndarray:
    """NASLib's op indices (int32 `[6]`) of a cell (anything `parse_arch` accepts); a batch
    `[n, 6]` of op arrays converts row by row."""
    ops = np.asarray(arch) if not isinstance(arch, (str, int, np.integer)) else parse_arch(arch)
    ops = _check_ops(ops, ndim=2 if ops.ndim == 2 else 1)
    inverse = np.argsort(_NASLIB_OP)  # jaxnas op -> NASLib op
    return inverse[ops[..., _NASLIB_EDGE]].astype(np.int32)


# ----------------------------------------------------------------------------- official indices


@functools.cache
def _codes() -> np.ndarray:
    """Base-5 code of each official index: AutoDL's product order shuffled with seed 88."""
    codes = list(range(NUM_ARCHS))
    random.Random(_SHUFFLE_SEED).shuffle(codes)
    return _read_only(np.array(codes))


@functools.cache
def _index_of_code() -> np.ndarray:
    """Inverse of `_codes`: official index of each base-5 code."""
    index = np.empty(NUM_ARCHS, np.int64)
    index[_codes()] = np.arange(NUM_ARCHS)
    return _read_only(index)


def _read_only(a: np.ndarray) -> np.ndarray:
    """Freeze a cached array so callers cannot corrupt the cache."""
    a.flags.writeable = False
    return a


@functools.cache
def all_archs() -> np.ndarray:
    """All 15,625 cells as a read-only int32 `[15625, 6]` array, row i = official index i."""
    return _read_only((_codes()[:, None] // _POWERS % NUM_OPS).astype(np.int32))


def index_to_arch(i) -> np.ndarray:
    """Op array of official index `i`."""
    if not isinstance(i, (int, np.integer)) or isinstance(i, bool):
        raise ArchError(f"architecture index must be an int, got {type(i).__name__}")
    if not 0 <= i < NUM_ARCHS:
        raise ArchError(f"architecture index {i} out of range 0..{NUM_ARCHS - 1}")
    return all_archs()[i].copy()


def arch_to_index(arch) -> int:
    """Official index of an architecture (anything `parse_arch` accepts)."""
    return int(_index_of_code()[_encode(parse_arch(arch))])


def archs_to_indices(archs) -> np.ndarray:
    """Official indices `[n]` of an op array `[n, 6]`."""
    return _index_of_code()[_encode(_check_ops(archs, ndim=2))]


# ----------------------------------------------------------------------------- isomorphism


def _nats_unique_str(ops: np.ndarray) -> str:
    """NATS-Bench's `get_unique_str`: node 3's expression under the rule in the module docstring."""
    exprs = ["0"]
    for edges in _NODE_EDGES:
        terms = []
        for src, k in enumerate(edges):
            if ops[k] == _NONE or exprs[src] == "#":
                terms.append("#")
            elif ops[k] == _SKIP:
                terms.append(exprs[src])
            else:
                terms.append(f"({exprs[src]})@{OPS[ops[k]]}")
        exprs.append("+".join(sorted(terms)))
    return exprs[-1]


@functools.cache
def canonical_indices() -> np.ndarray:
    """Representative (smallest official index of its class) of every official index."""
    first = {}
    archs = all_archs().tolist()
    reps = [first.setdefault(_nats_unique_str(ops), i) for i, ops in enumerate(archs)]
    return _read_only(np.array(reps))


@functools.cache
def unique_indices() -> np.ndarray:
    """Sorted official indices of the 6,466 class representatives."""
    return _read_only(np.unique(canonical_indices()))


def canonical_index(arch) -> int:
    """Official index of the representative of `arch`'s isomorphism class."""
    return int(canonical_indices()[arch_to_index(arch)])


def is_connected(arch) -> bool:
    """Whether a path of non-`none` edges leads from node 0 to node 3."""
    ops = parse_arch(arch)
    reached = [True]
    for edges in _NODE_EDGES:
        reached.append(any(reached[src] and ops[k] != _NONE for src, k in enumerate(edges)))
    return reached[-1]


def live_conv(archs) -> np.ndarray:
    """bool `[n]` of op arrays `[n, 6]`: whether a convolution (`nor_conv_1x1` or
    `nor_conv_3x3`) lies on a live path, a path of non-`none` edges from node 0 to node 3. This
    is aw_nas's `check_valid_arch`, which CLOSE's reference sampler rejects cells by: an edge is
    on a live path when node 0 reaches its input and its output reaches node 3."""
    ops = _check_ops(archs, ndim=2)
    on = ops != _NONE
    reached = [np.ones(len(ops), bool)]  # node i is reached from node 0
    for edges in _NODE_EDGES:
        reached.append(np.any([reached[src] & on[:, k] for src, k in enumerate(edges)], axis=0))
    reaches = {NUM_NODES - 1: np.ones(len(ops), bool)}  # node i reaches node 3
    for node in range(NUM_NODES - 2, -1, -1):
        reaches[node] = np.any([on[:, k] & reaches[to] for k, (to, src) in enumerate(EDGES)
                                if src == node], axis=0)
    conv = (ops == _CONV1) | (ops == _CONV3)
    return np.any([conv[:, k] & reached[src] & reaches[to] for k, (to, src) in enumerate(EDGES)],
                  axis=0)


# ----------------------------------------------------------------------------- sampling


def check_mask(mask) -> np.ndarray:
    """Allowed ops per edge as a bool `[6, 5]` (all allowed when `mask` is None)."""
    if mask is None:
        return np.ones((NUM_EDGES, NUM_OPS), bool)
    allowed = np.asarray(mask)
    if allowed.dtype != bool or allowed.shape != (NUM_EDGES, NUM_OPS):
        raise ArchError(f"mask must be a bool array of shape [{NUM_EDGES}, {NUM_OPS}], got "
                        f"{allowed.dtype} {list(allowed.shape)}")
    empty = np.flatnonzero(~allowed.any(axis=1))
    if empty.size:
        raise ArchError(f"mask allows no op on edge {empty[0]} {EDGES[empty[0]]}")
    return allowed


def derive(alpha, mask=None) -> np.ndarray:
    """The cell architecture weights `alpha` (float `[6, 5]`) select: per edge the allowed op of
    largest weight (GDAS's and DARTS's NB201 derivation; int32 `[6]`)."""
    alpha = np.asarray(alpha, np.float64)
    allowed = check_mask(None if mask is None else np.asarray(mask, bool))
    return np.argmax(np.where(allowed, alpha, -np.inf), axis=-1).astype(np.int32)


def in_space(indices, mask) -> np.ndarray:
    """bool `[n]`: which NB201 `indices` use only ops the space `mask` (bool `[6, 5]`) allows."""
    archs = all_archs()[np.asarray(indices, np.int64)]
    return check_mask(mask)[np.arange(NUM_EDGES), archs].all(axis=-1)


def space_size(mask) -> int:
    """Number of cells the mask allows."""
    return int(np.prod(np.asarray(mask).sum(axis=1), dtype=np.int64))


def space_archs(mask) -> np.ndarray:
    """All cells of the space as int32 `[n, 6]`, in increasing base-5 code (edge 0 slowest)."""
    allowed = [np.flatnonzero(row) for row in check_mask(np.asarray(mask, bool))]
    grid = np.meshgrid(*allowed, indexing="ij")
    return np.stack([g.reshape(-1) for g in grid], 1).astype(np.int32)


def mask_to_str(mask) -> str:
    """Text form of a space: six comma-separated groups, edge by edge in `EDGES` order, each the
    digits of the allowed op indices (0 none, 1 skip_connect, 2 nor_conv_1x1, 3 nor_conv_3x3,
    4 avg_pool_3x3), e.g. "3,23,1234,3,23,234"."""
    mask = check_mask(np.asarray(mask, bool))
    return ",".join("".join(str(o) for o in np.flatnonzero(row)) for row in mask)


def str_to_mask(text, key="space_mask") -> np.ndarray:
    """Parse `mask_to_str`'s form; "" is the whole space. ConfigError naming `key`."""
    text = str(text).replace(" ", "")
    if not text:
        return np.ones((NUM_EDGES, NUM_OPS), bool)
    groups = text.split(",")
    mask = np.zeros((NUM_EDGES, NUM_OPS), bool)
    if len(groups) != NUM_EDGES or not all(g and set(g) <= set("01234") for g in groups):
        raise ConfigError(f"{key} must be {NUM_EDGES} comma-separated groups of op digits "
                          f"0-4 (e.g. '3,23,1234,3,23,234'), got {text!r}")
    for e, group in enumerate(groups):
        mask[e, [int(c) for c in group]] = True
    return mask


def sample(rng: np.random.Generator, n=None, *, unique=False, mask=None) -> np.ndarray:
    """Uniform random cells, `[6]` when `n` is None else `[n, 6]`.

    With `unique`, sample uniformly among the isomorphism-class representatives instead of all
    cells. `mask` (bool `[6, 5]`) restricts each edge to its allowed ops (a shrunk space); with
    `unique` it keeps the representatives whose every op is allowed.
    """
    allowed = check_mask(mask)
    size = 1 if n is None else n
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 0:
        raise ArchError(f"number of samples must be a non-negative int, got {n!r}")
    if unique:
        reps = unique_indices()
        reps = reps[in_space(reps, allowed)]
        if not reps.size:
            raise ArchError("mask allows no isomorphism-class representative")
        archs = all_archs()[rng.choice(reps, size)]
    else:
        # Row e lists edge e's allowed ops first, in increasing order.
        choices = np.argsort(~allowed, axis=1, kind="stable")
        picks = rng.integers(0, allowed.sum(axis=1), size=(size, NUM_EDGES))
        archs = choices[np.arange(NUM_EDGES), picks]
    archs = archs.astype(np.int32)
    return archs[0] if n is None else archs


def mutate(rng: np.random.Generator, arch, *, mask=None) -> np.ndarray:
    """Change one edge to a different allowed op: the edge uniformly, then the op uniformly."""
    ops = parse_arch(arch)
    others = check_mask(mask).copy()
    others[np.arange(NUM_EDGES), ops] = False
    edges = np.flatnonzero(others.any(axis=1))
    if not edges.size:
        raise ArchError(f"no edge of {arch_to_str(ops)!r} has another allowed op")
    edge = rng.choice(edges)
    ops[edge] = rng.choice(np.flatnonzero(others[edge]))
    return ops


def hamming(a, b):
    """Number of edges whose ops differ, over the last axis of broadcastable `[..., 6]` arrays."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape[-1:] != (NUM_EDGES,) or b.shape[-1:] != (NUM_EDGES,):
        raise ArchError(f"hamming needs [..., {NUM_EDGES}] op arrays, got {list(a.shape)} and "
                        f"{list(b.shape)}")
    dist = np.count_nonzero(a != b, axis=-1)
    return int(dist) if np.ndim(dist) == 0 else dist


# ----------------------------------------------------------------------------- complexity


def _check_macro(**sizes) -> None:
    """Reject non-positive or non-integer macro-network sizes."""
    for name, value in sizes.items():
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{name} must be a positive int, got {value!r}")


def _widths(C: int) -> tuple:
    """Channel widths of the three stages."""
    return (C, 2 * C, 4 * C)


def _conv_counts(ops):
    """Numbers of 1x1 and 3x3 convolutions per cell, over the last axis of op arrays."""
    return np.sum(ops == _CONV1, axis=-1), np.sum(ops == _CONV3, axis=-1)


def _params_of_counts(n1, n3, C, N, num_classes, bn):
    total = 3 * 9 * C + 2 * C  # stem conv3x3 + BN
    for stage, w in enumerate(_widths(C)):
        total = total + N * (n1 * (w * w + bn * w) + n3 * (9 * w * w + bn * w))
        if stage:  # ResNetBasicblock: two ReLUConvBN 3x3, shortcut AvgPool + conv1x1 (no BN)
            total += 9 * (w // 2) * w + 2 * w + 9 * w * w + 2 * w + (w // 2) * w
    return total + 2 * 4 * C + 4 * C * num_classes + num_classes  # head BN + classifier


def _flops_of_counts(n1, n3, C, N, resolution, num_classes):
    if resolution % 4:
        raise ConfigError(f"resolution must be a multiple of 4 (two stride-2 reductions), "
                          f"got {resolution}")
    total = resolution**2 * 3 * 9 * C  # stem
    for stage, w in enumerate(_widths(C)):
        pixels = (resolution >> stage) ** 2
        total = total + N * pixels * (n1 + 9 * n3) * w * w
        if stage:
            total += pixels * (9 * (w // 2) * w + 9 * w * w + (w // 2) * w)
    return total + 4 * C * num_classes + num_classes


def num_params(arch, C=16, N=5, num_classes=10, *, cell_bn_affine=True) -> int:
    """Parameters of the NB201 network (`TinyNetwork`) with this cell.

    `cell_bn_affine=False` drops the BN weight and bias inside the cells, as in weight-sharing
    supernets; the stem, reduction blocks and head keep theirs.
    """
    n1, n3 = _conv_counts(parse_arch(arch))
    _check_macro(C=C, N=N, num_classes=num_classes)
    return int(_params_of_counts(int(n1), int(n3), C, N, num_classes, 2 if cell_bn_affine else 0))


def flops(arch, C=16, N=5, resolution=32, num_classes=10) -> int:
    """Multiply-accumulates of the NB201 network for one image, counted as NB201's `flop` x 1e6."""
    n1, n3 = _conv_counts(parse_arch(arch))
    _check_macro(C=C, N=N, num_classes=num_classes, resolution=resolution)
    return int(_flops_of_counts(int(n1), int(n3), C, N, resolution, num_classes))


def arch_code(arch):
    """Base-5 code of op arrays over the last axis (edge 0 the most significant digit).

    Works on numpy and on traced jax int arrays, so a table indexed by code (see
    `complexity_table`) can be read inside jit: `table[arch_code(arch)]`.
    """
    return (arch * _POWERS.astype(np.int32)).sum(-1)


@functools.cache
def complexity_table(C=16, N=5, resolution=32, num_classes=10):
    """Every cell's complexity at this width, as float32 `[15625]` arrays indexed by `arch_code`.

    Keys: `flops` (multiply-accumulates per image in millions, NB201's `flop`) and `num_params`
    (parameters in millions, NB201's `params`, cell BN affine included). Computed on the host once
    per size; pass the arrays into jitted code as arguments or small constants (62 KB each).
    """
    _check_macro(C=C, N=N, num_classes=num_classes, resolution=resolution)
    ops = np.arange(NUM_ARCHS)[:, None] // _POWERS % NUM_OPS
    n1, n3 = _conv_counts(ops)
    table = {"flops": _flops_of_counts(n1, n3, C, N, resolution, num_classes) / 1e6,
             "num_params": _params_of_counts(n1, n3, C, N, num_classes, 2) / 1e6}
    return {k: _read_only(v.astype(np.float32)) for k, v in table.items()}


# ----------------------------------------------------------------------------- the Space


class NB201Space(EdgeOpSpace):
    """NAS-Bench-201 behind the `jaxnas.spaces.base.Space` protocol (stateless; use `SPACE`)."""

    name = "nb201"
    ops = OPS
    arch_shape = (NUM_EDGES,)
    mask_shape = (NUM_EDGES, NUM_OPS)
    edge_names = tuple(f"{to}<-{src}" for to, src in EDGES)
    size = NUM_ARCHS
    split_edges = tuple(range(NUM_EDGES))  # momentum separation's "edge_op": any edge, any op
    split_ops = tuple(range(NUM_OPS))

    def check_mask(self, mask):
        return check_mask(mask)

    def check(self, archs, *, batched=True):
        return _check_ops(archs, ndim=2 if batched else 1)

    def sample(self, key, mask):
        """Each edge's op uniform over its allowed ops (SPOS's uniform sampler)."""
        import jax
        import jax.numpy as jnp

        logits = jnp.where(mask, 0.0, -jnp.inf)
        return jax.random.categorical(key, logits).astype(jnp.int32)

    def sample_canonical(self, key, mask, *, require_conv=False):
        """Uniform over the 6,466 class representatives the mask allows (aw_nas's `deiso`).

        `require_conv`: only over the 6,321 of them with a convolution on a live path
        (`live_conv`; aw_nas's `deiso` + `check_valid`, CLOSE's reference sampler). The
        predicate holds for a whole class or for none of it, so this is the reference's
        rejection sampling exactly. A mask that allows no such representative cannot be refused
        inside jit: the draw then falls back to every representative the mask allows.
        """
        import jax
        import jax.numpy as jnp

        reps = all_archs()[unique_indices()]
        table = jnp.asarray(reps, jnp.int32)
        allowed = mask[jnp.arange(NUM_EDGES), table].all(axis=1)
        if require_conv:
            conv = jnp.asarray(live_conv(reps)) & allowed
            pool = jnp.where(conv.any(), conv, allowed)
            return table[jax.random.categorical(key, jnp.where(pool, 0.0, -jnp.inf))]

        def any_rep(key):  # the whole space: one uniform index, as before masks were runtime
            return jax.random.randint(key, (), 0, table.shape[0])

        def allowed_rep(key):
            return jax.random.categorical(key, jnp.where(allowed, 0.0, -jnp.inf))

        return table[jax.lax.cond(mask.all(), any_rep, allowed_rep, key)]

    def sample_np(self, rng, n=None, *, unique=False, mask=None):
        return sample(rng, n, unique=unique, mask=mask)

    def mutate(self, rng, arch, *, mask=None):
        return mutate(rng, arch, mask=mask)

    def derive(self, alpha, mask=None):
        return derive(alpha, mask)

    def complexity(self, net_cfg, resolution):
        import jax.numpy as jnp

        tables = {k: jnp.asarray(v) for k, v in complexity_table(
            net_cfg.C, net_cfg.N, resolution, net_cfg.num_classes).items()}
        return lambda archs: {k: t[arch_code(archs)] for k, t in tables.items()}

    def complexity_bounds(self, net_cfg, resolution):
        """`{"flops": (lo, hi), "num_params": (lo, hi)}`: the extremes of `complexity_table`."""
        table = complexity_table(net_cfg.C, net_cfg.N, resolution, net_cfg.num_classes)
        return {k: (float(v.min()), float(v.max())) for k, v in table.items()}

    def mask_size(self, mask):
        return space_size(mask)

    def mask_archs(self, mask):
        return space_archs(mask)

    def mask_to_str(self, mask):
        return mask_to_str(mask)

    def mask_from_str(self, text, key="space_mask"):
        return str_to_mask(text, key)

    def to_str(self, arch):
        return arch_to_str(arch)

    def from_str(self, text):
        return str_to_arch(text)

    def canonical(self, archs):
        return all_archs()[canonical_indices()[archs_to_indices(archs)]]

    def enumerate(self):
        return all_archs()

    def to_index(self, archs):
        return archs_to_indices(archs)

    def from_index(self, indices):
        indices = np.asarray(indices, np.int64)
        bad = indices[(indices < 0) | (indices >= NUM_ARCHS)]
        if bad.size:
            raise ArchError(f"architecture indices must lie in 0..{NUM_ARCHS - 1}, got {bad[0]}")
        return all_archs()[indices]


SPACE = NB201Space()
