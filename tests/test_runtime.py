"""The CPU XLA flags jaxnas sets on import: added only where safe, never clobbering the user's."""

import pytest

from jaxnas import runtime


@pytest.fixture
def fresh_jax(monkeypatch):
    """Pretend JAX has not started yet (in the test process it has)."""
    monkeypatch.setattr(runtime, "_jax_started", lambda: False)
    monkeypatch.setattr(runtime.importlib.metadata, "version", lambda name: "0.10.2")


def test_flags_added_after_the_users_own(fresh_jax):
    env = {"XLA_FLAGS": "--xla_cpu_enable_fast_math=false"}
    assert runtime.configure(env)
    assert env["XLA_FLAGS"].split() == ["--xla_cpu_enable_fast_math=false", *runtime.CPU_FLAGS]


@pytest.mark.parametrize("env", [
    {"JAXNAS_KEEP_XLA_FLAGS": "1"},
    {"XLA_FLAGS": "--xla_cpu_experimental_ynn_fusion_type=individual_dot"},
])
def test_users_choice_is_kept(fresh_jax, env):
    before = dict(env)
    assert not runtime.configure(env)
    assert env == before


def test_untested_jaxlib_and_started_jax_are_left_alone(monkeypatch):
    import jax

    jax.numpy.zeros(1).block_until_ready()  # JAX has started: too late for flags
    env = {}
    assert not runtime.configure(env)
    monkeypatch.setattr(runtime, "_jax_started", lambda: False)
    monkeypatch.setattr(runtime.importlib.metadata, "version", lambda name: "0.11.0")
    assert not runtime.configure(env) and env == {}


def test_compile_listener_trims_after_long_compiles_only():
    calls = []
    listener = runtime.compile_listener(calls.append)
    listener(runtime.COMPILE_EVENT, runtime.TRIM_MIN_SECONDS / 2, fun_name="small")
    listener("/jax/some/other/event", 10.0)
    assert calls == []
    listener(runtime.COMPILE_EVENT, runtime.TRIM_MIN_SECONDS, fun_name="step")
    assert calls == [0]


def test_trim_hook_respects_opt_out_and_registers_once(monkeypatch):
    import jax

    monkeypatch.setattr(runtime, "_trim", {"registered": False})
    registered = []
    monkeypatch.setattr(jax.monitoring, "register_event_duration_secs_listener",
                        registered.append)
    assert not runtime.trim_after_compiles({"JAXNAS_TRIM_AFTER_COMPILE": "0"})
    assert registered == []
    monkeypatch.setattr(runtime, "_malloc_trim", lambda: None)  # not glibc
    assert not runtime.trim_after_compiles({}) and registered == []
    monkeypatch.setattr(runtime, "_malloc_trim", lambda: lambda pad: 1)
    assert runtime.trim_after_compiles({}) and runtime.trim_after_compiles({})
    assert len(registered) == 1


@pytest.mark.parametrize("env", [{"JAXNAS_KEEP_MALLOC": "1"}, {"MALLOC_MMAP_MAX_": "65536"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}])
def test_malloc_left_alone_when_the_user_chose(monkeypatch, env):
    calls = []
    monkeypatch.setattr(runtime, "_libc", lambda name: lambda *a: calls.append(a) or 1)
    assert not runtime.keep_freed_memory(env) and calls == []
    monkeypatch.setattr(runtime, "_libc", lambda name: None)  # not glibc
    assert not runtime.keep_freed_memory({})


MMAPPED_BYTES = """
import ctypes
import jaxnas, numpy as np
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena ordblks smblks hblks hblkhd usmblks "
                                                  "fsmblks uordblks fordblks keepcost").split()]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
block = np.ones(64 << 20, np.uint8)  # above glibc's largest mmap threshold (32 MiB)
print(libc.mallinfo2().hblkhd)
"""


@pytest.mark.parametrize("keep", ["0", "1"])
def test_large_blocks_come_from_the_heap_after_import(keep):
    """With jaxnas imported, a 64 MiB block is not mmapped (glibc's `mallinfo2().hblkhd`: bytes
    in mmapped blocks), so freeing it keeps it for the next step; `JAXNAS_KEEP_MALLOC=1` leaves
    glibc mapping it."""
    import ctypes
    import os
    import subprocess
    import sys

    try:
        ctypes.CDLL("libc.so.6").mallinfo2  # noqa: B018 (glibc >= 2.33)
    except (OSError, AttributeError):
        pytest.skip("needs glibc's mallinfo2")
    env = {k: v for k, v in os.environ.items() if k not in runtime.GLIBC_MALLOC_ENV}
    out = subprocess.run([sys.executable, "-c", MMAPPED_BYTES], capture_output=True, text=True,
                         env={**env, "JAXNAS_KEEP_MALLOC": keep}, check=True)
    mmapped = int(out.stdout.split()[-1])
    assert (mmapped >= 64 << 20) if keep == "1" else (mmapped < 64 << 20)
