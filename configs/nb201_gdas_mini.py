"""GDAS on the CPU-sized NAS-Bench-201 supernet (C=8, N=1, 16x16 images, 50 epochs).

    jaxnas run --config configs/nb201_gdas_mini.py --workdir runs/gdas_mini \
        --data /path/to/cifar10-image-folder

`nb201_gdas.py` at the mini scale of `nb201_spos_mini.py`: the architecture logits train from
the first epoch, tau 10 -> 0.1 over the 50 epochs. Each step is a weight step and an
architecture step, about twice an SPOS step.
"""

from jaxnas.train.defaults import base_config, mini_scale


def get_config():
    return mini_scale(base_config(techniques=("gdas",)))
