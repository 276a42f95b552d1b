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
                      conv_impl="auto", cell_loop="auto")
    c.method = "spos"  # spos, or close (CLOSENet + curriculum: see the `close` block below)
    c.sharing = "vanilla"  # vanilla: one slot per (cell, edge); cell: one slot per cell
    c.sampler = "uniform"  # uniform over 15,625 cells (SPOS), or unique: the 6,466 classes
    # SGD as the NB201 search scripts (AutoDL configs/nas-benchmark/algos): Nesterov, wd 5e-4,
    # cosine from 0.025 to 0.001, gradient clipping at norm 5.
    c.optim = dict(lr=0.025, min_lr=0.001, momentum=0.9, nesterov=True, weight_decay=5e-4,
                   clip=5.0)
    c.train = dict(epochs=250, batch_size=64, checkpoint_every_steps=0, keep_checkpoints=2)
    # Ranking evaluation during training: every `every_epochs` epochs (0 = never), score
    # `num_archs` fixed non-isomorphic architectures on `num_batches` batches of the held-out half.
    # CLOSE (method="close"; needs supernet.slots_per_cell == close.k_max). Defaults are the
    # released NB201 configs of aw_nas (GATE sizes, tau 5); the schedule is set per config file.
    c.close = dict(k_max=4, cl_schedule=(1,), restart_epochs=(), tau=5.0, eval_noise=True,
                   eval_seed=123,
                   gate=dict(op_emb_dim=48, node_emb_dim=48, hid_dim=96, gcn_out_dims=(128,) * 5,
                             mlp_dims=(200, 200, 200), mlp_dropout=0.1))
    c.eval = dict(every_epochs=0, num_archs=200, seed=0, batch_size=256, num_batches=2, gt="valid")
    return c


def mini_scale(config):
    """The CPU-sized experiment shared by every `*_mini` config: C=8, N=1, 16x16 images, 50
    epochs, ranking evaluated every 5 epochs (an SPOS run takes about 10 minutes on 2 cores)."""
    config.data.resolution = 16
    config.data.pad = 2
    config.supernet.C = 8
    config.supernet.N = 1
    config.train.epochs = 50
    config.eval.every_epochs = 5
    return config
