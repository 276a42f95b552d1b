"""SPOS in the DARTS / NAS-Bench-301 cell space.

    jaxnas train --config configs/darts_spos.py:mini --workdir runs/darts_mini --data DATA
    jaxnas train --config configs/darts_spos.py --workdir runs/darts_spos --data tfds:cifar10

paper: DARTS's search network and search hyper-parameters (`defaults.darts_scale`, from
quark0/darts cnn/train_search.py: init_channels 16, layers 8, batch 64, SGD lr 0.025 cosine to
0.001, momentum 0.9 without Nesterov, weight decay 3e-4, gradient clip 5, 50 epochs; DARTS
trains on half of the CIFAR-10 training set, as the cifar10-valid split here). Each step trains
one genotype drawn uniformly (`jaxnas.spaces.darts`): SPOS's sampling in place of DARTS's
architecture parameters.
mini: C=4, 3 cells (one normal cell and the two reduction cells), 16x16 images, 5 epochs, the
same optimizer (about 4.4 minutes per epoch on 2 shared CPU cores, experiments/README.md).
Ranking evaluation is off at both scales: jaxnas has no DARTS ground truth yet (rank a trained
run against genotypes you trained: `jaxnas evaluate --gt TABLE.csv`). `jaxnas run` trains, then
searches (`search.strategy` random or evolution) and returns a `Genotype(...)`.
"""

from jaxnas.train.defaults import base_config, darts_scale, scale_arg


def get_config(arg="paper"):
    scale, _ = scale_arg(arg)
    config = darts_scale(base_config())
    if scale == "mini":
        config.data.resolution = 16
        config.data.pad = 2
        config.supernet.C = 4
        config.supernet.layers = 3
        config.train.epochs = 5
    return config
