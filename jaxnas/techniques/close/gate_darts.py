"""CLOSENet's GATE in the DARTS / NAS-Bench-301 space (aw_nas `CloseNet` with
`GCNFlowArchEmbedder`).

A DARTS architecture `[28]` has two cell groups (the normal cell's 14 edges, then the reduction
cell's). Each group is encoded by the GATES forward-flow GCN on its 6 nodes and scored per edge by
an MLP over `concat(h_from, h_to)` of that group's node embeddings; the block of an edge is drawn
by the straight-through Gumbel-softmax of `gate.straight_through`. All normal cells apply the
normal group's assignment, both reduction cells the reduction group's (each cell to its own
pool). Only a genotype's 8 edges per group carry a decision: an edge running `none` gets block 0
(it computes nothing, so its block is irrelevant) and a constant weight.

Encoder (aw_nas `GCNFlowArchEmbedder`, NB301 config `node_dim 32, op_dim 32, hidden_dim 32,
gcn_out_dims [64]*4, residual_only 2`), per group g:
  * node states: inputs 0, 1 from N(0, 1) embeddings of g; nodes 2..5 one trainable embedding
    of g that starts at zero; `h = Linear(x)` (`x_hidden`, shared by the groups);
  * op embeddings of g, N(0, 1), op `none` (0) a fixed zero vector;
  * per layer (shared by the groups; `DenseGraphOpEdgeFlow`, no bias):
    `s = h @ W`, `h_i = mean over node i's input slots of a_e * s_src(e) + [i < 2] s_i`,
    `a_e = sigmoid(Lin(op_emb[op_e]))`, edges running `none` left out; ReLU between layers.
    The mean divides by the two input slots of a DARTS node (a genotype's edges; any other
    cell, e.g. three live inputs, is summed over its edges and divided by 2).
The head is one MLP (`GateConfig.mlp_dims`, input 2 x gcn_out_dims[-1]) for both groups, as
aw_nas builds one head on the embedder (its input width `embedder.out_dim` = 2 x 64).
Parameters are a plain pytree; `mlp[-1]` is laid out as NB201's, so `add_block`'s head
inheritance serves both spaces. `GateConfig`'s `gcn_norm`, `gcn_init` and `center` (NB201's
`structure` departures) are not read here.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.spaces.darts import CELLS, EDGES, NUM_EDGES, NUM_INPUTS, NUM_NODES, NUM_OPS
from jaxnas.techniques.close.gate import (GateConfig, edge_mlp, init_layers, straight_through,
                                          torch_linear)

NUM_GROUPS = len(CELLS)
_ALL_NODES = NUM_NODES + 2
_TO = np.array([to for to, _ in EDGES])
_FROM = np.array([src for _, src in EDGES])
# [6, 14]: sums the messages of the edges entering each node.
_INCIDENCE = (np.arange(_ALL_NODES)[:, None] == _TO[None]).astype(np.float32)


def init_gate(key, cfg: GateConfig):
    """Fresh parameters, initialised as aw_nas: embeddings N(0, 1) (the non-input nodes' zero),
    linears PyTorch's default, GCN node transforms U(+-1/sqrt(out)) without bias."""
    k_in, k_op, k_hid, k_gcn, k_mlp = jax.random.split(key, 5)
    gcn, mlp = init_layers(k_gcn, k_mlp, cfg)  # aw_nas's init; `gcn_init` is not read here
    return {
        "input_nodes": jax.random.normal(k_in, (NUM_GROUPS, 2, cfg.node_emb_dim)),
        "other_node": jnp.zeros((NUM_GROUPS, cfg.node_emb_dim)),
        "op_emb": jax.random.normal(k_op, (NUM_GROUPS, NUM_OPS - 1, cfg.op_emb_dim)),
        "x_hidden": torch_linear(k_hid, cfg.node_emb_dim, cfg.hid_dim),
        "gcn": gcn,
        "mlp": mlp,
    }


def node_embeddings(params, arch):
    """Flow-GCN node embeddings `[2, 6, gcn_out_dims[-1]]` of architecture `arch` (int `[28]`):
    one row of 6 nodes per cell group (normal, reduce)."""
    ops = jnp.asarray(arch, jnp.int32).reshape(NUM_GROUPS, NUM_EDGES)
    d_node = params["input_nodes"].shape[-1]
    x = jnp.concatenate([params["input_nodes"], jnp.broadcast_to(
        params["other_node"][:, None], (NUM_GROUPS, NUM_NODES, d_node))], axis=1)
    h = x @ params["x_hidden"]["w"] + params["x_hidden"]["b"]
    zero = jnp.zeros((NUM_GROUPS, 1, params["op_emb"].shape[-1]))
    table = jnp.concatenate([zero, params["op_emb"]], axis=1)  # op 0 (`none`): fixed zero
    op_emb = jax.vmap(lambda t, o: t[o])(table, ops)  # [2, 14, op_emb_dim]
    present = (ops != 0)[..., None]
    for i, layer in enumerate(params["gcn"]):
        s = h @ layer["w"]
        attn = jax.nn.sigmoid(op_emb @ layer["attn"]["w"] + layer["attn"]["b"])
        msg = jnp.where(present, attn * s[:, _FROM], 0.0)
        h = jnp.einsum("ne,ged->gnd", _INCIDENCE, msg) / NUM_INPUTS
        h = h.at[:, :2].add(s[:, :2])  # residual_only=2: the input nodes keep their state
        if i < len(params["gcn"]) - 1:
            h = jax.nn.relu(h)
    return h


def gate_logits(params, arch, cfg: GateConfig, *, key=None, train):
    """Block logits `[28, k_max]`: the MLP over `concat(h_from, h_to)` of every edge of both
    groups (dropout in training, which needs `key`)."""
    h = node_embeddings(params, arch)
    y = jnp.concatenate([h[:, _FROM], h[:, _TO]], axis=-1).reshape(NUM_GROUPS * NUM_EDGES, -1)
    return edge_mlp(params["mlp"], y, cfg, key=key, train=train)


def gate(params, arch, level, key, cfg: GateConfig, *, train, noise=True):
    """Assign each edge of `arch` (int `[28]`) one of the `level` active blocks, as the NB201
    `gate.gate` does (same modes, noise and straight-through weights).

    Returns `(weights, active, blocks)`: float32 `[28, k_max]`, bool `[28, k_max]`, int32 `[28]`,
    laid out as `arch`; an edge running `none` gets block 0 and constant one-hot weights.
    """
    if key is None and (noise or (train and cfg.mlp_dropout > 0)):
        raise ValueError("gate needs a PRNG key for Gumbel noise or dropout")
    k_drop, k_noise = jax.random.split(key) if key is not None else (None, None)
    logits = gate_logits(params, arch, cfg, key=k_drop, train=train)
    weights, active, blocks = straight_through(logits, level, k_noise, cfg.tau, train=train,
                                               noise=noise)
    live = jnp.asarray(arch, jnp.int32) != 0
    first = jax.nn.one_hot(0, cfg.k_max, dtype=weights.dtype)
    return (jnp.where(live[:, None], weights, first), active,
            jnp.where(live, blocks, 0).astype(jnp.int32))
