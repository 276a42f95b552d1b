"""Everything that combines, in one CPU-sized run: landmark regularisation + CaLR + momentum
separation + ABS shrinking + GDAS, then regularised evolution over the trained supernet.

    jaxnas run --config configs/nb201_combined_mini.py --workdir runs/combined_mini \
        --data /path/to/cifar10-image-folder

`nb201_combined.py` at the mini scale of `nb201_spos_mini.py` (C=8, N=1, 16x16 images, 50
epochs). Each technique's phase is scaled from its reference to 50 epochs: landmark pairs after
a 20-epoch warm-up (the reference: 150 of 400), one ABS shrinking step after 20 epochs (10 of
the 30 operators, as the paper-scale config; the landmark set then moves into the shrunk
space), GDAS's architecture steps in the last 10 epochs (the Landmark paper's GDAS: 50 epochs
after 400 of SPOS), tau 10 -> 0.1 over them. `jaxnas run` then ranks 200 cells
and runs evolution (1,000 cells, population 50, tournament 10) in the shrunk space; the GDAS
result (argmax of its architecture logits) is written beside it.

CLOSE is not in the mix: it cannot combine with CaLR (both replace the learning-rate schedule),
with ABS shrinking (which scores cells under the static sharing map) or with GDAS (whose
architecture step runs the plain supernet); `jaxnas train` says so when a config lists them
together.
"""

from pathlib import Path

from jaxnas.config import load_config
from jaxnas.train.defaults import mini_scale


def get_config():
    """`nb201_combined.py` (the same techniques and settings) at mini scale, phases rescaled."""
    config = mini_scale(load_config(Path(__file__).with_name("nb201_combined.py")))
    config.landmark.warmup_epochs = 20
    config.abs.shrink.start_epoch = 20
    config.gdas.warmup_epochs = 40
    return config
