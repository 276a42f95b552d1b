"""SPOS + CaLR + momentum separation (DYNAS, CVPR 2025).

    jaxnas train --config configs/nb201_spos_calr_ms.py:mini --workdir runs/spos_calr_ms_mini \
        --data DATA
    jaxnas train --config configs/nb201_spos_calr_ms.py --workdir runs/spos_calr_ms --data DATA

paper: the reference's `train_spos.py`: 250 epochs of batch 64 on the 25k train half, SGD
Nesterov 0.9, weight decay 5e-4, clip 5; LR 0.025 * (1 - t/T)^gamma with gamma log-linear in the
subnet's parameter count, in [1/4, 4] (`calr`); one momentum buffer per op on one edge, 5 groups
(`ms`). The reference draws that edge once per run from its seed (its seeds 0, 1, 3 give edge
3); it is fixed to 3 here, `ms.edge=-1` draws it from `seed` instead. Ranking every 25 epochs.
mini: the SPOS mini config plus the two techniques (T = the run's 50 x 390 steps; the
complexity is the parameter count of the C=8, N=1 network).
"""

from jaxnas.train.defaults import base_config, mini_scale, scale_arg


def get_config(arg="paper"):
    scale, _ = scale_arg(arg)
    config = base_config(techniques=("calr", "ms"))
    config.calr.gamma_max = 4.0   # the reference's --max_coeff
    config.calr.eta_min = 0.0
    config.ms.rule = "edge_op"
    config.ms.edge = 3
    if scale == "mini":
        return mini_scale(config)
    config.eval.every_epochs = 25
    return config
