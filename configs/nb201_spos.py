"""SPOS on the NAS-Bench-201 supernet at paper scale (C=16, N=5, 32x32, 250 epochs).

    jaxnas train --config configs/nb201_spos.py --workdir runs/spos --data tfds:cifar10

For accelerators: one epoch is 390 steps of 64 images.
"""

from jaxnas.train.defaults import base_config


def get_config():
    config = base_config()
    config.eval.every_epochs = 25
    return config
