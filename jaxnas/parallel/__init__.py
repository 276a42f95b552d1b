"""Data parallelism over devices and hosts, with JAX's own runtime as the engine.

  * `mesh`: the 1-D device mesh (axis `"data"`), replicated and batch shardings.
  * `step`: the train step on a mesh (global-batch BN under `jit`; per-device BN by
    `shard_map`); `jaxnas.train.step.make_train_step(..., mesh=, batch_norm=)` uses it.
  * `data`: each process's rows of every global batch, assembled into one global array.
  * `distributed`: `jax.distributed.initialize` from `config.parallel` or the environment.

Scoring spreads architectures over the mesh (`jaxnas.evaluate.scoring.score_archs(mesh=...)`).
"""

from jaxnas.parallel.data import process_rows, sharded_batches, to_global
from jaxnas.parallel.distributed import initialize, is_primary
from jaxnas.parallel.mesh import (AXIS, BATCH_NORM, batch_sharding, check_batch,
                                  check_batch_norm, make_mesh, mesh_for, replicate, replicated)
from jaxnas.parallel.step import jit_on_mesh, per_device_forward

__all__ = ["AXIS", "BATCH_NORM", "batch_sharding", "check_batch", "check_batch_norm",
           "initialize", "is_primary", "jit_on_mesh", "make_mesh", "mesh_for",
           "per_device_forward", "process_rows", "replicate", "replicated", "sharded_batches",
           "to_global"]
