"""Quality of ABS-shrunk NB201 spaces: how much of the true top survives, what is left.

A thin caller of `jaxnas.analysis.shrunk` (the quality numbers) and `analysis.checkpoints`.

For each run, the space it ended with (`angle_space` in its metrics log) and, with `--offline
EPOCH`, the spaces every metric would give from the same checkpoint (the paper's Fig. 7
compares angle, accuracy and magnitude shrinking; here angle and accuracy share one supernet,
magnitude needs a run trained with angle.magnitude.train=True): one step dropping `--drop`
operators with the reference's rule. Per space:

  * size, the number of the true top-50 (and top-1%) cells inside, the best ground-truth
    accuracy left and its rank among all 15,625, the mean ground truth of the space;
  * the ground-truth rank (1 = best of 30) of every dropped operator, operators ranked as the
    reference's `real_acc`: by the summed ground truth of all cells containing them;
  * and, for reference, the same numbers for the space the drop rule gives from those
    ground-truth operator ranks (`oracle`: what a perfect metric would keep).

Ground truth: the packaged NB201 cifar10-valid table (`--gt test`, ori-test, default; or valid).

    python experiments/abs_shrunk_space.py /tmp/runs/abs_mini/angle /tmp/runs/abs_mini/accuracy \
        /tmp/runs/abs_mini/magnitude --offline 10 --data ../shared/data/cifar10-jpeg \
        --out experiments/results/abs_shrunk_space/mini.json
"""

import argparse
import json
from pathlib import Path

import numpy as np

from jaxnas.analysis import arms
from jaxnas.analysis.checkpoints import epoch_states
from jaxnas.analysis.shrunk import operator_truth_ranks, oracle, quality, truth_table
from jaxnas.spaces.nb201 import SPACE, space_archs, str_to_mask
from jaxnas.techniques.abs import describe, drop_operators, operator_magnitude, operator_scores

full_mask = SPACE.full_mask


def final_space(workdir):
    """The last `angle_space` a run logged ("" if none)."""
    return arms.final_space(arms.read_log(Path(workdir, "metrics.jsonl")))


def offline(workdir, epoch, args):
    """Spaces each metric gives from the checkpoint at the end of `epoch` (one step)."""
    from angle_over_epochs import load_run  # same folder

    _, recipe, score = load_run(workdir, args.data, args.acc_batch_size, 1)
    states = dict(epoch_states(workdir, recipe, {epoch}))
    if epoch not in states:
        raise SystemExit(f"{workdir}: no checkpoint at the end of epoch {epoch}")
    state = states[epoch]
    archs = space_archs(full_mask())
    scores = {"angle": operator_scores(archs, score(state, archs, "angle"), full_mask())}
    rng = np.random.default_rng(args.seed)
    sample = archs[np.sort(rng.choice(len(archs), args.acc_archs, replace=False))] \
        if args.acc_archs < len(archs) else archs
    scores["accuracy"] = operator_scores(sample, score(state, sample, "accuracy"), full_mask())
    extra = state.extra.get("angle", {}) if isinstance(state.extra, dict) else {}
    if "alpha" in extra:
        scores["magnitude"] = np.asarray(operator_magnitude(extra["alpha"]), np.float64)
    return scores


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("workdirs", nargs="+")
    p.add_argument("--offline", type=int, help="also shrink from the checkpoint of this epoch")
    p.add_argument("--drop", type=int, default=20)
    p.add_argument("--data")
    p.add_argument("--acc-archs", type=int, default=1000)
    p.add_argument("--acc-batch-size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gt", choices=("test", "valid"), default="test")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    truth = truth_table(args.gt)
    op_ranks = operator_truth_ranks(truth)
    results = {}
    for w in args.workdirs:
        res = {"final": quality(str_to_mask(final_space(w)), truth, op_ranks)}
        if args.offline:
            for metric, s in offline(w, args.offline, args).items():
                mask, dropped = drop_operators(s, full_mask(), args.drop)
                res[f"offline_{metric}"] = {**quality(mask, truth, op_ranks, dropped),
                                            "dropped": describe(dropped)}
        results[str(w)] = res
        print(w, json.dumps({k: {x: v[x] for x in ("space", "size", "top50_kept", "best_rank")}
                             for k, v in res.items()}), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"gt": f"cifar10-valid {args.gt}_acc",
                               "operator_truth_ranks": op_ranks.tolist(),
                               "oracle": oracle(truth, op_ranks, args.drop), "runs": results},
                              indent=1))


if __name__ == "__main__":
    main()
