"""jaxnas: functional JAX weight-sharing neural architecture search."""

from jaxnas import runtime as _runtime

_runtime.configure()
_runtime.keep_freed_memory()

__version__ = "0.1.0"


def open(workdir, **kwargs):  # noqa: A001  (the verb users expect: jaxnas.open(W))
    """Open a stored run at its newest checkpoint (`jaxnas.train.open_run.open_run`)."""
    from jaxnas.train.open_run import open_run  # the top package imports no layer eagerly

    return open_run(workdir, **kwargs)
