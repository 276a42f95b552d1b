"""SPOS + landmark regularisation on the CPU-sized supernet (C=8, N=1, 16x16 images, 50 epochs).

    jaxnas train --config configs/nb201_landmark_mini.py --workdir runs/landmark_mini \
        --data /path/to/cifar10-image-folder

Everything as `nb201_spos_mini.py` (optimizer, batch 64, evaluation) except the regulariser, so
the two runs differ only by it: 30 random landmarks (the paper's number), one pair per step,
hinge, coefficient 10 with the reference's cosine increase, switched on after a 20-epoch
warm-up (the reference's 150 of 400, scaled to 50 epochs and rounded as in
`nb201_combined_mini.py`).

During the warm-up the step is the plain SPOS step (the landmark term is off, not multiplied by
zero); it compiles a second time when the coefficient turns positive, and from then on costs
about 4x an SPOS step (two more forwards and backwards; `experiments/bench_landmark.py`).
"""

from jaxnas.train.defaults import base_config, mini_scale


def get_config():
    config = mini_scale(base_config(techniques=("landmark",)))
    config.landmark.warmup_epochs = 20
    return config
