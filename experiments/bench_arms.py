"""Train-step cost of each paired experiment arm: step time, images/s, compile time, peak memory.

Each arm is a config with the overrides its `run_paired.sh` command passes (the table `ARMS`):
the config file's mini scale (`file.py:mini`), its paper scale (the reference's settings). Each
is timed by `bench_step.py`'s jaxnas worker in a fresh process (its own compile and peak
resident memory), random images, batch 64, at the schedule stage of the config's last epoch
(landmark's regulariser on, CLOSE's blocks all active). Arms alternate for
`--rounds` rounds, since a shared machine's speed drifts; reported is the median round of each,
its ratio to the first arm, and the load average (other jobs compete for the cores).

images/s counts each batch once: a FairNAS step passes its batch through five subnets.

    python experiments/bench_arms.py                         # the dynamic-supernet arms
    python experiments/bench_arms.py --arms spos,landmark,close,abs --scale paper
    python experiments/bench_arms.py --rounds 3 --steps 20 --out experiments/results/bench_arms.json
"""

import argparse
import json
import os
import sys

import numpy as np

import bench_step  # same folder

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = os.path.join(os.path.dirname(HERE), "configs")

# name: (config, overrides) as experiments/README.md runs the arm; the config is
# configs/<config>.py:mini at mini scale and configs/<config>.py (the reference's settings) at
# paper scale.
ARMS = {
    "spos": ("nb201_spos", ()),
    "spos_calr": ("nb201_spos_calr_ms", ("ms.rule=complexity", "ms.num_groups=1")),
    "spos_ms": ("nb201_spos", ("techniques=('dynamic.ms',)", "ms.edge=3")),
    "spos_calr_ms": ("nb201_spos_calr_ms", ()),
    "fairnas": ("nb201_fairnas_calr_ms", ("calr.eta_min=1.0", "ms.rule=complexity",
                                          "ms.num_groups=1")),
    "fairnas_calr_ms": ("nb201_fairnas_calr_ms", ()),
    "landmark": ("nb201_landmark", ()),
    "close": ("nb201_close", ()),
    "abs": ("nb201_abs", ()),
}
DYNAMIC = "spos,spos_calr,spos_ms,spos_calr_ms,fairnas,fairnas_calr_ms"


def config_path(name, scale):
    stem = ARMS[name][0]
    return os.path.join(CONFIGS, f"{stem}.py:mini" if scale == "mini" else f"{stem}.py")


def time_arm(name, scale, steps, warmup):
    """One fresh-process measurement of arm `name` (bench_step's result dict)."""
    setup = argparse.Namespace(steps=steps, warmup=warmup, epoch=0, set=[],
                               config=config_path(name, scale), override=list(ARMS[name][1]))
    return dict(arm=name, **bench_step.spawn("jaxnas", scale, setup))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arms", default=DYNAMIC, help=f"comma-separated, of: {', '.join(ARMS)}")
    p.add_argument("--scale", choices=("mini", "paper"), default="mini")
    p.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps after compiling")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", help="also write the results as JSON here")
    args = p.parse_args()
    names = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = [a for a in names if a not in ARMS]
    if unknown:
        sys.exit(f"bench_arms: unknown arm(s) {', '.join(unknown)}; known: {', '.join(ARMS)}")
    runs, load = {a: [] for a in names}, [os.getloadavg()[0]]
    for r in range(args.rounds):
        for arm in names:
            result = time_arm(arm, args.scale, args.steps, args.warmup)
            runs[arm].append(result)
            if "error" in result:
                sys.exit(f"bench_arms: {arm} failed: {result['error']}")
            print(f"round {r + 1} {arm:16s} {result['median_step_ms']:8.1f} ms", file=sys.stderr)
        load.append(os.getloadavg()[0])
    rows = []
    for arm in names:
        ms = [x["median_step_ms"] for x in runs[arm]]
        median = float(np.median(ms))
        rows.append(dict(arm=arm, config=os.path.relpath(config_path(arm, args.scale)),
                         overrides=list(ARMS[arm][1]),
                         median_step_ms=round(median, 2),
                         images_per_s=round(1e3 * bench_step.BATCH / median, 1),
                         compile_s=round(float(np.median([x["compile_s"] for x in runs[arm]])), 2),
                         peak_mib=round(max(x["peak_mib"] for x in runs[arm])),
                         rounds_step_ms=[round(v, 2) for v in ms]))
    base = rows[0]["median_step_ms"]
    print(f"{args.scale} scale, batch {bench_step.BATCH}, median of {args.rounds} rounds x "
          f"{args.steps} steps, load average {[round(v, 2) for v in load]}")
    print(f"| arm | step (ms) | images/s | x {rows[0]['arm']} | compile (s) | peak RSS (MiB) |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        row["ratio"] = round(row["median_step_ms"] / base, 2)
        print(f"| {row['arm']} | {row['median_step_ms']:.1f} | {row['images_per_s']:.0f} | "
              f"{row['ratio']:.2f} | {row['compile_s']:.1f} | {row['peak_mib']} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(dict(command=" ".join(["python"] + sys.argv), scale=args.scale,
                           cpus=os.cpu_count(), load_average=[round(v, 2) for v in load],
                           results=rows), f, indent=1)


if __name__ == "__main__":
    main()
