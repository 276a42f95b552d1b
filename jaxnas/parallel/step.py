"""The train step on a mesh: global-batch BN by default, per-device BN with `shard_map`.

`jit_on_mesh(train_step, mesh)` jits the unchanged step with the state and step arguments
replicated and the batch split over the mesh (`in_shardings`/`out_shardings`). XLA partitions
the computation; every reduction over the batch, BN's mean and variance included, is then a
reduction over the *global* batch (XLA inserts the all-reduces), so the step computes what one
device would (up to float summation order). The sampled architecture comes from the state's
key inside the step: a replicated value, the same on every device by construction.

`per_device_forward(forward, mesh)` wraps a run's forward in `jax.shard_map`: each device runs
it on its own shard of the batch, so BN normalises with per-device statistics (PyTorch DDP
without SyncBN). Only the forward is per-device; augmentation, the loss mean over the global
batch, the gradient (summed over devices by `shard_map`'s transpose) and the update stay global.
"""

import jax
from jax.sharding import PartitionSpec as P

from jaxnas.parallel.mesh import AXIS, batch_sharding, replicated


def per_device_forward(forward, mesh):
    """`forward(params, arch, x, key, step_args)` with BN statistics of each device's shard of
    `x`; everything else is replicated. Every batch the forward sees (also a loss term's own,
    through `ctx.forward`) must split evenly over the mesh."""
    return jax.shard_map(forward, mesh=mesh, in_specs=(P(), P(), P(AXIS), P(), P()),
                         out_specs=P(AXIS), check_vma=False)


def jit_on_mesh(train_step, mesh):
    """`jax.jit(train_step)` for `(state, images, labels, step_args) -> (state, metrics)` with
    the state donated and replicated, the batch split over `mesh`, the outputs replicated."""
    rep, batch = replicated(mesh), batch_sharding(mesh)
    return jax.jit(train_step, in_shardings=(rep, batch, batch, rep), out_shardings=(rep, rep),
                   donate_argnums=(0,))
