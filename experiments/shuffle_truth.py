"""A landmark table whose accuracies are shuffled: the control for landmark regularisation.

Same cells, same selected landmarks (random selection draws indices, not accuracies), but each
landmark carries another cell's accuracy, so the hinge enforces a random order. If the paired
gain of `landmark` over SPOS comes from the ground truth, this arm should not have it; if it
comes from the regulariser's extra forwards and backwards on held-out images, it should.

    python experiments/shuffle_truth.py --out runs/shuffled_valid_acc.npz
    jaxnas train --config configs/nb201_landmark.py:mini ... \
        landmark.table=runs/shuffled_valid_acc.npz
"""

import argparse
import dataclasses

import numpy as np

from jaxnas.evaluate import groundtruth
from jaxnas.techniques.landmark import landmarks


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--metric", default="valid_acc")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    truth = groundtruth.load_table("cifar10-valid")
    metrics = dict(truth.metrics)
    metrics[args.metric] = np.random.default_rng(args.seed).permutation(metrics[args.metric])
    groundtruth.save_table(dataclasses.replace(truth, metrics=metrics), args.out)
    real, fake = (landmarks.read_table(t, args.metric) for t in ("cifar10-valid", args.out))
    for seed in range(5):   # the runs' selection seeds: the same landmarks, other accuracies
        a, b = (landmarks.select(t, 30, seed=seed) for t in (real, fake))
        assert np.array_equal(a, b), seed
    print(f"wrote {args.out}: {args.metric} permuted (seed {args.seed}); landmarks of seeds "
          "0-4 unchanged")


if __name__ == "__main__":
    main()
