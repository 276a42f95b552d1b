"""SPOS on a CPU-sized NAS-Bench-201 supernet (C=8, N=1, 16x16 images).

    jaxnas train --config configs/nb201_spos_mini.py --workdir runs/spos_mini \
        --data /path/to/cifar10-image-folder

Small enough that a useful run finishes in about 10 minutes on 2 CPU cores.
"""

from jaxnas.train.defaults import base_config


def get_config():
    config = base_config()
    config.data.resolution = 16
    config.data.pad = 2
    config.supernet.C = 8
    config.supernet.N = 1
    config.train.epochs = 50
    config.eval.every_epochs = 5
    return config
