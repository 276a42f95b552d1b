"""Stand-alone ground truth: each cell trained alone, K at once (`jaxnas standalone`).

    jaxnas standalone --config configs/standalone.py:mini --workdir runs/standalone_mini \
        --data /path/to/cifar10-image-folder --archs 300
    jaxnas standalone --config configs/standalone.py --workdir runs/standalone \
        --data tfds:cifar10 --archs 200
    jaxnas standalone --config configs/standalone.py:mini,darts --workdir runs/darts_sa_mini \
        --data /path/to/cifar10-image-folder --archs 100

NB201 (no variant), with NAS-Bench-201's recipe (SGD Nesterov lr 0.1 cosine, weight decay 5e-4,
batch 256):
paper: NAS-Bench-201's scale (C=16, N=5, 32x32, 200 epochs).
mini: the networks the mini supernets share weights between (C=8, N=1, 16x16 images, pad 2),
50 epochs, the mini supernets' epochs (experiments/README.md section 17 says how the count was
chosen with a pilot), with each cell's held-out accuracy every 10 epochs in metrics.jsonl (its
learning curve: whether 50 epochs converge, read from every cell).

darts: DARTS genotypes in DARTS's search network, the networks the DARTS supernet shares
weights between (`standalone_config.darts_search_config`: the DARTS supernet's SGD, lr 0.025
cosine to 0.001, no Nesterov, weight decay 3e-4, clip 5, batch 64; held-out half of
cifar10-valid ranks), `num` distinct canonical genotypes (`--archs N`) or a file of Genotype
lines (`--archs FILE`); rows keyed by canonical Genotype text, for `jaxnas evaluate --gt` and
`landmark.table=` of a DARTS run.
paper,darts: DARTS's search scale (C=16, 8 cells, 32x32, 50 epochs): for accelerators (one
network-epoch of the mini scale already took 24-34 s on one core of the shared CPU).
mini,darts: the DARTS mini supernet's scale (`configs/darts_spos.py:mini`: C=4, 3 cells, 16x16
images, pad 2), 20 epochs of 390 steps: four times the mini supernet's 5 epochs, since a
stand-alone network must be trained far enough to rank, and what 100 genotypes cost on this
CPU in well under a day (experiments/README.md section 17, "DARTS genotypes in the search
network": the pilot's step time, genotypes per CPU-hour), with the held-out accuracy every 5
epochs in metrics.jsonl (whether 20 epochs converge).
"""

from jaxnas.train.defaults import scale_arg
from jaxnas.train.standalone_config import (base_config, darts_mini_scale, darts_search_config,
                                            mini_scale)

VARIANTS = ("darts",)


def get_config(arg="paper"):
    scale, variants = scale_arg(arg, VARIANTS)
    if "darts" in variants:
        config = darts_search_config()
        if scale == "mini":
            config = darts_mini_scale(config)
            config.train.epochs = 20
            config.train.eval_every_epochs = 5
        return config
    if scale == "paper":
        return base_config()
    config = mini_scale(base_config())
    config.train.epochs = 50
    config.train.eval_every_epochs = 10
    return config
