"""Process-wide XLA settings that make the supernet fast on the CPU, applied before JAX starts.

XLA's CPU backend (jaxlib 0.10) hands every convolution to YNNPACK. For the small convolutions of
NB201 cells (16-64 channels, 8x8-32x32 maps) XLA's own Eigen convolution is faster: YNNPACK runs the
deeper stages' convolutions on one core. Removing the `individual_convolution` YNN fusion type
routes convolutions back to Eigen and leaves the rest of YNNPACK on: a paper-scale SPOS step on 2
cores went from 533 to 476 ms, mini from 18 to 16 ms (experiments/README.md, section 2).

XLA reads `XLA_FLAGS` once, when its CPU client starts, so `configure` must run before the first
JAX computation; importing `jaxnas` does it. It changes nothing when `JAXNAS_KEEP_XLA_FLAGS=1`,
when `XLA_FLAGS` already chooses YNN fusion types, when JAX has already started, or on a jaxlib
it was not measured on (XLA rejects unknown flags, so an untested version is left alone).
"""

import importlib.metadata
import os
import sys

YNN_FLAG = "--xla_cpu_experimental_ynn_fusion_type"
CPU_FLAGS = (f"{YNN_FLAG}=-individual_convolution",)
TESTED_JAXLIB = ("0.10.",)


def _jax_started():
    bridge = sys.modules.get("jax._src.xla_bridge")
    try:
        return bool(bridge and bridge.backends_are_initialized())
    except AttributeError:
        return True  # cannot tell: do not touch the flags of a running JAX


def configure(environ=None):
    """Append `CPU_FLAGS` to `XLA_FLAGS` where safe (see the module docstring); True if it did."""
    environ = os.environ if environ is None else environ
    flags = environ.get("XLA_FLAGS", "")
    if environ.get("JAXNAS_KEEP_XLA_FLAGS") == "1" or YNN_FLAG in flags or _jax_started():
        return False
    try:
        jaxlib_version = importlib.metadata.version("jaxlib")
    except importlib.metadata.PackageNotFoundError:
        return False
    if not jaxlib_version.startswith(TESTED_JAXLIB):
        return False
    environ["XLA_FLAGS"] = " ".join(filter(None, (flags, *CPU_FLAGS)))
    return True
