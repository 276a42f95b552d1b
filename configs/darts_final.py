"""Final training of one DARTS genotype, as DARTS evaluates it (`jaxnas final`).

    jaxnas final --config configs/darts_final.py:mini --arch DARTS_V2 --workdir W \
        --data /path/to/cifar10-image-folder

paper: quark0/darts `cnn/train.py` defaults and the paper's CIFAR-10 evaluation (Liu et al.,
ICLR 2019, section 3.2 / A.2): `NetworkCIFAR` with C=36 and 20 cells, auxiliary head (weight
0.4), cutout 16, drop path 0.2 raised linearly by epoch, 600 epochs, batch 96, SGD lr 0.025
(momentum 0.9, weight decay 3e-4) cosine to 0, gradient norm clipped at 5, the whole 50k
training split, test accuracy at the end (`standalone_config.darts_config`).

mini: the same recipe at a size this 2-core CPU trains in minutes: C=8 and 5 cells (reductions
at cells 1 and 3; the smallest depth with a normal cell between and after the reductions) on
32x32 images, so the auxiliary head runs as DARTS's (it needs the 8x8 map of 32x32 inputs;
16x16 images would drop it); 3,000 training images (a seeded 6% of the split) for 3 epochs;
batch 96, cutout 16 and drop path 0.2 as the paper, so the mini run exercises every piece of the
recipe; evaluated on the whole test split. Sized to the shared CPU: a first mini try (5,000
images, 6 epochs) took 376 s for its first epoch of 52 steps at load average ~14 (7.2 s a
step; experiments/README section 16), so this one trains 93 steps and stays near 20 minutes
with the test evaluation; on an idle machine it takes a few minutes.
"""

from jaxnas.train.defaults import scale_arg
from jaxnas.train.standalone_config import darts_config


def get_config(arg="paper"):
    scale, _ = scale_arg(arg)
    config = darts_config()
    if scale == "paper":
        return config
    config.network.C = 8
    config.network.layers = 5
    config.data.train_subset = 3_000
    config.train.epochs = 3
    return config
