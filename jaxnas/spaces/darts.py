"""The DARTS / NAS-Bench-301 cell search space: numpy functions, and `SPACE`, their `Space`
(whose jittable methods import jax when first called).

A DARTS network stacks normal cells and two reduction cells (quark0/darts `model.py`). A cell
has two input nodes (0 and 1: the outputs of the two previous cells), four intermediate nodes
(2..5) and an output that concatenates nodes 2..5. Intermediate node j sums exactly two of its
incoming edges, from two distinct earlier nodes, each running one non-`none` op of `OPS`. The
14 possible edges are numbered in DARTS's order (node 2's edges from inputs 0, 1, then node 3's
from 0, 1, 2, ...): `EDGES[k] = (to, from)`.

Encoding. An architecture is an int32 `[28]`: the op of each of the normal cell's 14 edges,
then the reduction cell's, with `none` (0) on the edges a node does not use. So every node has
exactly two non-`none` edges. The order of a node's two inputs in a genotype's list is not
encoded: two genotypes that differ only in it are one architecture, and `to_str` writes each
node's inputs in increasing order (the canonical form). Swapping intermediate nodes is not an
isomorphism here (it permutes the output concatenation). A *space mask* is bool `[28, 8]`
(edges of both cells x ops): an architecture is allowed when every edge's op, `none` on an
unused edge included, is allowed, so `mask[e, 0] = False` forces edge e to be used.

Text forms. `to_str`/`from_str` write and read DARTS's `Genotype(normal=[('sep_conv_3x3', 0),
...], normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[2, 3, 4, 5])`, parsed from its
syntax tree (never evaluated); `concat=range(2, 6)` as printed by DARTS's search is accepted.
`GENOTYPES` holds DARTS's named genotypes (DARTS_V1, DARTS_V2) in that text form.
NAS-Bench-301 forms (NASLib's `conversions.py`): the compact form `(((input, op), ...x8),
(...x8))` with op indices into `NB301_OPS` (no `none`), and the ConfigSpace dictionary of
nasbench301 (`NetworkSelectorDatasetInfo:darts:edge_normal_<k>` / `inputs_node_normal_<j>`).

Complexity is that of DARTS's evaluation network `NetworkCIFAR` (affine BN, no BN after the
pools, `skip_connect` on a reduction edge a FactorizedReduce) at any width C, depth `layers`
(reduction cells at layers//3 and 2*layers//3), resolution and class count. Parameters count
conv weights, BN weight and bias and the classifier, as DARTS's `count_parameters_in_MB`
(the auxiliary head only with `auxiliary=True`; DARTS reports the count without it). FLOPs are
multiply-accumulates of the convolutions and the classifier (plus its bias adds), as NB201's
counts: BN, ReLU and pooling count zero.
"""

import ast
import functools
import itertools

import numpy as np

from jaxnas.errors import ArchError, ConfigError
from jaxnas.spaces.base import EdgeOpSpace

OPS = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
       "dil_conv_3x3", "dil_conv_5x5")
NUM_OPS = 8
NB301_OPS = OPS[1:]  # NASLib's compact op indices
NUM_NODES = 4  # intermediate nodes per cell
NUM_INPUTS = 2  # inputs of each intermediate node
EDGES = tuple((to, src) for to in range(2, 2 + NUM_NODES) for src in range(to))
NUM_EDGES = 14  # per cell
CELLS = ("normal", "reduce")
ARCH_LEN = len(CELLS) * NUM_EDGES
CONCAT = (2, 3, 4, 5)

# Named genotypes of quark0/darts `cnn/genotypes.py`, verbatim (text for `from_str`).
GENOTYPES = {
    "DARTS_V1": (
        "Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), "
        "('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
        "('skip_connect', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
        "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0), ('max_pool_3x3', 0), "
        "('skip_connect', 2), ('skip_connect', 2), ('avg_pool_3x3', 0)], "
        "reduce_concat=[2, 3, 4, 5])"),
    "DARTS_V2": (
        "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
        "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
        "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
        "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
        "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], "
        "reduce_concat=[2, 3, 4, 5])"),
}

_NONE, _MAX, _AVG, _SKIP, _SEP3, _SEP5, _DIL3, _DIL5 = range(NUM_OPS)
# First edge of each intermediate node: node 2 -> 0, 3 -> 2, 4 -> 5, 5 -> 9.
_NODE_START = tuple(itertools.accumulate(range(2, 2 + NUM_NODES), initial=0))[:NUM_NODES]
# Every pair of a node's inputs (i < j) as edge positions within a cell, node by node.
_PAIRS = tuple(tuple((s + i, s + j) for i, j in itertools.combinations(range(n), 2))
               for s, n in zip(_NODE_START, range(2, 2 + NUM_NODES)))
_NB301_KEY = "NetworkSelectorDatasetInfo:darts:"


# ----------------------------------------------------------------------------- validation


def _check_ops(x, ndim: int) -> np.ndarray:
    """Op arrays `[28]` (ndim 1) or `[n, 28]` (ndim 2) validated as genotypes; int32."""
    try:
        ops = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise ArchError(f"not an op array: {err}") from None
    want = f"[{ARCH_LEN}]" if ndim == 1 else f"[n, {ARCH_LEN}]"
    if ops.ndim != ndim or ops.shape[-1] != ARCH_LEN:
        raise ArchError(f"DARTS op array must have shape {want}, got {list(ops.shape)}")
    if ops.dtype.kind not in "iu":
        raise ArchError(f"op array must hold integers, got dtype {ops.dtype}")
    if ops.size and (ops.min() < 0 or ops.max() >= NUM_OPS):
        raise ArchError(f"op indices must lie in 0..{NUM_OPS - 1}, got {ops.min()}..{ops.max()}")
    used = (ops.reshape(-1, len(CELLS), NUM_EDGES) != _NONE)
    for c, cell in enumerate(CELLS):
        for node, start in enumerate(_NODE_START):
            count = used[:, c, start:start + node + 2].sum(axis=1)
            bad = np.flatnonzero(count != NUM_INPUTS)
            if bad.size:
                row = f"row {bad[0]}: " if ndim == 2 else ""
                raise ArchError(f"{row}node {node + 2} of the {cell} cell has {count[bad[0]]} "
                                f"non-none edges, expected {NUM_INPUTS}")
    return ops.astype(np.int32)


def parse_arch(x) -> np.ndarray:
    """An int32 `[28]` from Genotype text, a NASLib compact tuple, an nb301 config dict or an op
    array."""
    if isinstance(x, str):
        return str_to_arch(x)
    if isinstance(x, dict):
        return from_nb301_config(x)
    if isinstance(x, tuple) and len(x) == 2 and all(isinstance(c, (tuple, list)) for c in x):
        return from_compact(x)
    return _check_ops(x, ndim=1)


# ----------------------------------------------------------------------------- genotype codec


def to_genotype(arch) -> dict:
    """`{"normal": [(op, input) x 8], "normal_concat": [2..5], "reduce": ..., ...}` with each
    node's two inputs in increasing order (the canonical genotype)."""
    ops = parse_arch(arch).reshape(len(CELLS), NUM_EDGES)
    out = {}
    for c, cell in enumerate(CELLS):
        out[cell] = [(OPS[ops[c, k]], EDGES[k][1]) for k in range(NUM_EDGES) if ops[c, k]]
        out[f"{cell}_concat"] = list(CONCAT)
    return out


def from_genotype(normal, reduce, normal_concat=CONCAT, reduce_concat=CONCAT) -> np.ndarray:
    """Op array of a genotype's `(op, input)` lists (one line naming a malformed part)."""
    ops = np.zeros((len(CELLS), NUM_EDGES), np.int32)
    for c, (cell, pairs, concat) in enumerate(zip(CELLS, (normal, reduce),
                                                  (normal_concat, reduce_concat))):
        try:
            concat = [int(i) for i in concat]
        except (TypeError, ValueError):
            raise ArchError(f"{cell}_concat must be a list of node indices, got {concat!r}") \
                from None
        if concat != list(CONCAT):
            raise ArchError(f"{cell}_concat must be {list(CONCAT)} (the DARTS space), got "
                            f"{concat}")
        if not isinstance(pairs, (list, tuple)) or len(pairs) != 2 * NUM_NODES:
            got = len(pairs) if isinstance(pairs, (list, tuple)) else type(pairs).__name__
            raise ArchError(f"genotype {cell} must list {2 * NUM_NODES} (op, input) pairs, "
                            f"got {got}")
        for i, pair in enumerate(pairs):
            node = 2 + i // 2
            if not (isinstance(pair, (list, tuple)) and len(pair) == 2
                    and isinstance(pair[0], str) and isinstance(pair[1], (int, np.integer))
                    and not isinstance(pair[1], bool)):
                raise ArchError(f"genotype {cell} entry {i} must be an (op name, input) pair, "
                                f"got {pair!r}")
            op, src = pair
            if op not in OPS:
                raise ArchError(f"unknown op {op!r} in genotype {cell} entry {i}; the DARTS "
                                f"ops are {', '.join(OPS[1:])}")
            if op == "none":
                raise ArchError(f"op 'none' in genotype {cell} entry {i}: a genotype lists only "
                                f"the edges a node uses")
            if not 0 <= src < node:
                raise ArchError(f"node {node} of genotype {cell} reads input {src}, expected "
                                f"one of 0..{node - 1}")
            k = _NODE_START[node - 2] + int(src)
            if ops[c, k]:
                raise ArchError(f"node {node} of genotype {cell} reads input {src} twice")
            ops[c, k] = OPS.index(op)
    return ops.reshape(-1)


def arch_to_str(arch) -> str:
    """DARTS's `Genotype(...)` text of an architecture, each node's inputs in increasing order."""
    g = to_genotype(arch)

    def cell(name):
        return "[" + ", ".join(f"('{op}', {src})" for op, src in g[name]) + "]"

    return (f"Genotype(normal={cell('normal')}, normal_concat={list(CONCAT)}, "
            f"reduce={cell('reduce')}, reduce_concat={list(CONCAT)})")


def _literal(node, field):
    """A field's literal value from its syntax tree; `range(a, b)` becomes a list."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "range" and not node.keywords):
        args = [_literal(a, field) for a in node.args]
        if not 1 <= len(args) <= 3 or not all(isinstance(a, int) for a in args):
            raise ArchError(f"genotype {field} has a malformed range(...)")
        return list(range(*args))
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ArchError(f"genotype {field} is not a literal: "
                        f"{ast.unparse(node)[:60]!r}") from None


def str_to_arch(text) -> np.ndarray:
    """Parse DARTS `Genotype(...)` text (or a NASLib compact tuple's text) strictly, without
    evaluating it: only literals and `range(...)` are read."""
    if not isinstance(text, str):
        raise ArchError(f"genotype text must be a str, got {type(text).__name__}")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError) as err:
        msg = getattr(err, "msg", str(err))
        raise ArchError(f"genotype text is not a Genotype(...) expression ({msg}): "
                        f"{text.strip()[:60]!r}") from None
    if isinstance(tree, (ast.Tuple, ast.List)):
        return from_compact(_literal(tree, "compact form"))
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name)
            and tree.func.id == "Genotype"):
        raise ArchError(f"genotype text must be Genotype(normal=..., normal_concat=..., "
                        f"reduce=..., reduce_concat=...), got {text.strip()[:60]!r}")
    fields = ("normal", "normal_concat", "reduce", "reduce_concat")
    if len(tree.args) > len(fields):
        raise ArchError(f"Genotype takes {len(fields)} fields, got {len(tree.args)} positional")
    values = {f: _literal(a, f) for f, a in zip(fields, tree.args)}
    for kw in tree.keywords:
        if kw.arg not in fields:
            raise ArchError(f"unknown Genotype field {kw.arg!r}; expected {', '.join(fields)}")
        if kw.arg in values:
            raise ArchError(f"Genotype field {kw.arg!r} given twice")
        values[kw.arg] = _literal(kw.value, kw.arg)
    missing = [f for f in fields if f not in values]
    if missing:
        raise ArchError(f"Genotype lacks field(s) {', '.join(missing)}")
    return from_genotype(**values)


def to_compact(arch) -> tuple:
    """NASLib's compact form: per cell a tuple of 8 `(input, op)` pairs, op indexing
    `NB301_OPS`, each node's inputs in increasing order."""
    g = to_genotype(arch)
    return tuple(tuple((src, NB301_OPS.index(op)) for op, src in g[cell]) for cell in CELLS)


def from_compact(compact) -> np.ndarray:
    """Op array of NASLib's compact form (`to_compact`)."""
    if not (isinstance(compact, (tuple, list)) and len(compact) == len(CELLS)):
        raise ArchError("compact form must be a pair (normal, reduce) of 8 (input, op) pairs")
    cells = []
    for cell, pairs in zip(CELLS, compact):
        if not isinstance(pairs, (tuple, list)):
            raise ArchError(f"compact {cell} must be a sequence of (input, op) pairs")
        out = []
        for i, pair in enumerate(pairs):
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2
                    and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                            for v in pair)):
                raise ArchError(f"compact {cell} entry {i} must be an (input, op) pair of ints, "
                                f"got {pair!r}")
            if not 0 <= pair[1] < len(NB301_OPS):
                raise ArchError(f"compact {cell} entry {i} has op index {pair[1]}, expected "
                                f"0..{len(NB301_OPS) - 1}")
            out.append((NB301_OPS[pair[1]], int(pair[0])))
        cells.append(out)
    return from_genotype(*cells)


def to_nb301_config(arch) -> dict:
    """nasbench301's ConfigSpace dictionary (NASLib's `convert_genotype_to_config`)."""
    ops = parse_arch(arch).reshape(len(CELLS), NUM_EDGES)
    config = {}
    for c, cell in enumerate(CELLS):
        for k in np.flatnonzero(ops[c]):
            config[f"{_NB301_KEY}edge_{cell}_{k}"] = OPS[ops[c, k]]
        for node in range(3, 2 + NUM_NODES):
            start = _NODE_START[node - 2]
            inputs = np.flatnonzero(ops[c, start:start + node])
            config[f"{_NB301_KEY}inputs_node_{cell}_{node}"] = "_".join(map(str, inputs))
    return config


def from_nb301_config(config) -> np.ndarray:
    """Op array of a nasbench301 config dict; other keys (e.g. hyperparameters) are ignored,
    `inputs_node_*` must agree with the edges when present."""
    ops = np.zeros((len(CELLS), NUM_EDGES), np.int32)
    for c, cell in enumerate(CELLS):
        for k in range(NUM_EDGES):
            op = config.get(f"{_NB301_KEY}edge_{cell}_{k}")
            if op is None:
                continue
            if op not in OPS[1:]:
                raise ArchError(f"unknown op {op!r} in nb301 config edge_{cell}_{k}")
            ops[c, k] = OPS.index(op)
        for node in range(3, 2 + NUM_NODES):
            inputs = config.get(f"{_NB301_KEY}inputs_node_{cell}_{node}")
            start = _NODE_START[node - 2]
            used = "_".join(map(str, np.flatnonzero(ops[c, start:start + node])))
            if inputs is not None and inputs != used:
                raise ArchError(f"nb301 config inputs_node_{cell}_{node} is {inputs!r} but its "
                                f"edges read inputs {used!r}")
    return _check_ops(ops.reshape(-1), ndim=1)


def canonical_str(text) -> str:
    """A genotype's canonical text: parsed and rewritten (each node's inputs in order)."""
    return arch_to_str(str_to_arch(text))


# ----------------------------------------------------------------------------- masks, sampling


def _node_weights(mask: np.ndarray) -> list:
    """Per (cell, node): number of allowed genotypes of that node under each input pair."""
    xp = mask.reshape(len(CELLS), NUM_EDGES, NUM_OPS)
    cnt = xp[..., 1:].sum(-1).astype(object)
    out = []
    for c in range(len(CELLS)):
        for node, pairs in enumerate(_PAIRS):
            start, n = _NODE_START[node], node + 2
            weights = []
            for i, j in pairs:
                others = [k for k in range(start, start + n) if k not in (i, j)]
                weights.append(cnt[c, i] * cnt[c, j] * int(all(xp[c, k, _NONE] for k in others)))
            out.append(weights)
    return out


def check_mask(mask) -> np.ndarray:
    """Allowed ops per edge as bool `[28, 8]` (all when None); ArchError unless every node of
    both cells keeps at least one allowed genotype."""
    if mask is None:
        return np.ones((ARCH_LEN, NUM_OPS), bool)
    allowed = np.asarray(mask)
    if allowed.dtype != bool or allowed.shape != (ARCH_LEN, NUM_OPS):
        raise ArchError(f"DARTS mask must be a bool array of shape [{ARCH_LEN}, {NUM_OPS}], got "
                        f"{allowed.dtype} {list(allowed.shape)}")
    for i, weights in enumerate(_node_weights(allowed)):
        if not any(weights):
            cell, node = CELLS[i // NUM_NODES], 2 + i % NUM_NODES
            raise ArchError(f"mask allows no genotype of node {node} of the {cell} cell (it "
                            f"needs two edges with an allowed non-none op, 'none' allowed on "
                            f"the rest)")
    return allowed


def space_size(mask) -> int:
    """Number of architectures the mask allows (a Python int; ~1.1e18 for the whole space)."""
    return int(np.prod([sum(w) for w in _node_weights(check_mask(mask))], dtype=object))


def sample(rng: np.random.Generator, n=None, *, mask=None) -> np.ndarray:
    """Uniform random architectures under `mask`, `[28]` when `n` is None else `[n, 28]`: per
    node an input pair with probability proportional to its number of allowed genotypes, then
    each chosen edge's op uniform over its allowed non-none ops."""
    allowed = check_mask(mask)
    size = 1 if n is None else n
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 0:
        raise ArchError(f"number of samples must be a non-negative int, got {n!r}")
    archs = np.zeros((size, ARCH_LEN), np.int32)
    for i, weights in enumerate(_node_weights(allowed)):
        c, node = divmod(i, NUM_NODES)
        p = np.array(weights, float) / sum(weights)
        picks = rng.choice(len(weights), size=size, p=p)
        for edge in range(2):
            k = c * NUM_EDGES + np.array([_PAIRS[node][q][edge] for q in picks], int)
            choices = [np.flatnonzero(allowed[kk, 1:]) + 1 for kk in k]
            archs[np.arange(size), k] = [ch[rng.integers(len(ch))] for ch in choices]
    return archs[0] if n is None else archs


def neighbours(arch, *, mask=None) -> list:
    """Every genotype one mutation away from `arch` under `mask`, as `(edge, op, edge, op)`
    edits (first edit: set an edge to an op; second: another edge of the same node, or -1):
    change the op of a used edge to another allowed non-`none` op, or move one input of a node
    to an earlier node it does not read yet (that edge takes an allowed non-`none` op, the old
    one becomes `none`, which the mask must allow). Each node keeps two distinct inputs."""
    ops = parse_arch(arch)
    allowed = check_mask(mask)
    moves = []
    for c in range(len(CELLS)):
        for node, start in enumerate(_NODE_START):
            edges = [c * NUM_EDGES + k for k in range(start, start + node + 2)]
            used = [k for k in edges if ops[k]]
            for k in used:
                moves += [(k, int(o), -1, 0) for o in np.flatnonzero(allowed[k, 1:]) + 1
                          if o != ops[k]]
                if not allowed[k, _NONE]:
                    continue
                for free in (e for e in edges if not ops[e]):
                    moves += [(free, int(o), k, _NONE)
                              for o in np.flatnonzero(allowed[free, 1:]) + 1]
    return moves


def mutate(rng: np.random.Generator, arch, *, mask=None) -> np.ndarray:
    """One genotype drawn uniformly from `neighbours(arch, mask=mask)` (ArchError if none)."""
    moves = neighbours(arch, mask=mask)
    if not moves:
        raise ArchError(f"no mutation of {arch_to_str(arch)!r} is allowed by the mask")
    edge, op, other, other_op = moves[rng.integers(len(moves))]
    out = parse_arch(arch).copy()
    out[edge] = op
    if other >= 0:
        out[other] = other_op
    return out


def mask_to_str(mask) -> str:
    """Text form of a mask: 28 comma-separated groups (normal edges 0..13, then reduce), each the
    digits of the allowed op indices (0 none .. 7 dil_conv_5x5)."""
    mask = check_mask(np.asarray(mask, bool))
    return ",".join("".join(str(o) for o in np.flatnonzero(row)) for row in mask)


def str_to_mask(text, key="space_mask") -> np.ndarray:
    """Parse `mask_to_str`'s form; "" is the whole space. ConfigError naming `key`."""
    text = str(text).replace(" ", "")
    if not text:
        return np.ones((ARCH_LEN, NUM_OPS), bool)
    groups = text.split(",")
    if len(groups) != ARCH_LEN or not all(g and set(g) <= set("01234567") for g in groups):
        raise ConfigError(f"{key} must be {ARCH_LEN} comma-separated groups of op digits 0-7 "
                          f"(normal edges, then reduce), got {text[:60]!r}")
    mask = np.zeros((ARCH_LEN, NUM_OPS), bool)
    for e, group in enumerate(groups):
        mask[e, [int(ch) for ch in group]] = True
    try:
        return check_mask(mask)
    except ArchError as err:
        raise ConfigError(f"{key}: {err}") from None


# ----------------------------------------------------------------------------- complexity


def _check_macro(**sizes) -> None:
    for name, value in sizes.items():
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{name} must be a positive int, got {value!r}")


def _op_cost(op: int, C: int, stride: int, r_out: int) -> tuple:
    """(params, MACs) of op `op` on a C-channel edge with output resolution `r_out`."""
    area = r_out * r_out
    if op in (_SEP3, _SEP5):
        k = 3 if op == _SEP3 else 5
        return 2 * (k * k * C + C * C + 2 * C), 2 * area * (k * k * C + C * C)
    if op in (_DIL3, _DIL5):
        k = 3 if op == _DIL3 else 5
        return k * k * C + C * C + 2 * C, area * (k * k * C + C * C)
    if op == _SKIP and stride == 2:  # FactorizedReduce: two 1x1 convs C -> C/2, BN
        return C * C + 2 * C, area * C * C
    return 0, 0


@functools.cache
def _cost_tables(C, layers, resolution, num_classes, auxiliary):
    """(params, MACs) as float64 `[28, 8]` tables summed over the cells of each type, and the
    architecture-independent constants."""
    _check_macro(C=C, layers=layers, resolution=resolution, num_classes=num_classes)
    if resolution % 4:
        raise ConfigError(f"resolution must be a multiple of 4 (two stride-2 reductions), got "
                          f"{resolution}")
    if C % 2:
        raise ConfigError(f"C must be even (FactorizedReduce halves the channels), got {C}")
    params = np.zeros((ARCH_LEN, NUM_OPS))
    macs = np.zeros((ARCH_LEN, NUM_OPS))
    c_stem = 3 * C
    const_p, const_m = 27 * c_stem + 2 * c_stem, resolution**2 * 27 * c_stem
    c_pp, c_p, c_cur, r = c_stem, c_stem, C, resolution
    c_aux = None
    for i in range(layers):
        reduction = i in (layers // 3, 2 * layers // 3)
        if reduction:
            c_cur *= 2
        r_out = r // 2 if reduction else r
        # preprocess0 (ReLUConvBN 1x1 or FactorizedReduce: both c_pp * c_cur weights), preprocess1
        const_p += c_pp * c_cur + 2 * c_cur + c_p * c_cur + 2 * c_cur
        const_m += r * r * (c_pp * c_cur + c_p * c_cur)
        base = NUM_EDGES if reduction else 0
        for k, (to, src) in enumerate(EDGES):
            stride = 2 if reduction and src < 2 else 1
            for op in range(NUM_OPS):
                p, m = _op_cost(op, c_cur, stride, r_out)
                params[base + k, op] += p
                macs[base + k, op] += m
        c_pp, c_p, r = c_p, len(CONCAT) * c_cur, r_out
        if i == 2 * layers // 3:
            c_aux = c_p
    const_p += c_p * num_classes + num_classes
    const_m += c_p * num_classes + num_classes
    if auxiliary:  # AuxiliaryHeadCIFAR (DARTS's count_parameters_in_MB leaves it out)
        const_p += c_aux * 128 + 2 * 128 + 128 * 768 * 4 + 2 * 768 + 768 * num_classes \
            + num_classes
    for t in (params, macs):
        t.flags.writeable = False
    return params, macs, const_p, const_m


def num_params(arch, C=36, layers=20, num_classes=10, *, auxiliary=False) -> int:
    """Parameters of DARTS's `NetworkCIFAR` with this genotype (default: the paper's CIFAR-10
    evaluation network; DARTS-V2 has 3,349,342, DARTS's reported 3.3M)."""
    ops = parse_arch(arch)
    params, _, const, _ = _cost_tables(C, layers, 32, num_classes, auxiliary)
    return int(round(params[np.arange(ARCH_LEN), ops].sum() + const))


def flops(arch, C=36, layers=20, resolution=32, num_classes=10) -> int:
    """Multiply-accumulates of `NetworkCIFAR` for one image (convolutions and classifier)."""
    ops = parse_arch(arch)
    _, macs, _, const = _cost_tables(C, layers, resolution, num_classes, False)
    return int(round(macs[np.arange(ARCH_LEN), ops].sum() + const))


# ----------------------------------------------------------------------------- the Space


def derive(alpha, mask=None) -> np.ndarray:
    """The genotype architecture weights `alpha` (float `[28, 8]`: normal edges, then reduce)
    select, as DARTS's and GDAS's `genotype()`: with `p = softmax(alpha)` over each edge's
    allowed ops, every node keeps its two incoming edges of largest non-`none` `p`, each running
    its non-`none` op of largest `p` (ties: the earlier edge, the earlier op). Under `mask` the
    node's best pair the mask allows (largest stronger edge, then largest weaker one); without
    one this is DARTS's top two. Always a valid genotype (int32 `[28]`)."""
    allowed = check_mask(None if mask is None else np.asarray(mask, bool))
    alpha = np.asarray(alpha, np.float64)
    if alpha.shape != (ARCH_LEN, NUM_OPS):
        raise ArchError(f"DARTS architecture weights must have shape [{ARCH_LEN}, {NUM_OPS}], "
                        f"got {list(alpha.shape)}")
    logits = np.where(allowed, alpha, -np.inf)
    top = np.max(logits, axis=-1, keepdims=True)
    e = np.where(allowed, np.exp(logits - np.where(np.isfinite(top), top, 0.0)), 0.0)
    p = e / np.maximum(e.sum(-1, keepdims=True), np.finfo(np.float64).tiny)
    real = np.where(allowed[:, 1:], p[:, 1:], -1.0)  # non-`none` ops; -1: not allowed
    best_op = np.argmax(real, axis=-1) + 1
    strength = np.max(real, axis=-1)
    arch = np.zeros(ARCH_LEN, np.int32)
    for i, weights in enumerate(_node_weights(allowed)):
        c, node = divmod(i, NUM_NODES)
        keys = [(max(strength[c * NUM_EDGES + a], strength[c * NUM_EDGES + b]),
                 min(strength[c * NUM_EDGES + a], strength[c * NUM_EDGES + b]))
                if w else (-np.inf, -np.inf) for (a, b), w in zip(_PAIRS[node], weights)]
        pair = _PAIRS[node][max(range(len(keys)), key=lambda q: (keys[q], -q))]
        for k in pair:
            arch[c * NUM_EDGES + k] = best_op[c * NUM_EDGES + k]
    return arch


def _pair_tables():
    """Static tables for jittable sampling: per (cell-node) `[8, 10]` padded pair edges, and the
    edges each pair leaves unused."""
    rows = len(CELLS) * NUM_NODES
    width = max(len(p) for p in _PAIRS)
    first = np.zeros((rows, width), np.int32)
    second = np.zeros((rows, width), np.int32)
    valid = np.zeros((rows, width), bool)
    others = np.zeros((rows, width, ARCH_LEN), bool)
    for c in range(len(CELLS)):
        for node, pairs in enumerate(_PAIRS):
            row, start = c * NUM_NODES + node, _NODE_START[node]
            for q, (i, j) in enumerate(pairs):
                first[row, q], second[row, q] = c * NUM_EDGES + i, c * NUM_EDGES + j
                valid[row, q] = True
                for k in range(start, start + node + 2):
                    others[row, q, c * NUM_EDGES + k] = k not in (i, j)
    return first, second, valid, others


class DartsSpace(EdgeOpSpace):
    """The DARTS cell space behind the `jaxnas.spaces.base.Space` protocol (use `SPACE`)."""

    name = "darts"
    ops = OPS
    arch_shape = (ARCH_LEN,)
    mask_shape = (ARCH_LEN, NUM_OPS)
    edge_names = tuple(f"{cell}:{to}<-{src}" for cell in CELLS for to, src in EDGES)
    size = None  # ~1.1e18 architectures: not enumerated
    # Edges every genotype uses (node 2's inputs in both cells) and the ops they take, each
    # equally often under uniform sampling: momentum separation's "edge_op" groups.
    split_edges = (0, 1, NUM_EDGES, NUM_EDGES + 1)
    split_ops = tuple(range(1, NUM_OPS))

    def check_mask(self, mask):
        return check_mask(mask)

    def check(self, archs, *, batched=True):
        return _check_ops(archs, ndim=2 if batched else 1)

    def sample(self, key, mask):
        """Uniform over the genotypes `mask` allows (see `sample`): jittable, one draw per node
        for its input pair and one per edge for its op."""
        import jax
        import jax.numpy as jnp

        first, second, valid, others = (jnp.asarray(t) for t in _pair_tables())
        mask = jnp.asarray(mask, bool)
        cnt = mask[:, 1:].sum(-1).astype(jnp.float32)
        none_ok = jnp.where(others, mask[:, _NONE], True).all(-1)
        weight = cnt[first] * cnt[second] * none_ok * valid
        k_pair, k_op = jax.random.split(key)
        logits = jnp.where(weight > 0, jnp.log(jnp.maximum(weight, 1.0)), -jnp.inf)
        pick = jax.random.categorical(k_pair, logits)[:, None]
        chosen = jnp.concatenate([jnp.take_along_axis(first, pick, 1),
                                  jnp.take_along_axis(second, pick, 1)], axis=1).reshape(-1)
        used = jnp.zeros(ARCH_LEN, bool).at[chosen].set(True)
        op_logits = jnp.where(mask[:, 1:], 0.0, -jnp.inf)
        op_logits = jnp.where(mask[:, 1:].any(-1, keepdims=True), op_logits, 0.0)
        ops = jax.random.categorical(k_op, op_logits).astype(jnp.int32) + 1
        return jnp.where(used, ops, _NONE).astype(jnp.int32)

    def sample_canonical(self, key, mask, *, require_conv=False):
        """`sample`: every architecture is its class's representative in this encoding.
        `require_conv` is NB201's (CLOSE's reference sampler) and is refused here."""
        if require_conv:
            raise ConfigError("require_conv (a convolution on a live path) is an NB201 sampler "
                              "rule; the DARTS space has no such rule")
        return self.sample(key, mask)

    def sample_np(self, rng, n=None, *, unique=False, mask=None):
        return sample(rng, n, mask=mask)  # `unique`: every architecture is canonical

    def mutate(self, rng, arch, *, mask=None):
        """A uniform neighbour (`mutate`): one op changed or one input moved."""
        return mutate(rng, arch, mask=mask)

    def derive(self, alpha, mask=None):
        """The genotype of architecture weights `alpha` `[28, 8]` (`derive`)."""
        return derive(alpha, mask)

    def complexity(self, net_cfg, resolution):
        """FLOPs and parameters (millions) of `NetworkCIFAR` at `net_cfg`'s C, layers and
        num_classes: a sum of per-(edge, op) table entries, so jittable."""
        import jax.numpy as jnp

        params, macs, const_p, const_m = _cost_tables(net_cfg.C, net_cfg.layers, resolution,
                                                      net_cfg.num_classes, False)
        tables = {"flops": (jnp.asarray(macs / 1e6, jnp.float32), const_m / 1e6),
                  "num_params": (jnp.asarray(params / 1e6, jnp.float32), const_p / 1e6)}
        return lambda archs: {k: t[jnp.arange(ARCH_LEN), archs].sum(-1) + jnp.float32(c)
                              for k, (t, c) in tables.items()}

    def complexity_bounds(self, net_cfg, resolution):
        """`{"flops": (lo, hi), "num_params": (lo, hi)}` over every genotype, exact: the cost is
        a sum over edges, so each node independently takes its cheapest (dearest) input pair
        and ops."""
        params, macs, const_p, const_m = _cost_tables(net_cfg.C, net_cfg.layers, resolution,
                                                      net_cfg.num_classes, False)
        out = {}
        for kind, table, const in (("flops", macs, const_m), ("num_params", params, const_p)):
            lo = hi = const
            for c in range(len(CELLS)):
                cost = table[c * NUM_EDGES:(c + 1) * NUM_EDGES, 1:]
                for pairs in _PAIRS:
                    lo += min(cost[i].min() + cost[j].min() for i, j in pairs)
                    hi += max(cost[i].max() + cost[j].max() for i, j in pairs)
            out[kind] = (float(lo) / 1e6, float(hi) / 1e6)
        return out

    def mask_size(self, mask):
        return space_size(mask)

    def mask_archs(self, mask, limit=100_000):
        """Every architecture a small mask allows (ArchError above `limit`)."""
        n = space_size(mask)
        if n > limit:
            raise ArchError(f"the mask allows {n:.3g} DARTS architectures, too many to list "
                            f"(limit {limit})")
        allowed = check_mask(mask)
        per_node = []
        for i, weights in enumerate(_node_weights(allowed)):
            c, node = divmod(i, NUM_NODES)
            options = []
            for (a, b), w in zip(_PAIRS[node], weights):
                if not w:
                    continue
                ka, kb = c * NUM_EDGES + a, c * NUM_EDGES + b
                for oa in np.flatnonzero(allowed[ka, 1:]) + 1:
                    for ob in np.flatnonzero(allowed[kb, 1:]) + 1:
                        options.append(((ka, oa), (kb, ob)))
            per_node.append(options)
        out = np.zeros((n, ARCH_LEN), np.int32)
        for row, combo in enumerate(itertools.product(*per_node)):
            for (ka, oa), (kb, ob) in combo:
                out[row, ka], out[row, kb] = oa, ob
        return out

    def mask_to_str(self, mask):
        return mask_to_str(mask)

    def mask_from_str(self, text, key="space_mask"):
        return str_to_mask(text, key)

    def to_str(self, arch):
        return arch_to_str(arch)

    def from_str(self, text):
        return str_to_arch(text)

    def canonical(self, archs):
        """Validated `archs`: the encoding already forgets the order of a node's two inputs."""
        return _check_ops(archs, ndim=2)

    def enumerate(self):
        raise ArchError("the DARTS space (~1.1e18 architectures) is not enumerable; sample it "
                        "or list a small mask's architectures with mask_archs")

    def to_index(self, archs):
        raise ArchError("the DARTS space has no official architecture indices; use genotype "
                        "text (to_str) or NASLib's compact form (to_compact)")

    def from_index(self, indices):
        return self.to_index(indices)


SPACE = DartsSpace()
