"""SPOS + landmark regularisation on the CPU-sized supernet (C=8, N=1, 16x16 images, 50 epochs).

    jaxnas train --config configs/nb201_landmark_mini.py --workdir runs/landmark_mini \
        --data /path/to/cifar10-image-folder

Everything as `nb201_spos_mini.py` (optimizer, batch 64, evaluation) except the regulariser, so
the two runs differ only by it: 30 random landmarks (the paper's number), one pair per step,
hinge, coefficient 10 with the reference's cosine increase, switched on after a 20-epoch
warm-up (the reference's 150 of 400, scaled to 50 epochs and rounded as in
`nb201_combined_mini.py`).

`skip_warmup=False`: on the CPU the landmark networks run every step (times the zero
coefficient during the warm-up, so the parameters are those of the skipping step up to float
rounding). Inside the `lax.cond` that skips them, XLA's weight gradients of the supernet's stem
and reduction convolutions are slow loops (`jaxnas.supernet.conv`), which makes a regularised
step about 18x an SPOS step instead of about 4x (`experiments/bench_landmark.py`); once those
convolutions have conditional-safe gradients, `landmark.skip_warmup=True` is the faster choice.
"""

from jaxnas.train.defaults import base_config, mini_scale


def get_config():
    config = mini_scale(base_config(techniques=("landmark",)))
    config.landmark.warmup_epochs = 20
    config.landmark.skip_warmup = False
    return config
