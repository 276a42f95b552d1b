"""Stand-alone ground truth at the mini scale (C=8, N=1, 16x16 images, pad 2): the networks the
`*_mini` supernets share weights between, each trained alone with NB201's recipe.

    jaxnas standalone --config configs/standalone_mini.py --workdir runs/standalone_mini \
        --data /path/to/cifar10-image-folder --archs 300

`train.epochs` is 50, the mini supernets' epochs (experiments/README.md says how the count was
checked with a pilot).
"""

from jaxnas.train.standalone_config import base_config, mini_scale


def get_config():
    config = mini_scale(base_config())
    config.train.epochs = 50
    return config
