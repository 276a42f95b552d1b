"""CLOSENet's GATE: the architecture-dependent assignment of cell edges to GLOW blocks.

A GLOW block holds the parameters of every candidate op; each cell owns `k_max` of them, of which
the first `level` are active. For an NB201 cell (op indices `[6]`, `EDGES` order) the GATE encodes
the DAG with the GATES forward-flow encoder (aw_nas `NasBench201FlowArchEmbedder`), scores every
edge with an MLP over its two node embeddings, and draws one block per edge with a straight-through
Gumbel-softmax. One gate serves all cells; each cell applies it to its own pool.

Parameters are a plain pytree (dicts and lists of float32 arrays), trained by the task loss with
the same optimizer as the supernet. `level` is a runtime int32: changing it never recompiles.

The defaults are the reference GATE, bit for bit. That GATE cannot see the architecture in
practice: with U(+-1/sqrt(out)) weights and sigmoid attentions every flow-GCN layer shrinks the
node states ~5x (mean |h| ~0.005 after five layers of 128), so the logits hardly differ between
cells and the encoder's gradients are as small. `GateConfig(gcn_norm="layer")` normalises every
node state between GCN layers, `gcn_init="variance"` draws the GCN weights so that a layer
preserves the variance of its input (He), and `center=True` subtracts the mean logits of fixed
reference cells, so that the GATE cannot prefer one block for every cell. These are departures
from the reference, with the same parameter shapes; the `structure` GATE of
`close.gate_variant` uses layer norm and centring (`jaxnas/close/technique.py` says why).
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.errors import ConfigError
from jaxnas.spaces.nb201 import EDGES, NUM_EDGES, NUM_NODES, NUM_OPS
from jaxnas.supernet.pools import sharing_from_blocks

_TO = np.array([to for to, _ in EDGES])
_FROM = np.array([src for _, src in EDGES])
# [NUM_NODES, NUM_EDGES]: sums the messages of the edges entering each node.
_INCIDENCE = (np.arange(NUM_NODES)[:, None] == _TO[None]).astype(np.float32)
GCN_NORMS = ("none", "layer")
GCN_INITS = ("reference", "variance")


@dataclasses.dataclass(frozen=True)
class GateConfig:
    """Static sizes of the GATE; the defaults are the released NB201 configs (`cl-2468`).

    Attributes:
      k_max: GLOW blocks per cell (the MLP's output width), = `SupernetConfig.slots_per_cell`.
      op_emb_dim: op embedding size (attention input).
      node_emb_dim: input-node embedding size.
      hid_dim: width of the projected node states fed to the first GCN layer.
      gcn_out_dims: widths of the flow-GCN layers.
      mlp_dims: hidden widths of the per-edge MLP (input: two node embeddings).
      mlp_dropout: dropout after each hidden MLP layer, in training only.
      tau: Gumbel-softmax temperature.
      gcn_norm: "none" (reference) or "layer": a parameter-free layer norm of every node state
        after each GCN layer's aggregation (before its ReLU). A node that receives nothing keeps a
        zero state. Not in the reference.
      gcn_init: "reference" (U(+-1/sqrt(out)), as aw_nas) or "variance": GCN weights
        N(0, 2/in) (He), so a layer keeps the scale of its input instead of shrinking it ~5x.
      center: False (reference), or subtract from the logits their mean over the 25 fixed
        `reference_cells`, per edge and block: the GATE cannot express a preference for one
        block over all cells (which the task loss rewards: the oldest block is the best trained,
        and a working GATE collapses onto it). Costs the GATE for 25 more cells per step
        (~0.2 GFLOP with gradients at the reference sizes). Not in the reference.
    """

    k_max: int = 5
    op_emb_dim: int = 48
    node_emb_dim: int = 48
    hid_dim: int = 96
    gcn_out_dims: tuple = (128,) * 5
    mlp_dims: tuple = (200, 200, 200)
    mlp_dropout: float = 0.1
    tau: float = 5.0
    gcn_norm: str = "none"
    gcn_init: str = "reference"
    center: bool = False

    def __post_init__(self):
        sizes = {"k_max": self.k_max, "op_emb_dim": self.op_emb_dim,
                 "node_emb_dim": self.node_emb_dim, "hid_dim": self.hid_dim}
        sizes.update({f"gcn_out_dims[{i}]": d for i, d in enumerate(self.gcn_out_dims)})
        sizes.update({f"mlp_dims[{i}]": d for i, d in enumerate(self.mlp_dims)})
        for name, value in sizes.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"gate.{name} must be a positive integer, got {value!r}")
        if not self.gcn_out_dims:
            raise ConfigError("gate.gcn_out_dims must list at least one layer")
        if not 0.0 <= self.mlp_dropout < 1.0:
            raise ConfigError(f"gate.mlp_dropout must lie in [0, 1), got {self.mlp_dropout!r}")
        if not self.tau > 0:
            raise ConfigError(f"gate.tau must be positive, got {self.tau!r}")
        if not isinstance(self.center, bool):
            raise ConfigError(f"gate.center must be True or False, got {self.center!r}")
        if self.gcn_norm not in GCN_NORMS:
            raise ConfigError(f"gate.gcn_norm must be one of {GCN_NORMS}, got {self.gcn_norm!r}")
        if self.gcn_init not in GCN_INITS:
            raise ConfigError(f"gate.gcn_init must be one of {GCN_INITS}, got {self.gcn_init!r}")


def uniform_init(key, shape, bound):
    """float32 U(-bound, bound)."""
    return jax.random.uniform(key, shape, jnp.float32, -bound, bound)


def torch_linear(key, d_in, d_out):
    """PyTorch's nn.Linear init, U(+-1/sqrt(fan_in)) for weight and bias; `w` is `[in, out]`."""
    kw, kb = jax.random.split(key)
    bound = 1.0 / math.sqrt(d_in)
    return {"w": uniform_init(kw, (d_in, d_out), bound), "b": uniform_init(kb, (d_out,), bound)}


def init_layers(k_gcn, k_mlp, cfg: GateConfig, gcn_init="reference"):
    """The GATE's flow-GCN layers and per-edge MLP head, `(gcn, mlp)`, shared by the NB201 and
    DARTS GATEs: per layer a node transform `w` `[in, out]` without bias (`gcn_init`
    "reference": U(+-1/sqrt(out)); "variance": N(0, 2/in)) and an op attention linear
    `[op_emb, out]`; the head's linears from `2 x gcn_out_dims[-1]` through `mlp_dims` to
    `k_max`."""
    gcn, d_in = [], cfg.hid_dim
    for k, d_out in zip(jax.random.split(k_gcn, len(cfg.gcn_out_dims)), cfg.gcn_out_dims):
        kw, ka = jax.random.split(k)
        if gcn_init == "variance":
            w = math.sqrt(2.0 / d_in) * jax.random.normal(kw, (d_in, d_out))
        else:
            w = uniform_init(kw, (d_in, d_out), 1.0 / math.sqrt(d_out))
        gcn.append({"w": w, "attn": torch_linear(ka, cfg.op_emb_dim, d_out)})
        d_in = d_out
    dims = (2 * d_in,) + tuple(cfg.mlp_dims) + (cfg.k_max,)
    mlp = [torch_linear(k, a, b)
           for k, a, b in zip(jax.random.split(k_mlp, len(dims) - 1), dims[:-1], dims[1:])]
    return gcn, mlp


def init_gate(key, cfg: GateConfig):
    """Fresh GATE parameters, initialised as in aw_nas.

    Embeddings are N(0, 1); linears use PyTorch's default; a GCN layer's node transform `w` is
    U(+-1/sqrt(out)) without bias (`cfg.gcn_init="variance"`: N(0, 2/in)); its op attention is a
    linear `[op_emb, out]`. The non-input nodes' initial state is a fixed zero vector, not a
    parameter.
    """
    k_in, k_op, k_hid, k_gcn, k_mlp = jax.random.split(key, 5)
    gcn, mlp = init_layers(k_gcn, k_mlp, cfg, cfg.gcn_init)
    return {
        "input_node": jax.random.normal(k_in, (cfg.node_emb_dim,)),
        "op_emb": jax.random.normal(k_op, (NUM_OPS, cfg.op_emb_dim)),
        "x_hidden": torch_linear(k_hid, cfg.node_emb_dim, cfg.hid_dim),
        "gcn": gcn,
        "mlp": mlp,
    }


def node_embeddings(params, arch, cfg: GateConfig):
    """Forward-flow GCN embeddings `[NUM_NODES, gcn_out_dims[-1]]` of the cell `arch` (int `[6]`).

    Per layer: `s = h @ W`; node i gets `sum_j a_ij * s_j` over its incoming edges, with
    `a_ij = sigmoid(Lin(op_emb[A_ij]))` and `none` edges masked out; only the input node keeps its
    own state (`residual_only=1`). ReLU between layers, not after the last. Information flows from
    the input forward, so a node whose incoming edges are all `none` embeds to zero. With
    `cfg.gcn_norm="layer"` each layer's node states are layer-normalised (no learned scale or
    shift) before the ReLU, the last layer's too. Sizes are read from the parameter shapes.
    """
    arch = jnp.asarray(arch, jnp.int32)
    x = jnp.zeros((NUM_NODES, params["input_node"].shape[0])).at[0].set(params["input_node"])
    h = x @ params["x_hidden"]["w"] + params["x_hidden"]["b"]
    op_emb = params["op_emb"][arch]  # [6, op_emb_dim]
    present = (arch != 0)[:, None]  # op 0 is `none`
    for i, layer in enumerate(params["gcn"]):
        s = h @ layer["w"]
        attn = jax.nn.sigmoid(op_emb @ layer["attn"]["w"] + layer["attn"]["b"])
        h = _INCIDENCE @ jnp.where(present, attn * s[_FROM], 0.0)
        h = h.at[0].add(s[0])
        if cfg.gcn_norm == "layer":
            h = _layer_norm(h)
        if i < len(params["gcn"]) - 1:
            h = jax.nn.relu(h)
    return h


def _layer_norm(h, eps=1e-5):
    """Zero mean, unit variance over the last axis; an all-zero row stays zero."""
    mean = jnp.mean(h, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(h - mean), axis=-1, keepdims=True)
    return (h - mean) * jax.lax.rsqrt(var + eps)


def reference_cells():
    """The 25 cells `op[e] = (a + b * e) % 5` (a, b in 0..4), int32 `[25, 6]`, for
    `GateConfig.center`: every op appears on every edge exactly 5 times, as in a uniform sample
    of all 15,625 cells, but without a sample's imbalance (pairs of edges are balanced too,
    except edges 0 and 5, which always carry the same op here)."""
    a, b = np.divmod(np.arange(NUM_OPS * NUM_OPS), NUM_OPS)
    return ((a[:, None] + b[:, None] * np.arange(NUM_EDGES)) % NUM_OPS).astype(np.int32)


def gate_logits(params, arch, cfg: GateConfig, *, key=None, train):
    """Block logits `[6, k_max]`: the MLP over `concat(h_from, h_to)` of every edge.

    With `train`, dropout (rate `cfg.mlp_dropout`) follows each hidden layer and `key` is needed.
    With `cfg.center` the mean logits of the `reference_cells` (no dropout) are subtracted, per
    edge and block, so the logits say only how `arch` differs from other cells (gradients flow
    through the mean as well).
    """
    z = _mlp_logits(params, arch, cfg, key=key, train=train)
    if cfg.center:
        ref = jax.vmap(lambda a: _mlp_logits(params, a, cfg, train=False))(
            jnp.asarray(reference_cells()))
        z = z - jnp.mean(ref, axis=0)
    return z


def _mlp_logits(params, arch, cfg, *, key=None, train):
    h = node_embeddings(params, arch, cfg)
    return edge_mlp(params["mlp"], jnp.concatenate([h[_FROM], h[_TO]], axis=-1), cfg,
                    key=key, train=train)


def edge_mlp(mlp, y, cfg: GateConfig, *, key=None, train):
    """The GATE's head `[..., k_max]` on edge features `y` (ReLU hidden layers; dropout at rate
    `cfg.mlp_dropout` after each in training, which needs `key`)."""
    use_dropout = train and cfg.mlp_dropout > 0
    if use_dropout and key is None:
        raise ValueError("gate_logits(train=True) needs a PRNG key for dropout")
    *hidden, last = mlp
    keys = jax.random.split(key, len(hidden)) if use_dropout else [None] * len(hidden)
    for layer, k in zip(hidden, keys):
        y = jax.nn.relu(y @ layer["w"] + layer["b"])
        if use_dropout:
            keep = 1.0 - cfg.mlp_dropout
            y = jnp.where(jax.random.bernoulli(k, keep, y.shape), y / keep, 0.0)
    return y @ last["w"] + last["b"]


def gate(params, arch, level, key, cfg: GateConfig, *, train, noise=True):
    """Assign each edge of `arch` to one of the `level` active blocks.

    `p = softmax((z + G) / tau)` over the active blocks' logits z (the others are -inf), with Gumbel
    noise `G = -log(-log(U + 1e-20) + 1e-20)`, and the chosen block is `argmax p`.

    * `train=True`: dropout on; `weights = one_hot(argmax p) + (p - stop_gradient(p))`, exactly
      one-hot in value while the gradient reaches every active block's probability;
      `active = arange(k_max) < level` (all active blocks run, as in the reference training).
    * `train=False`: dropout off; `weights = active = one_hot(argmax p)`, so only the chosen block
      runs and no gradient flows to the GATE.
    * `noise=True` keeps the Gumbel noise in both modes: the reference evaluates with noise (eval
      assignments are samples; aw_nas evaluates with seed 123). `noise=False` is the deterministic
      variant, `argmax z` at evaluation (not in the reference).

    Args:
      params: from `init_gate`.
      arch: int `[6]` op indices (one cell, shared by all cells).
      level: int scalar (may be traced), number of active blocks, 1 <= level <= k_max.
      key: PRNG key for the noise and dropout (None only when neither is used).
      cfg: the static `GateConfig`.

    Returns:
      `(weights, active, blocks)`: float32 `[6, k_max]`, bool `[6, k_max]`, int32 `[6]`; pass
      `slot_mix=(weights, active)` with `close_sharing(None, ...)` to the supernet `apply`, or, at
      evaluation, `close_sharing(blocks, ...)` without `slot_mix`.
    """
    if key is None and (noise or (train and cfg.mlp_dropout > 0)):
        raise ValueError("gate needs a PRNG key for Gumbel noise or dropout")
    k_drop, k_noise = jax.random.split(key) if key is not None else (None, None)
    logits = gate_logits(params, arch, cfg, key=k_drop, train=train)
    return straight_through(logits, level, k_noise, cfg.tau, train=train, noise=noise)


def straight_through(logits, level, key, tau, *, train, noise=True):
    """The block choice of `gate` from logits `[E, k_max]`: `(weights, active, blocks)`.

    Logits beyond `level` are -inf; `key` draws the Gumbel noise (when `noise`); see `gate`.
    """
    k_max = logits.shape[-1]
    in_level = jnp.arange(k_max) < level
    z = jnp.where(in_level, logits, -jnp.inf)
    if noise:
        u = jax.random.uniform(key, z.shape)
        z = z - jnp.log(-jnp.log(u + 1e-20) + 1e-20)
    p = jax.nn.softmax(z / tau, axis=-1)
    blocks = jnp.argmax(p, axis=-1).astype(jnp.int32)
    hard = jax.nn.one_hot(blocks, k_max, dtype=jnp.float32)
    if not train:
        return hard, hard > 0, blocks
    weights = hard + (p - jax.lax.stop_gradient(p))
    return weights, jnp.broadcast_to(in_level, weights.shape), blocks


def close_sharing(blocks, num_cells_per_stage, k_max):
    """CLOSENet sharing maps over a supernet with `slots_per_cell = k_max`.

    Cell c's block b is slot `(c % N) * k_max + b` of its stage's pool.

    Args:
      blocks: None for the training map `[3N, 6, 5, k_max]` whose slice k points every edge of
        every cell at its block k (use with `slot_mix`); or int `[6]` / `[3N, 6]` chosen blocks
        for the plain map `[3N, 6, 5]` (single-path evaluation; works on traced arrays).
      num_cells_per_stage: N.
      k_max: blocks per cell.
    """
    if blocks is not None:
        return sharing_from_blocks(blocks, num_cells_per_stage, k_max)
    full = np.ones((1, NUM_EDGES), np.int32)
    maps = [sharing_from_blocks(k * full, num_cells_per_stage, k_max) for k in range(k_max)]
    return np.stack(maps, axis=-1)
