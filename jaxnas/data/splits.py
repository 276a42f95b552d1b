"""The NAS-Bench-201 `cifar10-valid` protocol: a fixed half/half split of the training set.

NB201 trains on 25k of the 50k CIFAR-10 training images and reports `valid_acc` on the other 25k.
Its official index list (`cifar-split.txt`) is not available offline, so this module uses its own
split instead: NOT the official index list, but fixed, class-balanced and documented. For every
class c, the positions of that class in the data order are permuted by
`np.random.default_rng([seed, c]).permutation`; the first half (rounded down) goes to "train" and
the rest to "valid". It therefore depends only on the labels in their (sorted, deterministic) load
order, e.g. 2,500 + 2,500 images per class for CIFAR-10.

Each half is returned in a fixed random order (a seeded permutation), not sorted: an image folder
loads class by class, and architectures are scored on the first batches of the held-out half,
which must mix all classes.
"""

import numpy as np

from jaxnas.errors import DataError

_ORDER_STREAM = 2**31 - 1  # seed stream of the final shuffles, apart from the class streams


def cifar10_valid_split(labels, *, seed=0):
    """Split training-set positions into (train_idx, valid_idx), half of each class in each.

    Both index arrays are int64 in a fixed, seeded random order (so any prefix mixes the classes)
    and together cover every position exactly once.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"labels must be a 1-D integer array, got {labels.dtype} {labels.shape}")
    if labels.size and labels.min() < 0:
        raise DataError(f"labels must be non-negative, got {labels.min()}")
    train, valid = [], []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        members = members[np.random.default_rng([seed, int(c)]).permutation(len(members))]
        half = len(members) // 2
        train.append(members[:half])
        valid.append(members[half:])
    if not train:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.random.default_rng([seed, _ORDER_STREAM])
    train, valid = np.concatenate(train), np.concatenate(valid)
    return train[order.permutation(len(train))], valid[order.permutation(len(valid))]
