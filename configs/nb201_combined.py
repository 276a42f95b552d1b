"""Everything that combines: landmark regularisation + CaLR + momentum separation + ABS shrinking
+ GDAS, then regularised evolution over the trained supernet.

    jaxnas run --config configs/nb201_combined.py:mini --workdir runs/combined_mini --data DATA
    jaxnas run --config configs/nb201_combined.py --workdir runs/combined --data tfds:cifar10

paper (for accelerators): the base's 250 epochs of batch 64 (C=16, N=5, 32x32), each technique
at its reference's setting where the references agree and placed in the 250 epochs where they
do not: landmark pairs after a 100-epoch warm-up with 30 landmarks (the Landmark paper's GDAS
run: W=100, M=30), CaLR and MS as `nb201_spos_calr_ms.py`, one ABS shrinking step at epoch 50
dropping 10 of the 30 operators (`nb201_abs.py`), GDAS's architecture steps in the last 50
epochs (the Landmark paper's GDAS phase length).
mini: the SPOS mini scale; each technique's phase scaled from its reference to 50 epochs:
landmark pairs after a 20-epoch warm-up (the reference: 150 of 400), one ABS shrinking step
after 20 epochs (the landmark set then moves into the shrunk space), GDAS's architecture steps
in the last 10 epochs (the Landmark paper's GDAS: 50 epochs after 400 of SPOS), tau 10 -> 0.1
over them.

`jaxnas run` then ranks 200 cells and runs evolution (1,000 cells, population 50, tournament
10) in the shrunk space; the GDAS result (argmax of its architecture logits) is written beside
it. CLOSE is not in the mix: it cannot combine with CaLR (both replace the learning-rate
schedule), with ABS shrinking (which scores cells under the static sharing map) or with GDAS
(whose architecture step runs the plain supernet); `jaxnas train` says so when a config lists
them together.
"""

from jaxnas.train.defaults import base_config, mini_scale, scale_arg


def get_config(arg="paper"):
    scale, _ = scale_arg(arg)
    config = base_config(techniques=("abs", "landmark", "calr", "ms", "gdas"))
    config.calr.gamma_max = 4.0
    config.calr.eta_min = 0.0
    config.ms.rule = "edge_op"
    config.ms.edge = 3
    config.abs.shrink.drop_per_step = 10
    config.eval.every_epochs = 25
    config.search.strategy = "evolution"
    config.search.budget = 1000
    if scale == "mini":
        config = mini_scale(config)
        config.landmark.warmup_epochs = 20
        config.abs.shrink.start_epoch = 20
        config.gdas.warmup_epochs = 40
        return config
    config.landmark.warmup_epochs = 100
    config.abs.shrink.start_epoch = 50
    config.gdas.warmup_epochs = 200
    return config
