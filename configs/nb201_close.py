"""CLOSE: curriculum on the sharing extent (GLOW blocks picked by a GATE).

    jaxnas train --config configs/nb201_close.py:mini --workdir runs/close_mini --data DATA
    jaxnas train --config configs/nb201_close.py --workdir runs/close --data tfds:cifar10
    jaxnas train --config configs/nb201_close.py:mini,structure ...   # variants, below

The reference curriculum is the released `cl-246` + SRT config of aw_nas: GLOW blocks added at
epochs 1, 201, 401, 601 of 1000 (k_max 4), LR and momentum restart at 401. GATE sizes and tau
are the reference's (the `close` defaults). The optimizer is the SPOS one (cosine, Nesterov),
not the reference's plateau schedule, so CLOSE and SPOS differ only in the method.

paper: the curriculum scaled to 250 epochs: blocks at 1, 51, 101, 151, restart at 101; ranking
every 25 epochs. (The reference optimizer: optim.lr=0.05 optim.nesterov=False
train.epochs=1000, as the `faithful_schedule` variant at mini scale.)
mini: the SPOS mini supernet and steps, the curriculum compressed 20x: blocks at 1, 11, 21, 31,
restart at 21.

Cells are drawn as the reference draws them (`sampler="unique_conv"`: uniform over the 6,321
non-isomorphic cells with a convolution on a live path); `sampler=uniform` draws from all
15,625 cells instead.

Variants (comma-separated after the scale):
  structure          the structure-aware GATE (`close.gate_variant="structure"`), a departure
                     from the reference: layer norm between its GCN layers, logits centred over
                     fixed reference cells, its own Adam (lr 1e-3, no weight decay) from the
                     second block on, argmax scoring.
  faithful_schedule  mini only: the released aw_nas CLOSE optimizer: SGD lr 0.05, momentum 0.9
                     without Nesterov, weight decay 5e-4, clip 5, ReduceLROnPlateau (factor 0.5)
                     on the epoch's mean training loss, re-created at the SRT epoch; patience
                     30 epochs compressed 20x to 2 (1.5 rounded up). Batch 64 and 16x16 images
                     as every mini config (the reference: 256, 32x32).
"""

from jaxnas.errors import ConfigError
from jaxnas.techniques.close.technique import curriculum, structure_gate
from jaxnas.train.defaults import base_config, mini_scale, scale_arg


def get_config(arg="paper"):
    scale, variants = scale_arg(arg, ("structure", "faithful_schedule"))
    config = base_config(techniques=("close",))
    if scale == "mini":
        config = curriculum(mini_scale(config), (1, 11, 21, 31), (21,))
    else:
        config = curriculum(config, (1, 51, 101, 151), (101,))
        config.eval.every_epochs = 25
    config.sampler = "unique_conv"
    if "structure" in variants:
        structure_gate(config)
    if "faithful_schedule" in variants:
        if scale != "mini":
            raise ConfigError("config variant 'faithful_schedule' exists at mini scale only")
        config.close.lr_schedule = "plateau"
        config.close.plateau.patience = 2
        config.optim.lr = 0.05
        config.optim.nesterov = False
    return config
