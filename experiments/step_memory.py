"""Resident memory of a process around the SPOS train step's compile and first runs.

Builds the step as `experiments/bench_step.py`'s jaxnas worker does (SPOS, batch 64), then
records the process's resident set (RSS) and its peak so far (HWM, what `ru_maxrss` reports) after
building the recipe, after compiling the step (`lower().compile()`), after `malloc_trim(0)` (what
`jaxnas.runtime.trim_after_compiles` runs after each long compile), after the first step and
after three more, and XLA's own figures for the compiled step (`memory_analysis()`). Run with
`JAXNAS_TRIM_AFTER_COMPILE=0` to keep jaxnas's hook from trimming as well.

    PYTHONPATH=. python experiments/step_memory.py --scale paper \
        --out experiments/results/step_memory_paper.json
"""

import argparse
import ctypes
import json
import os
import sys
import time

import jax

import bench_step


def rss_mib():
    """(current RSS, peak RSS) of this process in MiB (Linux /proc)."""
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return tuple(int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", choices=tuple(bench_step.SCALES), default="paper")
    p.add_argument("--out")
    args = p.parse_args()
    phases = []

    def phase(name):
        rss, hwm = rss_mib()
        phases.append(dict(phase=name, rss_mib=rss, peak_mib=hwm))
        print(f"{name:32s} RSS {rss:7.0f} MiB  peak {hwm:7.0f} MiB", flush=True)

    phase("imported")
    step, state, step_args, _ = bench_step.jax_step(args.scale, [])
    jax.block_until_ready(state)
    x, y = jax.device_put(bench_step.images(args.scale, bench_step.BATCH))
    phase("recipe built")
    start = time.perf_counter()
    compiled = step.lower(state, x, y, step_args).compile()
    compile_s = time.perf_counter() - start
    phase("step compiled")
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    phase("after malloc_trim(0)")
    state, metrics = compiled(state, x, y, step_args)
    jax.block_until_ready(metrics)
    phase("first step")
    for _ in range(3):
        state, metrics = compiled(state, x, y, step_args)
    jax.block_until_ready(metrics)
    phase("three more steps")
    analysis = compiled.memory_analysis()
    xla = {k: getattr(analysis, k) / 2**20 for k in (
        "temp_size_in_bytes", "argument_size_in_bytes", "output_size_in_bytes",
        "alias_size_in_bytes")}
    print("XLA (MiB):", {k: round(v, 1) for k, v in xla.items()})
    if args.out:
        env = "".join(f"{k}={os.environ[k]} " for k in ("PYTHONPATH", "JAXNAS_TRIM_AFTER_COMPILE")
                      if os.environ.get(k))
        with open(args.out, "w") as f:
            json.dump(dict(command=env + " ".join(["python"] + sys.argv), scale=args.scale,
                           compile_s=compile_s, phases=phases, xla_mib=xla,
                           xla_flags=os.environ.get("XLA_FLAGS", ""),
                           load_avg=os.getloadavg()), f, indent=1)


if __name__ == "__main__":
    main()
