"""Stand-alone ground truth at NAS-Bench-201's scale and recipe (C=16, N=5, 32x32, 200 epochs,
SGD Nesterov lr 0.1 cosine, weight decay 5e-4, batch 256).

    jaxnas standalone --config configs/standalone.py --workdir runs/standalone \
        --data tfds:cifar10 --archs 200
"""

from jaxnas.train.standalone_config import base_config


def get_config():
    return base_config()
