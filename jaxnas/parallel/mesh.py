"""The data-parallel device mesh and its shardings.

One mesh axis, `"data"`, over the devices that train (`parallel.num_devices`; 0 = every device
of every process). The train state and everything the step reads besides the batch are
replicated; the batch is split along its first axis. This is the layout of JAX's sharding guide
and big_vision (`NamedSharding(mesh, P("data"))` for the batch, `P()` for the state).
"""

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jaxnas.errors import ConfigError

AXIS = "data"
BATCH_NORM = ("global", "per_device")


def make_mesh(num_devices=0, devices=None):
    """A 1-D mesh over the first `num_devices` of `devices` (default `jax.devices()`; 0 = all).

    With several processes the mesh must span every device: each process feeds its own devices.
    """
    devices = list(jax.devices() if devices is None else devices)
    if not isinstance(num_devices, int) or isinstance(num_devices, bool) or num_devices < 0:
        raise ConfigError(f"parallel.num_devices must be an int >= 0 (0 = all), got "
                          f"{num_devices!r}")
    n = num_devices or len(devices)
    if n > len(devices):
        raise ConfigError(f"parallel.num_devices={n}, but only {len(devices)} "
                          f"{devices[0].platform.upper()} devices are visible")
    if jax.process_count() > 1 and n != len(devices):
        raise ConfigError(f"with {jax.process_count()} processes the mesh spans every device: "
                          f"set parallel.num_devices=0 (got {n} of {len(devices)})")
    return Mesh(np.asarray(devices[:n]), (AXIS,))


def mesh_for(config, *, at_most_visible=False):
    """The mesh of `config.parallel` (checked), or None when it has a single device (the plain,
    single-device code path, bit-identical to a run without this package).

    `at_most_visible`: use the visible devices when the config asks for more (scoring a run on
    another machine than the one that trained it).
    """
    block = config.get("parallel") if hasattr(config, "get") else None
    if block is not None:
        check_batch_norm(block.batch_norm)
    n = block.num_devices if block is not None else 0
    if at_most_visible and isinstance(n, int) and jax.process_count() == 1:
        n = min(n, jax.device_count())
    mesh = make_mesh(n)
    return mesh if mesh.size > 1 else None


def check_batch_norm(batch_norm):
    if batch_norm not in BATCH_NORM:
        raise ConfigError(f"parallel.batch_norm must be one of {BATCH_NORM}, got {batch_norm!r}")
    return batch_norm


def replicated(mesh):
    """Every device holds the whole array (the train state, step arguments, eval images)."""
    return NamedSharding(mesh, P())


def batch_sharding(mesh):
    """The first axis split over the mesh's devices (the training batch)."""
    return NamedSharding(mesh, P(AXIS))


def replicate(tree, mesh):
    """`tree` placed, whole, on every device of `mesh` (a no-op for arrays already there, and
    for `mesh=None`, the single-device path).

    Host values must be the same in every process (they are: every process runs the same
    program on the same seeds).
    """
    return tree if mesh is None else jax.device_put(tree, replicated(mesh))


def check_batch(batch_size, mesh, what="train.batch_size"):
    """ConfigError unless the global `batch_size` splits evenly over `mesh`; the per-device
    batch."""
    n = 1 if mesh is None else mesh.size
    if batch_size % n:
        raise ConfigError(f"{what}={batch_size} does not split over {n} devices; use a "
                          f"multiple of {n}")
    return batch_size // n
