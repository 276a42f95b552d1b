"""FairNAS + CaLR + momentum separation on the CPU-sized supernet of `nb201_spos_mini.py`.

    jaxnas train --config configs/nb201_fairnas_calr_ms_mini.py \
        --workdir runs/fairnas_calr_ms_mini --data /path/to/cifar10-image-folder

`nb201_fairnas_calr_ms.py` at mini scale. Epochs keep the reference's FairNAS : SPOS ratio
(200 : 250), 40 against the mini SPOS runs' 50; a step trains 5 paths, so a run costs about 4x a
mini SPOS run. Baseline: `calr.eta_min=1.0 ms.rule=complexity ms.num_groups=1`.
"""

from jaxnas.train.defaults import base_config, mini_scale


def get_config():
    config = mini_scale(base_config(techniques=("calr", "ms")))
    config.sampler = "fairnas"
    config.optim.min_lr = config.optim.lr
    config.optim.clip = None
    config.train.epochs = 40
    config.calr.gamma_max = 4.0
    config.calr.eta_min = 0.0
    config.ms.rule = "edge_op"
    config.ms.edge = 3
    return config
