"""The jaxnas train step of two checkouts side by side: did a change move its speed?

Each round runs `experiments/bench_step.py`'s jaxnas worker once per checkout, alternating, each
in a fresh process importing its own checkout (`PYTHONPATH`), so a busy or drifting machine
slows both alike; reported are the medians over rounds of each worker's median step time, its
compile time and peak memory, and the new/old step-time ratio with its range over rounds.

    git worktree add /tmp/old 0d8a1eb
    python experiments/bench_trees.py /tmp/old --scale mini --rounds 5 \
        --out experiments/results/bench_seam_mini.json
    python experiments/bench_trees.py OLD --config configs/nb201_landmark.py:mini --epoch 21
(a config must exist in both checkouts: 0d8a1eb spells the mini configs `nb201_x_mini.py`,
trees since the configs by scale `nb201_x.py:mini`, so compare those with the default SPOS.)
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parents[1]


def worker(tree, args):
    """One jaxnas worker of `tree`'s bench_step.py; its result dict."""
    cmd = [sys.executable, str(Path(tree) / "experiments/bench_step.py"), "--worker", "jaxnas",
           "--scale", args.scale, "--steps", str(args.steps), "--warmup", str(args.warmup),
           "--epoch", str(args.epoch)]
    cmd += ["--config", str(Path(tree) / args.config)] if args.config else []
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tree)
    if out.returncode:
        lines = out.stderr.strip().splitlines() or [f"exit status {out.returncode}"]
        raise SystemExit(f"{tree}: {lines[-1]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("old_tree", help="checkout of the older commit")
    p.add_argument("--new-tree", default=str(HERE), help="default: this checkout")
    p.add_argument("--scale", choices=("mini", "paper"), default="mini")
    p.add_argument("--config", help="config file, relative to each checkout (default: SPOS); both "
                   "checkouts must have it (trees before the configs by scale spell the mini "
                   "configs `nb201_x_mini.py`, later ones `nb201_x.py:mini`)")
    p.add_argument("--epoch", type=int, default=1)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--out", help="write the result JSON here")
    args = p.parse_args()
    runs = {"old": [], "new": []}
    for _ in range(args.rounds):
        for name, tree in (("old", args.old_tree), ("new", args.new_tree)):
            runs[name].append(worker(tree, args))
    result = {name: {key: float(np.median([r[key] for r in rs]))
                     for key in ("median_step_ms", "images_per_s", "compile_s", "peak_mib")}
              for name, rs in runs.items()}
    ratios = [n["median_step_ms"] / o["median_step_ms"] for o, n in zip(runs["old"], runs["new"])]
    result.update(new_over_old_step_time=float(np.median(ratios)),
                  ratio_range=[float(min(ratios)), float(max(ratios))],
                  scale=args.scale, config=args.config or "SPOS", rounds=args.rounds,
                  steps=args.steps, command=" ".join(["python"] + sys.argv))
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
