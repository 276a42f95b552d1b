"""Several processes (hosts) as one JAX runtime: `jax.distributed.initialize` from the config.

Every process runs the same command; `config.parallel` (or the environment) says where the
coordinator is, how many processes there are and which one this is. After `initialize`,
`jax.devices()` lists the devices of every process and the mesh spans them all; each process
feeds its own devices (`jaxnas.parallel.data`). JAX carries the collectives (NCCL on GPUs, ICI
on TPUs, gloo on CPUs); jaxnas builds none of its own.

Sources, first match wins:
  * `parallel.coordinator = "host:port"` with `parallel.num_processes` and `parallel.process_id`;
  * `parallel.coordinator = "auto"`: JAX's cluster detection (Cloud TPU pods, SLURM, Open MPI);
  * the environment: `JAX_COORDINATOR_ADDRESS`, `JAX_NUM_PROCESSES`, `JAX_PROCESS_ID`;
  * none of these: one process (nothing is initialised).
"""

import os

import jax

from jaxnas.errors import ConfigError

ENV = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")


def _settings(block, environ):
    coordinator = block.get("coordinator", "") if block is not None else ""
    if coordinator == "auto":
        return {}
    if coordinator:
        return dict(coordinator_address=coordinator, num_processes=block.num_processes,
                    process_id=block.process_id)
    if environ.get(ENV[0]):
        try:
            return dict(coordinator_address=environ[ENV[0]],
                        num_processes=int(environ[ENV[1]]), process_id=int(environ[ENV[2]]))
        except (KeyError, ValueError) as e:
            raise ConfigError(f"{ENV[0]} is set, so {ENV[1]} and {ENV[2]} must be integers "
                              f"({e})") from None
    return None


def initialize(config, environ=None):
    """Join the processes of a multi-host run (see the module docstring); a no-op for one
    process or when already initialised. Call before anything else touches JAX.

    Returns `(process_index, process_count)`.
    """
    environ = os.environ if environ is None else environ
    block = config.get("parallel") if hasattr(config, "get") else None
    settings = _settings(block, environ)
    if settings is not None and not jax.distributed.is_initialized():
        n, i = settings.get("num_processes"), settings.get("process_id")
        if n is not None and (not isinstance(n, int) or n < 1 or not isinstance(i, int)
                              or not 0 <= i < n):
            raise ConfigError(f"parallel.process_id must be in 0..num_processes-1, got "
                              f"process_id={i!r}, num_processes={n!r}")
        jax.distributed.initialize(**settings)
    return jax.process_index(), jax.process_count()


def is_primary():
    """Whether this process writes the run's files (logs, config, metrics): process 0."""
    return jax.process_index() == 0
