"""SPOS + landmark regularisation.

    jaxnas train --config configs/nb201_landmark.py:mini --workdir runs/landmark_mini --data DATA
    jaxnas train --config configs/nb201_landmark.py --workdir runs/landmark --data tfds:cifar10

paper: the reference's NB201 settings, from kcyu2014/nas-landmarkreg
`bash/exps/validate-landmarkloss.sh` (NB201 block): 400 epochs, 150 of supernet warm-up, batch
256, SGD momentum 0.9 without Nesterov, lr 0.025 cosine to 0.001, weight decay 5e-4, gradient
clip 5; 50 random landmarks, one pair per step, hinge on the cross-entropies, coefficient 10
with the reference's cosine increase (it ends at 6.9, see `jaxnas.techniques.landmark.schedule`),
the regulariser batch from the held-out half. Ranking every 30 epochs on 200 non-landmark
cells. Departures: the supernet is the standard per-edge NB201 supernet (the reference's default
`op_on_node` cell shares the weights of edges 3<-1 and 3<-2); landmarks are ranked by NB201
x-valid accuracy, as the evaluation (the reference uses ori-test for both); architectures are
scored on the first 10 batches of 256 held-out images (the reference: the 10k test set), which
the regulariser never sees (`landmark.eval_reserve`). The paper's text uses 30 landmarks
(`config_block`'s default); the script uses 50, as here.

mini: everything as the SPOS mini config (optimizer, batch 64, evaluation) except the
regulariser, so the two runs differ only by it: 30 random landmarks (the paper's number), one
pair per step, hinge, coefficient 10 with the reference's cosine increase, switched on after a
20-epoch warm-up (the reference's 150 of 400, scaled to 50 epochs and rounded as in the
combined config). During the warm-up the step is the plain SPOS step (the landmark term is off,
not multiplied by zero); it compiles a second time when the coefficient turns positive, and
from then on costs about 4x an SPOS step (`experiments/bench_landmark.py`).
"""

from jaxnas.train.defaults import base_config, mini_scale, scale_arg


def get_config(arg="paper"):
    scale, _ = scale_arg(arg)
    config = base_config(techniques=("landmark",))
    if scale == "mini":
        config = mini_scale(config)
        config.landmark.warmup_epochs = 20
        return config
    config.train.epochs = 400
    config.train.batch_size = 256
    config.optim.nesterov = False
    config.landmark.num = 50
    config.landmark.warmup_epochs = 150
    config.eval.every_epochs = 30
    config.eval.num_batches = 10
    return config
