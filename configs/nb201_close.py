"""CLOSE at paper scale (C=16, N=5, 32x32), on the schedule of the SPOS paper config.

    jaxnas train --config configs/nb201_close.py --workdir runs/close --data tfds:cifar10

Curriculum as the released `cl-246` + SRT config of aw_nas, scaled from 1000 to 250 epochs:
GLOW blocks added at epochs 1, 51, 101, 151 (k_max 4), LR and momentum restart at epoch 101.
GATE sizes and tau are the reference's (the `close` defaults). The optimizer is the SPOS one
(cosine, Nesterov), not the reference's plateau schedule, so CLOSE and SPOS differ only in the
method; for the reference optimizer set optim.lr=0.05, optim.nesterov=False, train.epochs=1000.

Cells are drawn as the reference draws them (`sampler="unique_conv"`: uniform over the 6,321
non-isomorphic cells with a convolution on a live path); `sampler=uniform` draws from all
15,625 cells instead.
"""

from jaxnas.techniques.close.technique import curriculum
from jaxnas.train.defaults import base_config


def get_config():
    config = curriculum(base_config(techniques=("close",)), (1, 51, 101, 151), (101,))
    config.sampler = "unique_conv"
    config.eval.every_epochs = 25
    return config
