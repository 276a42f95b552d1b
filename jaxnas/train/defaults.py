"""The default config: every key a jaxnas experiment may set, with its default.

Config files in `configs/` start from `base_config()` and change what they need; keys that are not
here are rejected, so a typo cannot silently fall back to a default.
"""

import ml_collections


def base_config():
    c = ml_collections.ConfigDict()
    c.seed = 0
    # Data: an image folder (train|test/<class>/*) or "tfds:cifar10". The NB201 cifar10-valid
    # protocol splits the training set 25k/25k: the supernet trains on one half and architectures
    # are scored on the other.
    c.data = dict(source="tfds:cifar10", resolution=32, pad=4, flip=True, cache_dir="")
    c.supernet = dict(C=16, N=5, num_classes=10, slots_per_cell=6, edge_impl="auto",
                      conv_impl="auto", cell_loop="scan")
    c.sharing = "vanilla"  # vanilla: one slot per (cell, edge); cell: one slot per cell
    c.sampler = "uniform"  # uniform over 15,625 cells (SPOS), or unique: the 6,466 classes
    # SGD as the NB201 search scripts (AutoDL configs/nas-benchmark/algos): Nesterov, wd 5e-4,
    # cosine from 0.025 to 0.001, gradient clipping at norm 5.
    c.optim = dict(lr=0.025, min_lr=0.001, momentum=0.9, nesterov=True, weight_decay=5e-4,
                   clip=5.0)
    c.train = dict(epochs=250, batch_size=64, checkpoint_every_steps=0, keep_checkpoints=2)
    # Ranking evaluation during training: every `every_epochs` epochs (0 = never), score
    # `num_archs` fixed non-isomorphic architectures on `num_batches` batches of the held-out half.
    c.eval = dict(every_epochs=0, num_archs=200, seed=0, batch_size=256, num_batches=2, gt="valid")
    return c
