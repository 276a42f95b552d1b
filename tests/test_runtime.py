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

