"""SPOS in the DARTS / NAS-Bench-301 cell space at paper scale: DARTS's search network and its
search hyper-parameters (quark0/darts cnn/train_search.py: init_channels 16, layers 8, batch 64,
SGD lr 0.025 cosine to 0.001, momentum 0.9 without Nesterov, weight decay 3e-4, gradient clip
5, 50 epochs; DARTS trains on half of the CIFAR-10 training set, as the cifar10-valid split
here). Each step trains one genotype drawn uniformly (`jaxnas.spaces.darts`): SPOS's sampling
in place of DARTS's architecture parameters.

    jaxnas train --config configs/darts_spos.py --workdir runs/darts_spos --data tfds:cifar10

Ranking evaluation is off: jaxnas has no DARTS ground truth yet (eval.every_epochs=0).
"""

from jaxnas.train.defaults import base_config, darts_scale


def get_config():
    return darts_scale(base_config())
