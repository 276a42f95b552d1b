"""FairNAS + CaLR + momentum separation (DYNAS, CVPR 2025).

    jaxnas train --config configs/nb201_fairnas_calr_ms.py:mini \
        --workdir runs/fairnas_calr_ms_mini --data DATA
    jaxnas train --config configs/nb201_fairnas_calr_ms.py --workdir runs/fairnas_calr_ms \
        --data DATA

paper: the reference's `train_fairnas.py`: 200 epochs of batch 64; each step the 5 FairNAS
paths (gradients summed, one update); SGD Nesterov 0.9, weight decay 5e-4, a constant LR of
0.025 and no gradient clipping. CaLR enters as a loss weight (1 - t/T)^gamma per path
(`calr.mode` "auto" picks it for the fairnas sampler); the 5 paths share the op of the
momentum-separation edge (fixed to 3, see `nb201_spos_calr_ms.py`), so a step updates one of the
5 momentum buffers. Ranking every 25 epochs.
mini: the SPOS mini supernet; epochs keep the reference's FairNAS : SPOS ratio (200 : 250), 40
against the mini SPOS runs' 50; a step trains 5 paths, so a run costs about 4x a mini SPOS run.

Baseline FairNAS with the same settings: `calr.eta_min=1.0 ms.rule=complexity ms.num_groups=1`
(weights 1, one momentum buffer, all 6 edges fair).
"""

from jaxnas.train.defaults import base_config, mini_scale, scale_arg


def get_config(arg="paper"):
    scale, _ = scale_arg(arg)
    config = base_config(techniques=("calr", "ms"))
    if scale == "mini":
        config = mini_scale(config)
    config.sampler = "fairnas"
    config.optim.min_lr = config.optim.lr  # constant LR, as the reference's FairNAS
    config.optim.clip = None               # the reference's FairNAS does not clip
    config.calr.gamma_max = 4.0
    config.calr.eta_min = 0.0
    config.ms.rule = "edge_op"
    config.ms.edge = 3
    if scale == "mini":
        config.train.epochs = 40
        return config
    config.train.epochs = 200
    config.eval.every_epochs = 25
    return config
