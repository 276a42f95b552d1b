"""Process-wide XLA and malloc settings that make the supernet fast on the CPU, applied before JAX
starts.

XLA's CPU backend (jaxlib 0.10) hands every convolution to YNNPACK. For the small convolutions of
NB201 cells (16-64 channels, 8x8-32x32 maps) XLA's own Eigen convolution is faster: YNNPACK runs the
deeper stages' convolutions on one core. Removing the `individual_convolution` YNN fusion type
routes convolutions back to Eigen and leaves the rest of YNNPACK on: a paper-scale SPOS step on 2
cores went from 533 to 476 ms, mini from 18 to 16 ms (experiments/README.md, section 2).

XLA reads `XLA_FLAGS` once, when its CPU client starts, so `configure` must run before the first
JAX computation; importing `jaxnas` does it. It changes nothing when `JAXNAS_KEEP_XLA_FLAGS=1`,
when `XLA_FLAGS` already chooses YNN fusion types, when JAX has already started, or on a jaxlib
it was not measured on (XLA rejects unknown flags, so an untested version is left alone).

`keep_freed_memory` makes glibc's malloc reuse the large blocks XLA's CPU runtime frees after
every step instead of mapping them fresh each time (experiments/README.md, section 17): the mini
stand-alone step runs 1.3x faster at the median (1.0-1.6x a cell), bit for bit the same;
importing `jaxnas` does it.

`trim_after_compiles` hands the memory an XLA compilation freed back to the OS (glibc's malloc
keeps it otherwise): the paper-scale SPOS step's compile leaves ~450 MiB of freed memory in the
process, on top of which its first run allocates its buffers (experiments/README.md, section 2).
"""

import ctypes
import ctypes.util
import functools
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


M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's mallopt parameters (malloc.h)
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes an int: the largest it accepts
GLIBC_MALLOC_ENV = ("MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_",
                    "GLIBC_TUNABLES")


@functools.cache
def _libc_handle():
    """The C library, loaded once (`find_library` runs `ldconfig`), or None."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def _libc(name):
    """glibc's function `name`, or None (another C library, or not Linux)."""
    return getattr(_libc_handle(), name, None)


def keep_freed_memory(environ=None):
    """Serve every malloc block from the heap (`M_MMAP_MAX=0`) and keep what is freed in it up to
    2 GiB (`M_TRIM_THRESHOLD`). glibc maps blocks above its mmap threshold (at most 32 MiB) fresh
    on each request and unmaps them on free; XLA's CPU runtime frees a step's temporary buffer
    after every step (the mini stand-alone step: one 59.5 MB block), so each step faulted in and
    zeroed it again, a third of the core in the kernel. Reusing the block changes no result; the
    resident peak grows (0.1-0.2 GiB at the mini stand-alone step), and `trim_after_compiles` still
    returns a compilation's memory. Nothing with `JAXNAS_KEEP_MALLOC=1`, when the environment
    tunes glibc's malloc itself (`GLIBC_MALLOC_ENV`), or without glibc. True if it did."""
    environ = os.environ if environ is None else environ
    mallopt = _libc("mallopt")
    if (environ.get("JAXNAS_KEEP_MALLOC") == "1" or mallopt is None
            or any(name in environ for name in GLIBC_MALLOC_ENV)):
        return False
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
TRIM_MIN_SECONDS = 0.5  # shorter compiles leave little to hand back
_trim = {"registered": False}


def _malloc_trim():
    """glibc's `malloc_trim`, or None (another C library, or not Linux)."""
    return _libc("malloc_trim")


def trim_after_compiles(environ=None):
    """After every XLA compilation of at least `TRIM_MIN_SECONDS`, return the memory it freed to
    the OS (`malloc_trim(0)`), before the compiled program first runs: the process's peak is then
    the larger of the compiler's and the program's, not their sum. Once per process; nothing with
    `JAXNAS_TRIM_AFTER_COMPILE=0` or without glibc. True if the hook is (now) registered."""
    environ = os.environ if environ is None else environ
    if _trim["registered"]:
        return True
    trim = _malloc_trim()
    if environ.get("JAXNAS_TRIM_AFTER_COMPILE") == "0" or trim is None:
        return False
    import jax  # here: the top package imports no JAX eagerly

    jax.monitoring.register_event_duration_secs_listener(compile_listener(trim))
    _trim["registered"] = True
    return True


def compile_listener(trim):
    """The `jax.monitoring` duration listener that calls `trim(0)` after a long compile."""
    def listener(event, duration, **_):
        if event == COMPILE_EVENT and duration >= TRIM_MIN_SECONDS:
            trim(0)
    return listener
