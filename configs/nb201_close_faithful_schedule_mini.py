"""CLOSE (faithful GATE) on the mini supernet with the reference's optimizer and LR schedule.

    jaxnas train --config configs/nb201_close_faithful_schedule_mini.py \
        --workdir runs/close_faithful_schedule_mini --data /path/to/cifar10-image-folder

`nb201_close_mini.py` trains with the SPOS baseline's optimizer (Nesterov, cosine 0.025 ->
0.001 restarted at the SRT epoch). Here the optimizer is the released aw_nas CLOSE config's:
SGD lr 0.05, momentum 0.9 without Nesterov, weight decay 5e-4, clip 5, and ReduceLROnPlateau
(factor 0.5) on the epoch's mean training loss, re-created with the optimizer at the SRT epoch.
The curriculum has the reference's shape (`cl-246` + SRT: blocks at 1, 201, 401, 601 of 1000
epochs, restart at 401) compressed 20x into 50 epochs: blocks at 1, 11, 21, 31, restart at 21,
and the plateau patience 30 epochs compressed to 2 (30 / 20 = 1.5, rounded up). Batch 64 and
16x16 images as every mini config (the reference: 256, 32x32).

Cells are drawn as the reference draws them (`sampler="unique_conv"`: uniform over the 6,321
non-isomorphic cells with a convolution on a live path); `sampler=uniform` draws from all
15,625 cells instead.
"""

from jaxnas.techniques.close.technique import curriculum
from jaxnas.train.defaults import base_config, mini_scale


def get_config():
    config = curriculum(mini_scale(base_config(techniques=("close",))), (1, 11, 21, 31), (21,))
    config.sampler = "unique_conv"
    config.close.lr_schedule = "plateau"
    config.close.plateau.patience = 2
    config.optim.lr = 0.05
    config.optim.nesterov = False
    return config
