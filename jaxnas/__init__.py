"""jaxnas: functional JAX weight-sharing neural architecture search."""

from jaxnas import runtime as _runtime

_runtime.configure()

__version__ = "0.1.0"
