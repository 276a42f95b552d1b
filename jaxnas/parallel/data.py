"""Each process's shard of every global batch, assembled into one array over the mesh.

Every process holds the dataset (CIFAR-10 is 184 MB of uint8) and draws the same seeded epoch
order (`jaxnas.data.epoch_permutation`), so the global batch is the single-process one; each
process then gathers only the rows its own devices hold and hands them to
`jax.make_array_from_process_local_data`, which forms the global array without any transfer
between hosts. The run's data order therefore does not depend on the number of devices or
processes (a run resumed on another device count reads the same batches).
"""

import jax
import numpy as np

from jaxnas.data import batches, epoch_permutation, num_batches
from jaxnas.errors import DataError
from jaxnas.parallel.mesh import batch_sharding


def process_rows(mesh, batch_size):
    """The slice of rows of a global batch of `batch_size` that this process's devices hold
    (contiguous: the mesh lists devices process by process)."""
    sharding = batch_sharding(mesh)
    starts = sorted({idx[0].start or 0 for idx in
                     sharding.addressable_devices_indices_map((batch_size,)).values()})
    per_device = batch_size // mesh.size
    rows = slice(starts[0], starts[-1] + per_device)
    if rows.stop - rows.start != per_device * len(starts):
        raise DataError("this process's devices do not hold a contiguous part of the batch")
    return rows


def to_global(mesh, batch_size, *arrays):
    """Global arrays over `mesh` (split on the first axis) from this process's rows of each."""
    sharding = batch_sharding(mesh)
    return tuple(jax.make_array_from_process_local_data(
        sharding, a, (batch_size,) + a.shape[1:]) for a in arrays)


def sharded_batches(images, labels, batch_size, *, seed, epoch, mesh, start=0):
    """`jaxnas.data.batches` as global arrays over `mesh`, each process reading only its rows.

    Yields `(images, labels)` of the global shape `[batch_size, ...]`, split over the mesh;
    with `mesh=None`, `jaxnas.data.batches` itself (host arrays, the single-device path).
    """
    if mesh is None:
        return batches(images, labels, batch_size, seed=seed, epoch=epoch, start=start)
    return _sharded(images, labels, batch_size, seed, epoch, mesh, start)


def _sharded(images, labels, batch_size, seed, epoch, mesh, start):
    if len(images) != len(labels):
        raise DataError(f"{len(images)} images but {len(labels)} labels")
    rows = process_rows(mesh, batch_size)
    order = epoch_permutation(len(images), seed=seed, epoch=epoch)
    for b in range(start, num_batches(len(images), batch_size)):
        idx = order[b * batch_size:(b + 1) * batch_size][rows]
        yield to_global(mesh, batch_size, images[idx], np.asarray(labels[idx]))
