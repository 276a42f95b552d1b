"""SPOS + ABS (angle-based shrinking).

    jaxnas train --config configs/nb201_abs.py:mini --workdir runs/abs_mini --data DATA
    jaxnas train --config configs/nb201_abs.py --workdir runs/abs --data tfds:cifar10

paper: the AngleNAS NB201 settings (`exps/angle/dropnode_by_angle.py` with `configs/nas-benchmark/
algos/SPOS.config`): C=16, N=5, batch 64, SGD Nesterov 0.9, lr 0.025 cosine to 0.001 planned
over 250 epochs, weight decay 5e-4, no gradient clipping; W0 = the initial weights; after the
first training stage every operator is scored by the mean angle of the cells containing it and
20 of the 30 are dropped in one step (30 // 20 = 1), keeping the best of every edge. The
reference leaves the length of that stage to its `--epochs` argument and stops there; here it is
50 epochs (its LR schedule then matches ours at the shrink, since its cosine is also planned
over 250) and SPOS goes on training on the shrunk space (sampled by `config.sampler`) until
epoch 250. Each epoch's line in metrics.jsonl holds the space (`angle_space`,
`angle_space_size`).

mini: the paper schedule scaled by 50/250 epochs: one ABS step dropping 20 of the 30 operators
after 10 epochs, then SPOS on the shrunk space for the remaining 40. Everything else as the SPOS
mini config (its gradient clip at 5 included, so the two differ only by the shrinking).

Baselines of the paper (same schedule): `abs.shrink.metric=accuracy` (one held-out batch per
cell) or `abs.shrink.metric=magnitude abs.magnitude.train=True` (DARTS alpha trained beside).
SPOS on a shrunk space from scratch: `techniques='("abs",)' abs.shrink.num_steps=0
space_mask=<angle_space of the ABS run>`.
"""

from jaxnas.train.defaults import base_config, mini_scale, scale_arg


def get_config(arg="paper"):
    scale, _ = scale_arg(arg)
    config = base_config(techniques=("abs",))
    config.abs.shrink.metric = "angle"
    config.abs.shrink.num_steps = 1
    config.abs.shrink.drop_per_step = 20
    if scale == "mini":
        config = mini_scale(config)
        config.abs.shrink.start_epoch = 10
        return config
    config.optim.clip = None            # the reference's ABS supernet does not clip
    config.eval.every_epochs = 25
    config.abs.reference_epoch = 0
    config.abs.shrink.start_epoch = 50
    return config
