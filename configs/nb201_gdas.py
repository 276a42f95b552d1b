"""GDAS on the NAS-Bench-201 supernet.

    jaxnas run --config configs/nb201_gdas.py:mini --workdir runs/gdas_mini --data DATA
    jaxnas run --config configs/nb201_gdas.py --workdir runs/gdas --data tfds:cifar10

paper: AutoDL's NB201 settings, from D-X-Y/AutoDL-Projects `configs/nas-benchmark/algos/
GDAS.config` and `GDAS.sh`: 240 epochs without warm-up, batch 64, SGD Nesterov momentum 0.9,
lr 0.025 cosine to 0.001, weight decay 5e-4; architecture logits trained on the held-out half
with Adam (lr 3e-4, betas (0.5, 0.999), weight decay 1e-3), tau 10 -> 0.1 over the epochs
(`jaxnas.techniques.gdas`). The found cell is the argmax of the logits (`jaxnas search
--strategy gdas`, which `jaxnas run` writes beside the config's own search); the supernet is
also ranked every 30 epochs like every other arm.
mini: the SPOS mini scale; the architecture logits train from the first epoch, tau 10 -> 0.1
over the 50 epochs. Each step is a weight step and an architecture step, about twice an SPOS
step.

The Landmark paper regularises GDAS: list "landmark" too and set `gdas.warmup_epochs` (its
NB201 run: 400 epochs of SPOS + landmark, then 50 of GDAS).
"""

from jaxnas.train.defaults import base_config, mini_scale, scale_arg


def get_config(arg="paper"):
    scale, _ = scale_arg(arg)
    config = base_config(techniques=("gdas",))
    if scale == "mini":
        return mini_scale(config)
    config.train.epochs = 240
    config.eval.every_epochs = 30
    return config
