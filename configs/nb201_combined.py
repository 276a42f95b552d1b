"""Everything that combines, at paper scale: landmark regularisation + CaLR + momentum separation
+ ABS shrinking + GDAS, then regularised evolution over the trained supernet.

    jaxnas run --config configs/nb201_combined.py --workdir runs/combined --data tfds:cifar10

For accelerators. The base's 250 epochs of batch 64 (C=16, N=5, 32x32), each technique at its
reference's setting where the references agree and placed in the 250 epochs where they do not:
landmark pairs after a 100-epoch warm-up with 30 landmarks (the Landmark paper's GDAS run:
W=100, M=30), CaLR and MS as `nb201_spos_calr_ms.py`, one ABS shrinking step at epoch 50
(`nb201_abs.py`), GDAS's architecture steps in the last 50 epochs (the Landmark paper's GDAS
phase length). `configs/nb201_combined_mini.py` is this at the mini scale; CLOSE is left out
for the reasons given there.
"""

from jaxnas.train.defaults import base_config


def get_config():
    config = base_config(
        techniques=("abs", "landmark", "calr", "ms", "gdas"))
    config.landmark.warmup_epochs = 100
    config.calr.gamma_max = 4.0
    config.calr.eta_min = 0.0
    config.ms.rule = "edge_op"
    config.ms.edge = 3
    config.abs.shrink.start_epoch = 50
    config.abs.shrink.drop_per_step = 10
    config.gdas.warmup_epochs = 200
    config.eval.every_epochs = 25
    config.search.strategy = "evolution"
    config.search.budget = 1000
    return config
