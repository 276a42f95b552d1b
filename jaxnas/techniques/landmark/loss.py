"""The pairwise landmark ranking loss, its pair sampling and its regulariser batch (jittable).

For landmarks sorted by ground truth (ascending) and a pair of positions lo < hi (hi is the
better architecture), the reference (`pairwise_landmark_ranking_loss_step`, default
`mae_relu`) adds

    coef * relu(L(a_hi) - L(a_lo))

where L is the cross-entropy of the landmark network on one regulariser batch shared by both
landmarks. Zero margin, nothing detached: when the pair is mis-ordered the gradient lowers the
better landmark's loss and raises the worse one's. The reference's ablation uses
`softplus(d, beta=5)` = log(1 + exp(5 d)) / 5 instead of relu ("softplus"; beta=1 is its
"crossentropy" variant, -log(1 - sigmoid(d))). Pairs of equal ground-truth rank are not penalised.

Pairs per step (`random_pairwise_loss`): a = randint(0, M-2), b = randint(a+1, M-1) (inclusive),
so P(a, b) = 1 / ((M-1)(M-1-a)): pairs of good landmarks are drawn more often ("reference").
"uniform" draws each unordered pair with probability 2 / (M (M-1)). M is the runtime landmark
count, so growing the set never recompiles. Under a space mask (ABS shrinking) pairs are drawn
among the landmarks the mask allows, in the same way.
"""

import jax
import jax.numpy as jnp
import optax
from jax import lax

from jaxnas.train.step import resolved_path_loop

LOSSES = ("hinge", "softplus")
PAIR_DISTRIBUTIONS = ("reference", "uniform")


def rank_penalty(diff, kind="hinge", beta=5.0):
    """Penalty of `diff = L(better) - L(worse)`: relu(diff) or softplus(beta * diff) / beta."""
    if kind == "hinge":
        return jax.nn.relu(diff)
    if kind == "softplus":
        return jax.nn.softplus(beta * diff) / beta
    raise ValueError(f"unknown rank loss {kind!r}; choose one of {LOSSES}")


def sample_pairs(key, count, num_pairs, distribution="reference"):
    """Landmark positions `(lo, hi)`, int32 `[num_pairs]` each, with 0 <= lo < hi < count.

    `count` (>= 2) may be a traced int32; `num_pairs` is static.
    """
    ka, kb = jax.random.split(key)
    count = jnp.asarray(count, jnp.int32)
    if distribution == "reference":
        lo = jax.random.randint(ka, (num_pairs,), 0, count - 1)
        hi = jax.random.randint(kb, (num_pairs,), lo + 1, count)
        return lo, hi
    if distribution == "uniform":
        a = jax.random.randint(ka, (num_pairs,), 0, count)
        b = jax.random.randint(kb, (num_pairs,), 0, count - 1)
        b = b + (b >= a)
        return jnp.minimum(a, b), jnp.maximum(a, b)
    raise ValueError(f"unknown pair distribution {distribution!r}; choose {PAIR_DISTRIBUTIONS}")


def batch_window(key, images, labels, batch_size, start=0):
    """A random contiguous window of `batch_size` examples from position `start` on (the arrays
    are in a fixed random order, so a window is a class-mixed batch without repeats)."""
    first = start + jax.random.randint(key, (), 0, images.shape[0] - start - batch_size + 1)
    return (lax.dynamic_slice_in_dim(images, first, batch_size),
            lax.dynamic_slice_in_dim(labels, first, batch_size))


def usable(state, mask=None):
    """`(order, n)`: positions of the landmarks a step may pair, first `n` of `order` in
    ascending ground-truth order: the first `count` landmarks whose every op `mask` (bool
    `[6, 5]`, the runtime space mask of ABS shrinking; None = all) allows."""
    capacity = state.archs.shape[0]
    ok = jnp.arange(capacity) < state.count
    if mask is not None:
        ok = ok & jnp.all(mask[jnp.arange(state.archs.shape[1]), state.archs], axis=-1)
    return jnp.argsort(~ok, stable=True).astype(jnp.int32), jnp.sum(ok, dtype=jnp.int32)


def landmark_loss(params, forward, state, x, labels, key, *, pairs=1, distribution="reference",
                  kind="hinge", beta=5.0, mask=None, loop="auto"):
    """Sum over `pairs` sampled pairs of the ranking penalty (without the coefficient).

    `state` is a `LandmarkState`; pairs are drawn among the landmarks `mask` allows (`usable`;
    fewer than 2: zero). `forward(params, arch, x, key) -> logits`. `loop` runs the 2 * pairs
    networks as FairNAS runs its paths (`jaxnas.train.step.resolved_path_loop`; "auto": unrolled
    on the CPU, where a scanned mini step with 2 pairs took 355 ms against 108 ms unrolled and
    56 ms for 1 pair, experiments/bench_landmark.py; one `lax.scan` elsewhere, for memory).
    Returns `(loss, mis_ordered)`, the latter the number of sampled pairs whose
    supernet losses contradict the ground truth.
    """
    k_pairs, k_fwd = jax.random.split(key)
    order, n = usable(state, mask)
    lo, hi = sample_pairs(k_pairs, n, pairs, distribution)
    lo, hi = order[lo], order[hi]
    positions = jnp.concatenate([lo, hi])

    def cross_entropy(arch, k):
        logits = forward(params, arch, x, k)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    archs, keys = state.archs[positions], jax.random.split(k_fwd, 2 * pairs)
    if pairs > 1 and resolved_path_loop(loop) == "scan":
        losses = lax.scan(lambda c, ak: (c, cross_entropy(*ak)), None, (archs, keys))[1]
    else:
        losses = jnp.stack([cross_entropy(archs[i], keys[i]) for i in range(2 * pairs)])
    diff = losses[pairs:] - losses[:pairs]            # L(better) - L(worse)
    ordered = (state.rank[hi] > state.rank[lo]) & (n >= 2)
    penalty = jnp.where(ordered, rank_penalty(diff, kind, beta), 0.0)
    return penalty.sum(), jnp.sum(ordered & (diff > 0)).astype(jnp.float32)
