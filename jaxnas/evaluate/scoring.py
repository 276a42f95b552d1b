"""Score architectures with a trained supernet and rank them against the benchmark.

Every architecture is scored on the SAME held-out images: the first `num_batches` batches of
`batch_size` images in their given order (no shuffling, no augmentation; an incomplete last batch
is dropped). Batch norm normalises with the statistics of the current batch (as the reference
supernets do at evaluation, without recalibration), so a score depends on the batch size and on
which images share a batch: compare scores only at equal `batch_size` and images (the Landmark
code evaluates with batches of 256).

How cells are scored (`score_archs`): cells that prune to the same cell (`prune_dead_edges`) and
read the same sharing map are scored once. The distinct cells are sorted and scored in groups of
up to `GROUP_SIZE` per compiled call, which scans over the batches (the evaluation images are put
on the device once) and, per batch, over the group's cells. Work that does not depend on the cell
runs once per batch for the whole group: the stem, and (one sharing map for all cells, groups of
at least `TABLE_MIN_GROUP`) `supernet.first_cell_table`, every value the edges of stage 1's first
cell can output but edge (3,2)'s, whose convolutions of one input with several edges' weights run
as one wider and more efficient convolution. Edge (3,2) is carried over from the previous cell of
the group when its input and op are the same (the sort makes such cells adjacent). Each cell then
runs the rest of its network with `lax.switch` edges, so only its own ops run (`vmap` over cells
would turn the switch into a select that runs all five ops). Scores equal those of one call per
cell (the `legacy` path, kept as the reference) up to float summation order: losses within 1e-5.
Throughput, old path against new: `experiments/bench_scoring.py`.
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
from jaxnas.spaces.nb201 import (NUM_ARCHS, archs_to_indices, canonical_indices,
                                 in_space, unique_indices)
from jaxnas.evaluate import scoring_darts
from jaxnas.supernet import darts as darts_supernet
from jaxnas.supernet import nb201 as supernet
from jaxnas.supernet.pools import check_sharing

EVAL_SETS = ("unique", "all")
GROUP_SIZE = 256  # distinct cells per compiled scoring call (`score_archs`)
# Smallest group that computes the first-cell table: the table costs ~11 convolutions per batch,
# each cell saves up to 5 (a group of 8 paper-scale cells was 7% slower with it).
TABLE_MIN_GROUP = 16
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


def _stats(logits, labels):
    """(number of correct top-1 predictions, summed cross-entropy) of one batch's logits."""
    log_probs = jax.nn.log_softmax(logits)
    correct = jnp.sum(jnp.argmax(logits, axis=-1) == labels, dtype=jnp.int32)
    loss = -jnp.sum(jnp.take_along_axis(log_probs, labels[:, None], axis=1))
    return correct, loss


def _batch_stats(params, arch, sharing, images, labels, cfg):
    """(number of correct top-1 predictions, summed cross-entropy) of one uint8 batch."""
    return _stats(supernet.apply(params, arch, normalize(images), sharing, cfg=cfg), labels)


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
    summed over the batches: one dispatch per architecture (the `legacy` path of `score_archs`,
    kept as the reference the grouped path is tested against)."""
    return jax.jit(functools.partial(_score_arch, cfg=cfg))


def _score_group(params, group, sharing, images, labels, cfg):
    """(correct `[K]`, summed loss `[K]`) of a group of K cells over the batches `[nb, B, ...]`.

    `group` holds host-made arrays (`_group_arrays`): `archs` `[K, 6]`, `rows` `[K, 5]`
    (`supernet.first_cell_rows`), `fresh` `[K]` (the cell's edge (3,2) of stage 1's first cell
    differs from the previous cell's, so it is computed rather than carried over) and `valid`
    `[K]` (False: padding, not scored). Per batch the stem runs once for the group and, with one
    sharing map `[3N, 6, 5]` and at least `TABLE_MIN_GROUP` cells, so does
    `supernet.first_cell_table`; each cell then runs the rest of its network (the same forward
    and per-batch BN statistics as `apply`). With per-cell maps `[K, 3N, 6, 5]` or fewer cells
    only the stem is shared. Sums over batches run in batch order, as
    `_score_arch`'s.
    """
    archs, rows, fresh, valid = group["archs"], group["rows"], group["fresh"], group["valid"]
    per_arch = sharing.ndim == 4
    num = archs.shape[0]
    use_table = not per_arch and num >= TABLE_MIN_GROUP

    def batch(totals, xy):
        x, y = xy
        x0 = supernet.stem(params, normalize(x))
        table = supernet.first_cell_table(params, x0, sharing) if use_table else None

        def cell(last, k):
            if not use_table:
                cell_sharing = sharing[k] if per_arch else sharing
                logits = supernet.apply_cells(params, archs[k], x0, cell_sharing, cfg=cfg)
                return last, _stats(logits, y)
            # Only node 2 enters the conditional: passing the table would copy it per cell.
            node2 = supernet.first_cell_node2(table, rows[k])
            last = lax.cond(fresh[k], lambda: supernet.first_cell_last_edge(
                params, archs[k, 5], node2, sharing, cfg=cfg), lambda: last)
            h = supernet.first_cell_output(table, rows[k], last)
            logits = supernet.apply_cells(params, archs[k], h, sharing, cfg=cfg, start=1)
            return last, _stats(logits, y)

        def maybe(last, k):
            return lax.cond(valid[k], cell, lambda last, k: (last, (jnp.int32(0), jnp.float32(0))),
                            last, k)

        correct, loss = lax.scan(maybe, jnp.zeros_like(x0), jnp.arange(num))[1]
        return (totals[0] + correct, totals[1] + loss), None

    zeros = (jnp.zeros(num, jnp.int32), jnp.zeros(num, jnp.float32))
    return lax.scan(batch, zeros, (images, labels))[0]


@functools.lru_cache(maxsize=8)
def _group_scorer(cfg):
    """Jitted `_score_group`: one compilation per group size and sharing layout, cached so that
    repeated evaluations during training reuse it."""
    return jax.jit(functools.partial(_score_group, cfg=cfg))


@functools.lru_cache(maxsize=8)
def _mesh_scorer(cfg, mesh):
    """Jitted `(params, groups, sharing, images, labels) -> (correct [D, K], loss [D, K])` over
    the D devices of `mesh`: device d scores group d (`groups` arrays `[D, K, ...]`, per-cell
    `sharing` `[D, K, ...]`), as `_group_scorer` does on one device. Inputs and outputs are
    replicated, so every process of a multi-host run reads every result."""
    def local(params, groups, sharing, images, labels):
        d = lax.axis_index(parallel.AXIS)
        group = jax.tree.map(lambda a: a[d], groups)
        result = _score_group(params, group, sharing[d] if sharing.ndim == 5 else sharing,
                              images, labels, cfg)
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
                progress=True, mesh=None, group_size=GROUP_SIZE, legacy=False):
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
        device scoring its own group; the scores are those of one device. None: one device.
      group_size: distinct cells per compiled call (fewer if there are fewer cells): they share
        the stem and stage 1's first-cell table per batch (see the module docstring).
      legacy: one call per cell, nothing shared, one device: the former path, kept as the
        reference that tests and `experiments/bench_scoring.py` compare against.

    Returns:
      dict: `acc` and `loss` float64 `[n]`, `seconds` (wall time, compilation included) and
      `images_per_arch`.

    A DARTS `cfg` (`jaxnas.supernet.darts.SupernetConfig`, genotypes `[n, 28]`, sharing
    `[layers, 14, 8]` or one per genotype) is scored by `scoring_darts.score_archs` on the same
    batches (one device; `mesh`, `group_size` and `legacy` are NB201's).
    """
    if isinstance(cfg, darts_supernet.SupernetConfig):
        batches = _eval_batches(images, labels, batch_size, num_batches)
        return scoring_darts.score_archs(params, archs, batches, cfg=cfg, sharing=sharing,
                                         progress=progress)
    start = time.perf_counter()
    archs_to_indices(archs)  # validates shape [n, 6] and op range (ArchError)
    archs = np.asarray(archs, np.int32)
    sharing = np.asarray(sharing)
    per_arch = sharing.ndim == 4
    check_sharing(sharing, cfg.N, cfg.slots_per_cell, batched=per_arch)
    if per_arch and len(sharing) != len(archs):
        raise ConfigError(f"{len(sharing)} sharing maps for {len(archs)} architectures")
    if not isinstance(group_size, (int, np.integer)) or group_size < 1:
        raise ConfigError(f"group_size must be a positive int, got {group_size!r}")
    batch_images, batch_labels = _eval_batches(images, labels, batch_size, num_batches)
    images_per_arch = int(batch_labels.size)
    params = jax.device_put(params)
    pruned = prune_dead_edges(archs)
    rows = np.concatenate([pruned, sharing.reshape(len(archs), -1)], 1) if per_arch else pruned
    _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    correct = np.zeros(len(first), np.int64)
    loss = np.zeros(len(first), np.float64)
    data = (params, batch_images, batch_labels)
    with tqdm(total=len(first), unit="arch", desc="scoring", disable=not progress) as bar:
        if legacy:
            _score_one_by_one(cfg, data, pruned[first], sharing[first] if per_arch else sharing,
                              correct, loss, bar)
        else:
            _score_in_groups(cfg, data, pruned[first], sharing[first] if per_arch else sharing,
                             group_size, mesh, correct, loss, bar)
    inverse = inverse.reshape(-1)
    return {
        "acc": 100.0 * correct[inverse] / images_per_arch,
        "loss": loss[inverse] / images_per_arch,
        "seconds": time.perf_counter() - start,
        "images_per_arch": images_per_arch,
    }


def _score_one_by_one(cfg, data, archs, sharing, correct, loss, bar):
    """The legacy path: one dispatch per cell, the next dispatched before the previous is read."""
    params, images, labels = data
    score_arch = _arch_scorer(cfg)
    per_arch = sharing.ndim == 4
    shared = None if per_arch else jax.device_put(sharing)
    pending = None
    for i, arch in enumerate(archs):
        result = score_arch(params, arch, sharing[i] if per_arch else shared, images, labels)
        if pending is not None:
            _store(pending, correct, loss, bar)
        pending = (np.array([i]), result)
    if pending is not None:
        _store(pending, correct, loss, bar)


def _group_order(archs):
    """Indices of `archs` sorted so that cells sharing stage 1's first-cell edge (3,2) (ops of
    edges 0, 1, 2 and 5) are adjacent: a group computes that edge once per run of them."""
    a = np.asarray(archs)
    return np.lexsort((a[:, 4], a[:, 3], a[:, 5], a[:, 2], a[:, 1], a[:, 0]))


def _group_arrays(archs, idx):
    """The `_score_group` arrays of the cells `archs[idx]` (idx padded with -1 entries)."""
    valid = idx >= 0
    fill = idx[valid][-1] if valid.any() else 0  # padding repeats the last cell
    a = archs[np.where(valid, idx, fill)]
    key = a[:, [0, 1, 2, 5]]
    fresh = np.concatenate([[True], np.any(key[1:] != key[:-1], axis=1)])
    return {"archs": a, "rows": supernet.first_cell_rows(a), "fresh": fresh, "valid": valid}


def _group_size(n, group_size):
    """Cells per call: `group_size`, or the power of two >= n when fewer (few compilations)."""
    return min(group_size, 1 << max(0, int(n - 1).bit_length()))


def _score_in_groups(cfg, data, archs, sharing, group_size, mesh, correct, loss, bar):
    """Score `archs` in groups of `_group_size` cells (one group per device of `mesh`), in
    `_group_order`; the next call is dispatched before the previous result is read."""
    params, images, labels = data
    per_arch = sharing.ndim == 4
    devices = mesh.size if mesh is not None and mesh.size > 1 else 1
    k = _group_size(-(-len(archs) // devices), group_size)
    order = _group_order(archs)
    order = np.concatenate([order, np.full(-len(order) % (k * devices), -1)])
    if devices > 1:
        score = _mesh_scorer(cfg, mesh)
        params, images, labels = parallel.replicate((params, images, labels), mesh)
        put = functools.partial(parallel.replicate, mesh=mesh)
    else:
        score, put = _group_scorer(cfg), jax.device_put
    shared = None if per_arch else put(sharing)
    pending = None
    for start in range(0, len(order), k * devices):
        idx = order[start:start + k * devices].reshape(devices, k)
        groups = [_group_arrays(archs, i) for i in idx]
        group = jax.tree.map(lambda *g: np.stack(g) if devices > 1 else g[0], *groups)
        maps = sharing[np.maximum(idx, 0)] if per_arch else None
        if per_arch and devices == 1:
            maps = maps[0]
        result = score(params, put(group), shared if maps is None else put(maps), images,
                       labels)
        if pending is not None:
            _store(pending, correct, loss, bar)
        pending = (idx.reshape(-1), result)
    if pending is not None:
        _store(pending, correct, loss, bar)


def _store(pending, correct, loss, bar):
    """Wait for one dispatched result and store its valid entries at their cells' positions."""
    idx, (num_correct, sum_loss) = pending
    valid = idx >= 0
    correct[idx[valid]] = np.asarray(num_correct).reshape(-1)[valid]
    loss[idx[valid]] = np.asarray(sum_loss).reshape(-1)[valid]
    bar.update(int(valid.sum()))


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
