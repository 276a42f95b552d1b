"""SPOS in the DARTS cell space at a CPU size: C=4, 3 cells (one normal cell and the two
reduction cells), 16x16 images, 5 epochs, DARTS's optimizer settings (configs/darts_spos.py).

    jaxnas train --config configs/darts_spos_mini.py --workdir runs/darts_spos_mini \
        --data /path/to/cifar10-image-folder
"""

from jaxnas.train.defaults import base_config, darts_scale


def get_config():
    config = darts_scale(base_config())
    config.data.resolution = 16
    config.data.pad = 2
    config.supernet.C = 4
    config.supernet.layers = 3
    config.train.epochs = 5
    return config
