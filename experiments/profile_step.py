"""Where a train step's time goes: self time per kind of XLA operation in a `jax.profiler` trace.

The step is `bench_step.py`'s jaxnas step (SPOS at `--scale`, batch 64, the uniform random cell
per step), run `--calls` times under the profiler after a warm-up; the self times of the ops on
XLA's worker threads and on the executor's own thread are summed per kind and divided by the
calls (the executor's waits are left out). Convolutions are XLA's `conv_general_dilated`,
`convolution*` (the reduction blocks' strided gradients, the 1x1 weight gradient's matrix
product is `dot`), `transpose_copy_fusion` the transposes around the weight gradients, `ynn_fusion`
YNNPACK's reductions (batch-norm statistics). Pin it to one core to read one core's work:

    taskset -c 1 python experiments/profile_step.py --scale mini \\
        --out experiments/results/profile_step_mini.json
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's jaxnas
import bench_step  # noqa: E402
from profile_scoring import traced_self_times  # noqa: E402

CONVOLUTIONS = ("conv_general_dilated", "convolution")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", choices=sorted(bench_step.SCALES), default="mini")
    p.add_argument("--steps", type=int, default=30, help="timed steps before the trace (median)")
    p.add_argument("--calls", type=int, default=20, help="steps traced")
    p.add_argument("--top", type=int, default=20, help="op kinds listed")
    p.add_argument("--out", help="also write the results as JSON here")
    args = p.parse_args()
    import jax

    step, state, step_args, _ = bench_step.jax_step(args.scale, [])
    x, y = jax.device_put(bench_step.images(args.scale, bench_step.BATCH))
    holder = [state]

    def run():
        holder[0], m = step(holder[0], x, y, step_args)
        jax.block_until_ready(m)

    for _ in range(5):
        run()
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    ops = traced_self_times(run, calls=args.calls, top=10_000,
                            threads=("Eigen", "PjRtCpuClient"))
    work = sum(v["ms"] for v in ops.values())
    conv = sum(v["ms"] for k, v in ops.items() if k.startswith(CONVOLUTIONS))
    out = dict(scale=args.scale, median_step_ms=1e3 * float(np.median(times)),
               traced_work_ms=work, convolution_ms=conv, convolution_share=conv / work,
               ops=dict(list(ops.items())[:args.top]), affinity=sorted(os.sched_getaffinity(0)),
               command=" ".join(["python"] + sys.argv))
    print(f"{args.scale}: step {out['median_step_ms']:.1f} ms (median of {args.steps}); traced "
          f"work {work:.1f} ms a step, convolutions {conv:.1f} ms ({conv / work:.0%})")
    for kind, v in out["ops"].items():
        print(f"{v['ms']:8.2f} ms {v['share']:6.1%}  {kind}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
