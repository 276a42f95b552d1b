"""jaxnas: functional JAX weight-sharing neural architecture search."""

__version__ = "0.1.0"
