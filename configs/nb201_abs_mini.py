"""SPOS + ABS on the CPU-sized supernet of `nb201_spos_mini.py` (C=8, N=1, 16x16, 50 epochs).

    jaxnas train --config configs/nb201_abs_mini.py --workdir runs/abs_mini \
        --data /path/to/cifar10-image-folder

The paper-scale schedule (`nb201_abs.py`) scaled by the mini run's 50/250 epochs: one ABS step
dropping 20 of the 30 operators (the best of each edge kept) after 10 epochs, then SPOS on the
shrunk space for the remaining 40. Everything else as the SPOS mini baseline (its gradient clip
at 5 included, so the two differ only by the shrinking).
"""

from jaxnas.train.defaults import base_config, mini_scale


def get_config():
    config = mini_scale(base_config(techniques=("abs",)))
    config.abs.shrink.metric = "angle"
    config.abs.shrink.num_steps = 1
    config.abs.shrink.drop_per_step = 20
    config.abs.shrink.start_epoch = 10
    return config
