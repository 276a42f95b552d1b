"""CLOSE on the CPU-sized supernet of `nb201_spos_mini.py`: same data, optimizer and steps.

    jaxnas train --config configs/nb201_close_mini.py --workdir runs/close_mini \
        --data /path/to/cifar10-image-folder

The reference curriculum (`cl-246` with SRT: blocks added at epochs 1, 201, 401, 601 of 1000,
LR restart at 401) compressed 20x into the 50 epochs of the mini SPOS baseline: blocks at epochs
1, 11, 21, 31 and a restart of the cosine LR (and momentum) at epoch 21. Only the training
method (its sampler included, below) differs from the baseline, so the two compare at an equal
number of supernet steps.

Cells are drawn as the reference draws them (`sampler="unique_conv"`: uniform over the 6,321
non-isomorphic cells with a convolution on a live path); `sampler=uniform` draws from all
15,625 cells instead.
"""

from jaxnas.techniques.close.technique import curriculum
from jaxnas.train.defaults import base_config, mini_scale


def get_config():
    config = curriculum(mini_scale(base_config(techniques=("close",))), (1, 11, 21, 31), (21,))
    config.sampler = "unique_conv"
    return config
