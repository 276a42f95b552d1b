"""SPOS + CaLR + momentum separation on the CPU-sized supernet of `nb201_spos_mini.py`.

    jaxnas train --config configs/nb201_spos_calr_ms_mini.py --workdir runs/spos_calr_ms_mini \
        --data /path/to/cifar10-image-folder

Same data, steps and optimizer as the mini SPOS baseline except for the two techniques of
`nb201_spos_calr_ms.py` (T = the run's 50 x 390 steps; the complexity is the parameter count of
the C=8, N=1 network).
"""

from jaxnas.train.defaults import base_config, mini_scale


def get_config():
    config = mini_scale(base_config(techniques=("calr", "ms")))
    config.calr.gamma_max = 4.0
    config.calr.eta_min = 0.0
    config.ms.rule = "edge_op"
    config.ms.edge = 3
    return config
