"""SPOS on a CPU-sized NAS-Bench-201 supernet (C=8, N=1, 16x16 images, 50 epochs).

    jaxnas train --config configs/nb201_spos_mini.py --workdir runs/spos_mini \
        --data /path/to/cifar10-image-folder

Small enough that a useful run finishes in about 10 minutes on 2 CPU cores.
"""

from jaxnas.train.defaults import base_config, mini_scale


def get_config():
    return mini_scale(base_config())
