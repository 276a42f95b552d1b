"""CLOSE with the structure GATE at paper scale: `nb201_close.py` + `gate_variant="structure"`.

    jaxnas train --config configs/nb201_close_structure.py --workdir runs/close_structure \
        --data tfds:cifar10

Same supernet, curriculum (blocks at epochs 1, 51, 101, 151 of 250; SRT at 101) and supernet
optimizer as `nb201_close.py`; the GATE departs from the reference (`jaxnas/close/technique.py`):
layer norm between its GCN layers, logits centred over fixed reference cells, its own Adam
(lr 1e-3, no weight decay) that starts when the second block arrives, argmax scoring.

Cells are drawn as the reference draws them (`sampler="unique_conv"`: uniform over the 6,321
non-isomorphic cells with a convolution on a live path); `sampler=uniform` draws from all
15,625 cells instead.
"""

from jaxnas.techniques.close.technique import curriculum, structure_gate
from jaxnas.train.defaults import base_config


def get_config():
    config = curriculum(base_config(techniques=("close",)), (1, 51, 101, 151), (101,))
    config.sampler = "unique_conv"
    structure_gate(config)
    config.eval.every_epochs = 25
    return config
