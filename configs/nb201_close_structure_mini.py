"""CLOSE with the structure GATE on the mini supernet: `nb201_close_mini.py` + `gate_variant`.

    jaxnas train --config configs/nb201_close_structure_mini.py \
        --workdir runs/close_structure_mini --data /path/to/cifar10-image-folder

Same data, supernet, curriculum (blocks at epochs 1, 11, 21, 31; SRT at 21) and supernet
optimizer as `nb201_close_mini.py`; only the GATE differs (departures from the reference, see
`jaxnas/close/technique.py`): layer norm between its GCN layers, logits centred over fixed
reference cells, its own Adam (lr 1e-3, no weight decay) that starts when the second block
arrives, and scoring with the GATE's argmax (no evaluation noise: a cell always reads the blocks
the GATE prefers for it).

Cells are drawn as the reference draws them (`sampler="unique_conv"`: uniform over the 6,321
non-isomorphic cells with a convolution on a live path); `sampler=uniform` draws from all
15,625 cells instead.
"""

from jaxnas.techniques.close.technique import curriculum, structure_gate
from jaxnas.train.defaults import base_config, mini_scale


def get_config():
    config = curriculum(mini_scale(base_config(techniques=("close",))), (1, 11, 21, 31), (21,))
    config.sampler = "unique_conv"
    structure_gate(config)
    return config
