"""SPOS + landmark regularisation at paper scale: the reference's NB201 settings.

    jaxnas train --config configs/nb201_landmark.py --workdir runs/landmark --data tfds:cifar10

From kcyu2014/nas-landmarkreg `bash/exps/validate-landmarkloss.sh` (NB201 block): 400 epochs,
150 of supernet warm-up, batch 256, SGD momentum 0.9 without Nesterov, lr 0.025 cosine to
0.001, weight decay 5e-4, gradient clip 5; 50 random landmarks, one pair per step, hinge on the
cross-entropies, coefficient 10 with the reference's cosine increase (it ends at 6.9, see
`jaxnas.techniques.landmark.schedule`), the regulariser batch from the held-out half. Ranking every 30
epochs on 200 non-landmark cells.

Departures: the supernet is the standard per-edge NB201 supernet (the reference's default
`op_on_node` cell shares the weights of edges 3<-1 and 3<-2); landmarks are ranked by NB201
x-valid accuracy, as the evaluation (the reference uses ori-test for both); architectures are
scored on the first 10 batches of 256 held-out images (the reference: the 10k test set), which
the regulariser never sees (`landmark.eval_reserve`). The paper's text uses 30 landmarks
(`config_block`'s default); the script uses 50, as here.
"""

from jaxnas.train.defaults import base_config


def get_config():
    config = base_config(techniques=("landmark",))
    config.train.epochs = 400
    config.train.batch_size = 256
    config.optim.nesterov = False
    config.landmark.num = 50
    config.landmark.warmup_epochs = 150
    config.eval.every_epochs = 30
    config.eval.num_batches = 10
    return config
