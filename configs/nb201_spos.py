"""SPOS on the NAS-Bench-201 supernet.

    jaxnas train --config configs/nb201_spos.py:mini --workdir runs/spos_mini --data DATA
    jaxnas train --config configs/nb201_spos.py --workdir runs/spos --data tfds:cifar10

paper: C=16, N=5, 32x32 images, 250 epochs of batch 64 (390 steps), the base defaults (AutoDL's
NB201 search settings, `jaxnas/train/defaults.py`); ranking every 25 epochs.
mini: C=8, N=1, 16x16 images, 50 epochs (`defaults.mini_scale`): a useful run finishes in about
10 minutes on 2 CPU cores. Every mini config of the other methods differs from this one only by
its method, so they compare at an equal number of supernet steps.
"""

from jaxnas.train.defaults import base_config, mini_scale, scale_arg


def get_config(arg="paper"):
    scale, _ = scale_arg(arg)
    config = base_config()
    if scale == "mini":
        return mini_scale(config)
    config.eval.every_epochs = 25
    return config
