"""CLOSE with the structure GATE at paper scale: `nb201_close.py` + `gate_variant="structure"`.

    jaxnas train --config configs/nb201_close_structure.py --workdir runs/close_structure \
        --data tfds:cifar10

Same supernet, curriculum (blocks at epochs 1, 51, 101, 151 of 250; SRT at 101) and supernet
optimizer as `nb201_close.py`; the GATE departs from the reference (`jaxnas/close/technique.py`):
layer norm between its GCN layers, logits centred over fixed reference cells, its own Adam
(lr 1e-3, no weight decay) that starts when the second block arrives, argmax scoring.
"""

from jaxnas.train.defaults import base_config


def get_config():
    config = base_config(techniques=("close",))
    config.supernet.slots_per_cell = 4
    config.close.k_max = 4
    config.close.cl_schedule = (1, 51, 101, 151)
    config.close.restart_epochs = (101,)
    config.close.gate_variant = "structure"
    config.close.eval_noise = False
    config.optim.groups = {"gate": {"optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0}}
    config.eval.every_epochs = 25
    return config
