"""The landmark coefficient per epoch: zero during the supernet warm-up, then a cosine increase.

The reference (`adjust_landmark_coef`, called once per epoch, so the coefficient is constant
within an epoch) computes, for the 0-based epoch e, W warm-up epochs and E epochs in total:

    e < W:  0                                  (and the regulariser's forwards are skipped)
    else:   coef * 0.5 * (1 - cos(pi * (e - W + 1) / E))                 "cosine_increase"

Its period is E, not E - W, so the coefficient never reaches `coef`: at the last epoch it is
coef * 0.5 * (1 - cos(pi * (E - W) / E)), e.g. 6.91 of 10 for the NB201 setting E=400, W=150,
and 0.5 of `coef` when W = E/2. The paper's Eq. 7 reads as a ramp to `coef`;
"cosine_increase_full" uses the period E - W and reaches `coef` exactly at the last epoch:

    else:   coef * 0.5 * (1 - cos(pi * (e - W + 1) / (E - W)))           "cosine_increase_full"

"constant" (coef after the warm-up) is the reference's ablation without its linear ramp-in.
Epochs passed to `coefficient` are 1-based, as the training loop's `epoch_start`.
"""

import math

from jaxnas.errors import ConfigError

SCHEDULES = ("cosine_increase", "cosine_increase_full", "constant")


def check(schedule, warmup_epochs, epochs):
    if schedule not in SCHEDULES:
        raise ConfigError(f"unknown landmark.schedule {schedule!r}; choose one of {SCHEDULES}")
    if not isinstance(warmup_epochs, int) or not 0 <= warmup_epochs < epochs:
        raise ConfigError(f"landmark.warmup_epochs must be an int in 0..{epochs - 1} (train.epochs "
                          f"is {epochs}; the regulariser starts after it), got {warmup_epochs!r}")


def coefficient(epoch, *, coef, warmup_epochs, epochs, schedule="cosine_increase"):
    """The regulariser's coefficient during the 1-based `epoch` (a Python float)."""
    check(schedule, warmup_epochs, epochs)
    e = epoch - 1
    if e < warmup_epochs:
        return 0.0
    t = e - warmup_epochs + 1
    if schedule == "constant":
        return float(coef)
    period = epochs if schedule == "cosine_increase" else epochs - warmup_epochs
    return float(coef) * 0.5 * (1.0 - math.cos(math.pi * t / period))
