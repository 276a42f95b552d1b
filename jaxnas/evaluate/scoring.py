"""Score architectures with a trained supernet and rank them against the benchmark.

Every architecture is scored on the SAME held-out images: the first `num_batches` batches of
`batch_size` images in their given order (no shuffling, no augmentation; an incomplete last batch
is dropped). Batch norm normalises with the statistics of the current batch (as the reference
supernets do at evaluation, without recalibration), so a score depends on the batch size and on
which images share a batch: compare scores only at equal `batch_size` and images (the Landmark
code evaluates with batches of 256).

Throughput on the CPU (`experiments/bench_eval.py`, 2 cores): one jitted call per architecture
that scans over the batches, with the evaluation images put on the device once, and the next call
dispatched before the previous result is read. A Python loop over per-batch calls, `vmap` over the
batches and `lax.map` over chunks of archs are no faster (XLA already keeps both cores busy); `vmap`
over archs is 10-15x slower, since a batched `lax.switch` index becomes a select that runs all five
ops on every edge. Cells that prune to the same cell (`prune_dead_edges`) and read the same
sharing map are scored once.
"""

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import PartitionSpec as P
from tqdm.auto import tqdm

from jaxnas import parallel
from jaxnas.data import normalize
from jaxnas.errors import ConfigError, DataError
from jaxnas.evaluate.ranking import ranking_report
from jaxnas.spaces.nb201 import (NUM_ARCHS, all_archs, archs_to_indices, canonical_indices,
                                 in_space, unique_indices)
from jaxnas.supernet import nb201 as supernet
from jaxnas.supernet.pools import check_sharing

EVAL_SETS = ("unique", "all")
_NONE = 0


def prune_dead_edges(archs):
    """Set to `none` every edge whose output cannot change the logits; returns int32 `[n, 6]`.

    An edge is dead when its source node is exactly zero (all edges into it are `none`, or come
    from zero nodes: every op maps zeros to exact zeros, BN included) or when its destination
    node does not reach node 3 through non-`none` edges. The pruned cell computes bit-identical
    logits with any parameters and sharing map, and runs fewer convolutions; in the full space
    15,625 cells collapse to 9,445 distinct pruned cells, so `score_archs` runs each once.
    """
    a = np.array(archs, np.int32).reshape(-1, 6)
    # Edges (to, from): 0 (1,0), 1 (2,0), 2 (2,1), 3 (3,0), 4 (3,1), 5 (3,2).
    zero1 = a[:, 0] == _NONE
    a[zero1, 2] = a[zero1, 4] = _NONE
    zero2 = (a[:, 1] == _NONE) & (a[:, 2] == _NONE)
    a[zero2, 5] = _NONE
    dead2 = a[:, 5] == _NONE
    a[dead2, 1] = a[dead2, 2] = _NONE
    dead1 = (a[:, 2] == _NONE) & (a[:, 4] == _NONE)
    a[dead1, 0] = _NONE
    return a


def _batch_stats(params, arch, sharing, images, labels, cfg):
    """(number of correct top-1 predictions, summed cross-entropy) of one uint8 batch."""
    logits = supernet.apply(params, arch, normalize(images), sharing, cfg=cfg)
    log_probs = jax.nn.log_softmax(logits)
    correct = jnp.sum(jnp.argmax(logits, axis=-1) == labels, dtype=jnp.int32)
    loss = -jnp.sum(jnp.take_along_axis(log_probs, labels[:, None], axis=1))
    return correct, loss


def make_scorer(cfg, *, batch_size):
    """A jitted `score_batch(params, arch, sharing, images_uint8, labels) -> (num_correct,
    sum_loss)` for batches of `batch_size` images.

    `arch` is an int32 `[6]` array argument, so one compilation serves every architecture (and
    every sharing map). Images are normalised inside; BN uses this batch's statistics.
    """
    def score_batch(params, arch, sharing, images, labels):
        if images.shape[0] != batch_size or labels.shape != (batch_size,):
            raise DataError(f"scorer built for batches of {batch_size}, got images "
                            f"{images.shape} and labels {labels.shape}")
        return _batch_stats(params, arch, sharing, images, labels, cfg)

    return jax.jit(score_batch)


def _score_arch(params, arch, sharing, images, labels, cfg):
    """(correct, summed loss) of one architecture over the batches `[nb, B, ...]`."""
    def body(totals, batch):
        correct, loss = _batch_stats(params, arch, sharing, *batch, cfg)
        return (totals[0] + correct, totals[1] + loss), None

    return lax.scan(body, (jnp.int32(0), jnp.float32(0.0)), (images, labels))[0]


@functools.lru_cache(maxsize=8)
def _arch_scorer(cfg):
    """Jitted `(params, arch, sharing, images [nb, B, ...], labels [nb, B]) -> (correct, loss)`
    summed over the batches: one dispatch per architecture. Cached so repeated calls (one per
    evaluation during training) reuse the compilation."""
    return jax.jit(functools.partial(_score_arch, cfg=cfg))


@functools.lru_cache(maxsize=8)
def _mesh_scorer(cfg, mesh, per_arch):
    """Jitted `(params, archs [D, 6], sharing, images, labels) -> (correct [D], loss [D])` over
    the D devices of `mesh`: device d scores `archs[d]` (with `sharing[d]` if `per_arch`), as
    `_arch_scorer` does on one device. Inputs and outputs are replicated, so every process of
    a multi-host run reads every result."""
    def local(params, archs, sharing, images, labels):
        d = lax.axis_index(parallel.AXIS)
        result = _score_arch(params, archs[d], sharing[d] if per_arch else sharing, images,
                             labels, cfg)
        return tuple(lax.all_gather(r, parallel.AXIS) for r in result)

    return jax.jit(jax.shard_map(local, mesh=mesh, in_specs=P(), out_specs=P(),
                                 check_vma=False))


def _eval_batches(images, labels, batch_size, num_batches):
    """The first `num_batches` full batches as device arrays `[nb, B, ...]` and `[nb, B]`."""
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 4 or images.dtype != np.uint8:
        raise DataError(f"evaluation images must be uint8 [N, H, W, C], got {images.dtype} "
                        f"{list(images.shape)}")
    if labels.shape != images.shape[:1]:
        raise DataError(f"{len(images)} evaluation images but labels of shape "
                        f"{list(labels.shape)}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(f"eval batch_size must be a positive int, got {batch_size!r}")
    available = len(images) // batch_size
    if available == 0:
        raise DataError(f"{len(images)} evaluation images do not fill one batch of {batch_size}")
    if num_batches is None:
        num_batches = available
    if not isinstance(num_batches, (int, np.integer)) or not 1 <= num_batches <= available:
        raise ConfigError(f"eval num_batches must be an int in 1..{available} ({len(images)} "
                          f"images, batch {batch_size}), got {num_batches!r}")
    n = num_batches * batch_size
    return (jax.device_put(images[:n].reshape((num_batches, batch_size) + images.shape[1:])),
            jax.device_put(labels[:n].astype(np.int32).reshape(num_batches, batch_size)))


def score_archs(params, archs, images, labels, *, cfg, sharing, batch_size=256, num_batches=None,
                progress=True, mesh=None):
    """Supernet top-1 accuracy (percent) and mean cross-entropy of each architecture.

    Args:
      params: supernet parameters (`jaxnas.supernet.nb201.init` layout).
      archs: int `[n, 6]` op arrays.
      images, labels: held-out uint8 images `[M, H, W, 3]` and int labels `[M]` (host arrays).
      cfg: the `SupernetConfig`; sharing: int `[3N, 6, 5]` sharing map, or one per architecture
        `[n, 3N, 6, 5]` (e.g. CLOSENet's gate-assigned blocks).
      batch_size: images per batch, which sets the BN statistics (see the module docstring).
      num_batches: score on the first this many batches; None = all full batches.
      progress: show a tqdm bar (with ETA) over architectures.
      mesh: spread the architectures over the devices of this mesh (`jaxnas.parallel`), each
        device scoring its own; the scores are those of one device. None: one device.

    Returns:
      dict: `acc` and `loss` float64 `[n]`, `seconds` (wall time, compilation included) and
      `images_per_arch`.
    """
    start = time.perf_counter()
    archs_to_indices(archs)  # validates shape [n, 6] and op range (ArchError)
    archs = np.asarray(archs, np.int32)
    sharing = np.asarray(sharing)
    per_arch = sharing.ndim == 4
    check_sharing(sharing, cfg.N, cfg.slots_per_cell, batched=per_arch)
    if per_arch and len(sharing) != len(archs):
        raise ConfigError(f"{len(sharing)} sharing maps for {len(archs)} architectures")
    batch_images, batch_labels = _eval_batches(images, labels, batch_size, num_batches)
    images_per_arch = int(batch_labels.size)
    params = jax.device_put(params)
    score_arch = _arch_scorer(cfg)
    pruned = prune_dead_edges(archs)
    rows = np.concatenate([pruned, sharing.reshape(len(archs), -1)], 1) if per_arch else pruned
    _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    shared = None if per_arch else jax.device_put(sharing)
    correct = np.zeros(len(first), np.int64)
    loss = np.zeros(len(first), np.float64)
    with tqdm(total=len(first), unit="arch", desc="scoring", disable=not progress) as bar:
        if mesh is not None and mesh.size > 1:
            _score_on_mesh(mesh, cfg, params, pruned[first],
                           sharing[first] if per_arch else sharing, batch_images, batch_labels,
                           correct, loss, bar)
            first = ()  # all scored
        pending = None
        for i, j in enumerate(first):
            # Dispatch arch i before reading arch i-1, so the host never leaves the device idle.
            arch_sharing = sharing[j] if per_arch else shared
            result = score_arch(params, pruned[j], arch_sharing, batch_images, batch_labels)
            if pending is not None:
                _read(pending, correct, loss, bar)
            pending = (i, result)
        if pending is not None:
            _read(pending, correct, loss, bar)
    inverse = inverse.reshape(-1)
    return {
        "acc": 100.0 * correct[inverse] / images_per_arch,
        "loss": loss[inverse] / images_per_arch,
        "seconds": time.perf_counter() - start,
        "images_per_arch": images_per_arch,
    }


def _score_on_mesh(mesh, cfg, params, archs, sharing, images, labels, correct, loss, bar):
    """Score `archs` D at a time (the last group padded with its last cell), one per device."""
    per_arch = sharing.ndim == 4
    score = _mesh_scorer(cfg, mesh, per_arch)
    params, images, labels = parallel.replicate((params, images, labels), mesh)
    shared = None if per_arch else parallel.replicate(sharing, mesh)
    n, d = len(archs), mesh.size
    pending = None
    for start in range(0, n, d):
        idx = np.minimum(np.arange(start, start + d), n - 1)
        group = parallel.replicate((archs[idx], sharing[idx] if per_arch else ()), mesh)
        result = score(params, group[0], group[1] if per_arch else shared, images, labels)
        if pending is not None:  # dispatch this group before reading the previous one
            _read_group(pending, correct, loss, bar)
        pending = (start, min(d, n - start), result)
    if pending is not None:
        _read_group(pending, correct, loss, bar)


def _read_group(pending, correct, loss, bar):
    start, size, (num_correct, sum_loss) = pending
    correct[start:start + size] = np.asarray(num_correct)[:size]
    loss[start:start + size] = np.asarray(sum_loss)[:size]
    bar.update(size)


def _read(pending, correct, loss, bar):
    """Wait for one dispatched result and store it at its position."""
    i, (num_correct, sum_loss) = pending
    correct[i], loss[i] = int(num_correct), float(sum_loss)
    bar.update(1)


def evaluation_archs(which, *, seed=0, mask=None):
    """Sorted NB201 indices of the architectures to score.

    `which` is an int N (a seeded uniform sample without replacement of N of the 6,466
    isomorphism-class representatives; the CLI default is N=200 with seed 0, the sample size of
    the Landmark paper's sparse Kendall tau), `"unique"` (all 6,466 representatives) or `"all"`
    (all 15,625 cells, isomorphic duplicates included). With a space `mask` (bool `[6, 5]`, an
    ABS-shrunk space) the same within the space: a class is represented by its first member
    inside the space, and N larger than the space's classes gives all of them.
    """
    reps = unique_indices()
    if mask is not None:
        inside = np.flatnonzero(in_space(np.arange(NUM_ARCHS), mask))
        if isinstance(which, str) and which == "all":
            return inside.astype(np.int64)
        _, first = np.unique(canonical_indices()[inside], return_index=True)
        reps = np.sort(inside[first])
    if isinstance(which, str) and which in EVAL_SETS:
        return np.array(reps if which == "unique" else np.arange(NUM_ARCHS), np.int64)
    if isinstance(which, (int, np.integer)) and not isinstance(which, bool):
        if not 1 <= which <= unique_indices().size:
            raise ConfigError(f"number of evaluation archs must be in 1..{unique_indices().size}"
                              f", got {which}")
        if which >= reps.size:
            return reps.astype(np.int64)
        sample = np.random.default_rng(seed).choice(reps, size=int(which), replace=False)
        return np.sort(sample).astype(np.int64)
    raise ConfigError(f"evaluation archs must be an int, 'unique' or 'all', got {which!r}")


def check_indices(indices):
    """`indices` as a 1-D int array of NB201 indices; ConfigError otherwise."""
    indices = np.asarray(indices)
    if indices.ndim != 1 or indices.dtype.kind not in "iu":
        raise ConfigError(f"indices must be a 1-D int array, got {indices.dtype} "
                          f"{list(indices.shape)}")
    if indices.size and (indices.min() < 0 or indices.max() >= NUM_ARCHS):
        raise ConfigError(f"indices must lie in 0..{NUM_ARCHS - 1}, got "
                          f"{indices.min()}..{indices.max()}")
    return indices


def rank_report(scores, indices, truth, seconds):
    """The ranking report of `scores` (higher = better) of the architectures `indices` against
    `truth`, a `[15625]` array in official NB201 index order (an architecture's truth is its own
    entry, so a class representative is compared with the representative's benchmark numbers).

    Returns a JSON-ready dict: the metrics of `ranking_report`, `num_archs`, `seconds`,
    `archs_per_second`, and the lists `indices` and `scores` for later re-analysis.
    """
    truth = np.asarray(truth, np.float64)
    if truth.shape != (NUM_ARCHS,):
        raise ConfigError(f"truth must be a [{NUM_ARCHS}] array in NB201 index order, got "
                          f"{list(truth.shape)}")
    report = ranking_report(scores, truth[indices])
    report.update(num_archs=int(indices.size), seconds=float(seconds),
                  archs_per_second=indices.size / seconds if seconds else None,
                  indices=[int(i) for i in indices], scores=[float(a) for a in scores])
    return report


def evaluate(params, *, cfg, sharing, images, labels, indices, truth, batch_size=256,
             num_batches=None, progress=True):
    """Score the architectures `indices` by supernet accuracy and rank them against `truth`.

    Returns `rank_report` (scores = supernet accuracy) plus `images_per_arch`, `batch_size`, and
    the per-architecture lists `supernet_acc` and `supernet_loss`.
    """
    indices = check_indices(indices)
    scores = score_archs(params, all_archs()[indices], images, labels, cfg=cfg, sharing=sharing,
                         batch_size=batch_size, num_batches=num_batches, progress=progress)
    report = rank_report(scores["acc"], indices, truth, scores["seconds"])
    report.update(images_per_arch=scores["images_per_arch"], batch_size=int(batch_size),
                  supernet_acc=report["scores"],
                  supernet_loss=[float(v) for v in scores["loss"]])
    return report
