"""Quality of ABS-shrunk NB201 spaces: how much of the true top survives, what is left.

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

from jaxnas.evaluate import groundtruth
from jaxnas.spaces.nb201 import (NUM_ARCHS, SPACE, all_archs, archs_to_indices, mask_to_str,
                                 space_archs, str_to_mask)
from jaxnas.techniques.abs import describe, drop_operators, operator_magnitude, operator_scores

full_mask = SPACE.full_mask


def truth_table(gt):
    return np.asarray(groundtruth.load_table("cifar10-valid").get(f"{gt}_acc"))


def operator_truth_ranks(truth):
    """Rank (1 = best) of each of the 30 operators by the summed truth of its cells."""
    archs = all_archs()
    summed = np.stack([np.bincount(archs[:, e], truth, minlength=5) for e in range(6)])
    order = np.argsort(-summed.ravel(), kind="stable")
    ranks = np.empty(30, int)
    ranks[order] = np.arange(1, 31)
    return ranks.reshape(6, 5)


def oracle(truth, op_ranks, drop):
    """The space the drop rule gives from the ground truth itself (operators scored by the
    summed truth of their cells): what a perfect metric would keep."""
    mask, dropped = drop_operators(-op_ranks.astype(np.float64), full_mask(), drop)
    return {**quality(mask, truth, op_ranks, dropped), "dropped": describe(dropped)}


def quality(mask, truth, op_ranks, dropped=None):
    """The numbers of the module docstring for one space."""
    inside = archs_to_indices(space_archs(mask))
    order = np.argsort(-truth)
    best = inside[np.argmax(truth[inside])]
    out = {"space": mask_to_str(mask), "size": int(inside.size),
           "top50_kept": int(np.isin(order[:50], inside).sum()),
           "top1pct_kept": int(np.isin(order[:NUM_ARCHS // 100], inside).sum()),
           "best_truth": float(truth[best]), "best_rank": int(np.sum(truth > truth[best]) + 1),
           "mean_truth": float(truth[inside].mean()), "mean_truth_full": float(truth.mean())}
    if dropped is None:
        dropped = [tuple(x) for x in np.argwhere(~mask)]
    out["dropped_truth_ranks"] = sorted(int(op_ranks[e, o]) for e, o in dropped)
    return out


def final_space(workdir):
    """The last `angle_space` a run logged ("" if none)."""
    space = ""
    for line in Path(workdir, "metrics.jsonl").read_text().splitlines():
        space = json.loads(line).get("angle_space", space)
    return space


def offline(workdir, epoch, args):
    """Spaces each metric gives from the checkpoint at the end of `epoch` (one step)."""
    from angle_over_epochs import epoch_states, load_run  # same folder

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
