"""Score DARTS genotypes with a trained DARTS supernet (`score_archs` routes here by `cfg`).

The same protocol as NB201's scorer (`jaxnas.evaluate.scoring`): every genotype on the same
first `num_batches` batches of `batch_size` held-out images, in order, BN with the statistics of
the current batch. What differs: NB201's dead-edge pruning has no counterpart (every node of a
DARTS genotype feeds the output), so only identical genotypes (the encoding is already the
canonical form: a node's two inputs are unordered) are scored once; and each genotype is one
dispatch of one jitted call that scans over the batches (`arch` and `sharing` are runtime
arrays: one compilation serves any set of genotypes and sharing maps). One device.
"""

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from tqdm.auto import tqdm

from jaxnas.data import normalize
from jaxnas.errors import ConfigError
from jaxnas.spaces.darts import SPACE
from jaxnas.supernet import darts as supernet


def _score_arch(params, arch, sharing, images, labels, cfg):
    """(correct, summed cross-entropy) of one genotype over the batches `[nb, B, ...]`."""
    def body(totals, batch):
        x, y = batch
        logits = supernet.apply(params, arch, normalize(x), sharing, cfg=cfg)
        log_probs = jax.nn.log_softmax(logits)
        correct = jnp.sum(jnp.argmax(logits, axis=-1) == y, dtype=jnp.int32)
        loss = -jnp.sum(jnp.take_along_axis(log_probs, y[:, None], axis=1))
        return (totals[0] + correct, totals[1] + loss), None

    return lax.scan(body, (jnp.int32(0), jnp.float32(0.0)), (images, labels))[0]


@functools.lru_cache(maxsize=8)
def arch_scorer(cfg):
    """Jitted `(params, arch [28], sharing [layers, 14, 8], images [nb, B, ...] uint8,
    labels [nb, B]) -> (correct, summed loss)`."""
    return jax.jit(functools.partial(_score_arch, cfg=cfg))


def score_archs(params, archs, batches, *, cfg, sharing, progress=True):
    """Supernet accuracy (percent) and mean loss of DARTS genotypes `archs` `[n, 28]`.

    `batches`: device arrays `(images [nb, B, H, W, 3] uint8, labels [nb, B])`; `sharing`: one
    map `[layers, 14, 8]` or one per genotype `[n, layers, 14, 8]`. Returns the dict of
    `jaxnas.evaluate.scoring.score_archs`."""
    start = time.perf_counter()
    archs = SPACE.check(archs)
    sharing = np.asarray(sharing)
    per_arch = sharing.ndim == 4
    if per_arch:
        if len(sharing) != len(archs):
            raise ConfigError(f"{len(sharing)} sharing maps for {len(archs)} architectures")
        for m in sharing:
            supernet.check_sharing(m, cfg)
        rows = np.concatenate([archs, sharing.reshape(len(archs), -1)], 1)
    else:
        supernet.check_sharing(sharing, cfg)
        rows = archs
    _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    images, labels = batches
    images_per_arch = int(labels.size)
    params = jax.device_put(params)
    shared = None if per_arch else jax.device_put(sharing)
    score = arch_scorer(cfg)
    correct = np.zeros(len(first), np.int64)
    loss = np.zeros(len(first), np.float64)
    pending = None
    with tqdm(total=len(first), unit="arch", desc="scoring", disable=not progress) as bar:
        for i, row in enumerate(first):  # dispatch the next before reading the previous
            maps = jax.device_put(sharing[row]) if per_arch else shared  # one call signature
            result = score(params, archs[row], maps, images, labels)
            if pending is not None:
                _store(pending, correct, loss, bar)
            pending = (i, result)
        if pending is not None:
            _store(pending, correct, loss, bar)
    inverse = inverse.reshape(-1)
    return {"acc": 100.0 * correct[inverse] / images_per_arch,
            "loss": loss[inverse] / images_per_arch,
            "seconds": time.perf_counter() - start,
            "images_per_arch": images_per_arch}


def _store(pending, correct, loss, bar):
    i, (num_correct, sum_loss) = pending
    correct[i], loss[i] = int(num_correct), float(sum_loss)
    bar.update(1)
