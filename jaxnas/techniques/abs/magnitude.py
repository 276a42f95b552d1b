"""The magnitude baseline of ABS: DARTS-style architecture weights trained beside the supernet.

AngleNAS `NAS-Bench-201/exps/angle/dropnode_by_magnitude.py`: the supernet weights take their
usual uniform single-path step; an `alpha` `[6, 5]` (init 1e-3 * N(0, 1)) takes one Adam step
(lr 3e-4, betas (0.5, 0.999), weight decay 1e-3 as PyTorch's L2) on a held-out batch through
the `joint` forward, where every edge outputs sum_o softmax(alpha)[e, o] * op_o(x) (AutoDL's
`forward_joint`). An operator's score is softmax(alpha)[e, o]; an architecture's is its log
probability sum_e log softmax(alpha)[e, arch[e]] (AutoDL's `get_log_prob`, the ranking its
`return_topK` uses).
"""

import jax
import jax.numpy as jnp
import optax

from jaxnas.data import normalize
from jaxnas.spaces.nb201 import EDGES, NUM_EDGES, NUM_OPS
from jaxnas.supernet import ops
from jaxnas.supernet.conv import conv2d
from jaxnas.supernet.nb201 import CONV1, CONV3
from jaxnas.supernet.pools import NUM_STAGES


def init_alpha(key):
    """DARTS's initial architecture weights: 1e-3 * N(0, 1), `[6, 5]`."""
    return 1e-3 * jax.random.normal(key, (NUM_EDGES, NUM_OPS))


def _edge_joint(x, w1, w3, weights, impl):
    """sum_o weights[o] * op_o(x) over the five candidates (`none` adds zeros)."""
    conv = lambda w: ops.relu_conv_bn(x, w, impl=impl)  # noqa: E731
    return (weights[1] * x + weights[CONV1] * conv(w1) + weights[CONV3] * conv(w3)
            + weights[4] * ops.avg_pool_3x3(x))


def _reduction(x, p, impl):
    """The residual reduction block of `jaxnas.supernet.nb201`."""
    y = conv2d(jax.nn.relu(x), p["conv_a"]["w"], stride=2, padding=((1, 1), (1, 1)))
    y = ops.batch_norm(y, **p["conv_a"]["bn"])
    y = ops.relu_conv_bn(y, p["conv_b"]["w"], p["conv_b"]["bn"], impl=impl)
    return y + conv2d(ops.avg_pool_2x2(x), p["shortcut"])


def joint_forward(params, weights, x, sharing, *, cfg):
    """Logits of the DARTS mixture of all candidate ops, `weights` float `[6, 5]` per edge.

    The same macro network and parameters (through the sharing map `[3N, 6, 5]`) as
    `jaxnas.supernet.nb201.apply`; with one-hot `weights` it computes that architecture.
    """
    impl = cfg.resolved().conv_impl
    h = ops.batch_norm(conv2d(x, params["stem"]["w"]), **params["stem"]["bn"])
    for cell in range(NUM_STAGES * cfg.N):
        stage = cell // cfg.N
        if stage > 0 and cell % cfg.N == 0:
            h = _reduction(h, params["reduce"][stage - 1], impl)
        pool = params["pools"][stage]
        nodes = [h]
        for to in range(1, 4):
            nodes.append(sum(
                _edge_joint(nodes[src], pool["conv1x1"][sharing[cell, e, CONV1]],
                            pool["conv3x3"][sharing[cell, e, CONV3]], weights[e], impl)
                for e, (dst, src) in enumerate(EDGES) if dst == to))
        h = nodes[3]
    head = params["head"]
    h = jax.nn.relu(ops.batch_norm(h, **head["bn"]))
    return jnp.mean(h, axis=(1, 2)) @ head["w"] + head["b"]


def alpha_step(alpha, opt_state, tx, params, images, labels, sharing, *, cfg):
    """One update of `alpha` on a batch of uint8 `images`; the supernet params stay fixed."""
    x = normalize(images)

    def loss(alpha):
        logits = joint_forward(params, jax.nn.softmax(alpha, -1), x, sharing, cfg=cfg)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    grads = jax.grad(loss)(alpha)
    updates, opt_state = tx.update(grads, opt_state, alpha)
    return optax.apply_updates(alpha, updates), opt_state


def operator_magnitude(alpha):
    """softmax(alpha) per edge: the operator scores of the magnitude baseline, `[6, 5]`."""
    return jax.nn.softmax(alpha, -1)


def arch_log_prob(alpha, archs):
    """sum_e log softmax(alpha)[e, arch[e]] of architectures `[n, 6]`: float `[n]`."""
    logp = jax.nn.log_softmax(jnp.asarray(alpha), -1)
    return logp[jnp.arange(NUM_EDGES), jnp.asarray(archs, jnp.int32)].sum(-1)
