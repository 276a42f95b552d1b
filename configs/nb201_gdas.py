"""GDAS on the NAS-Bench-201 supernet at paper scale: AutoDL's NB201 settings.

    jaxnas run --config configs/nb201_gdas.py --workdir runs/gdas --data tfds:cifar10

From D-X-Y/AutoDL-Projects `configs/nas-benchmark/algos/GDAS.config` and `GDAS.sh`: 240 epochs
without warm-up, batch 64, SGD Nesterov momentum 0.9, lr 0.025 cosine to 0.001, weight decay
5e-4; architecture logits trained on the held-out half with Adam (lr 3e-4, betas (0.5, 0.999),
weight decay 1e-3), tau 10 -> 0.1 over the epochs (`jaxnas.techniques.gdas`). The found cell is the
argmax of the logits (`jaxnas search --strategy gdas`, which `jaxnas run` writes beside the
config's own search); the supernet is also ranked every 30 epochs like every other arm.

The Landmark paper regularises GDAS: list "landmark" too and set `gdas.warmup_epochs` (its
NB201 run: 400 epochs of SPOS + landmark, then 50 of GDAS).
"""

from jaxnas.train.defaults import base_config


def get_config():
    config = base_config(techniques=("gdas",))
    config.train.epochs = 240
    config.eval.every_epochs = 30
    return config
