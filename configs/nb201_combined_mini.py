"""Everything that combines, in one CPU-sized run: landmark regularisation + CaLR + momentum
separation + ABS shrinking + GDAS, then regularised evolution over the trained supernet.

    jaxnas run --config configs/nb201_combined_mini.py --workdir runs/combined_mini \
        --data /path/to/cifar10-image-folder

The mini scale of `nb201_spos_mini.py` (C=8, N=1, 16x16 images, 50 epochs). Each technique's
phase is scaled from its reference to 50 epochs: landmark pairs after a 20-epoch warm-up (the
reference: 150 of 400), one ABS shrinking step after 20 epochs (dropping 20 of the 30
operators), GDAS's architecture steps in the last 10 epochs (the Landmark paper's GDAS: 50
epochs after 400 of SPOS), tau 10 -> 0.1 over them. `jaxnas run` then ranks 200 cells and runs
evolution (1,000 cells, population 50, tournament 10) in the shrunk space; the GDAS result
(argmax of its architecture logits) is written beside it.

CLOSE is not in the mix: it cannot combine with CaLR (both replace the learning-rate schedule),
with ABS shrinking (which scores cells under the static sharing map) or with GDAS (whose
architecture step runs the plain supernet); `jaxnas train` says so when a config lists them
together.
"""

from jaxnas.search.settings import config_block as search_block
from jaxnas.train.defaults import base_config, mini_scale


def get_config():
    config = mini_scale(base_config(
        techniques=("landmark", "dynamic.calr", "dynamic.ms", "angle", "search.gdas")))
    config.landmark.warmup_epochs = 20
    config.calr.gamma_max = 4.0
    config.calr.eta_min = 0.0
    config.ms.rule = "edge_op"
    config.ms.edge = 3
    config.angle.shrink.start_epoch = 20
    config.gdas.warmup_epochs = 40
    config.search = search_block()  # read by `jaxnas run` (strategy, budget, metric, ...)
    config.search.strategy = "evolution"
    config.search.budget = 1000
    return config
