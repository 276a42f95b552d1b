"""Stand-alone ground truth: each cell trained alone with NAS-Bench-201's recipe (SGD Nesterov
lr 0.1 cosine, weight decay 5e-4, batch 256).

    jaxnas standalone --config configs/standalone.py:mini --workdir runs/standalone_mini \
        --data /path/to/cifar10-image-folder --archs 300
    jaxnas standalone --config configs/standalone.py --workdir runs/standalone \
        --data tfds:cifar10 --archs 200

paper: NAS-Bench-201's scale (C=16, N=5, 32x32, 200 epochs).
mini: the networks the mini supernets share weights between (C=8, N=1, 16x16 images, pad 2),
50 epochs, the mini supernets' epochs (experiments/README.md section 17 says how the count was
chosen with a pilot).
"""

from jaxnas.train.defaults import scale_arg
from jaxnas.train.standalone_config import base_config, mini_scale


def get_config(arg="paper"):
    scale, _ = scale_arg(arg)
    if scale == "paper":
        return base_config()
    config = mini_scale(base_config())
    config.train.epochs = 50
    return config
