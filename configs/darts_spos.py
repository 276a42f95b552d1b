"""SPOS in the DARTS / NAS-Bench-301 cell space, and the techniques ported there.

    jaxnas train --config configs/darts_spos.py:mini --workdir runs/darts_mini --data DATA
    jaxnas train --config configs/darts_spos.py --workdir runs/darts_spos --data tfds:cifar10
    jaxnas train --config configs/darts_spos.py:mini,calr,ms ...          # variants, below
    jaxnas train --config configs/darts_spos.py:mini,landmark ... landmark.table=W/table.csv
    jaxnas run --config configs/darts_spos.py:mini,gdas --workdir runs/darts_gdas --data DATA

paper: DARTS's search network and search hyper-parameters (`defaults.darts_scale`, from
quark0/darts cnn/train_search.py: init_channels 16, layers 8, batch 64, SGD lr 0.025 cosine to
0.001, momentum 0.9 without Nesterov, weight decay 3e-4, gradient clip 5, 50 epochs; DARTS
trains on half of the CIFAR-10 training set, as the cifar10-valid split here). Each step trains
one genotype drawn uniformly (`jaxnas.spaces.darts`): SPOS's sampling in place of DARTS's
architecture parameters.
mini: C=4, 3 cells (one normal cell and the two reduction cells), 16x16 images, 5 epochs, the
same optimizer (an epoch's 390 train steps take about 15 s on the idle 2-core CPU; section 16
of experiments/README.md).
Ranking evaluation is off at both scales: no DARTS ground truth ships (rank a trained run
against genotypes you trained: `jaxnas evaluate --gt TABLE.csv`, e.g. the table of
`jaxnas standalone --config configs/standalone.py:mini,darts`, this supernet's networks).
`jaxnas run` trains, then searches (`search.strategy` random or evolution; gdas after the
`gdas` variant) and returns a `Genotype(...)`.

Variants (comma-separated after the scale; any combination):
  calr      CaLR (DYNAS): LR 0.025 * (1 - t/T) ** gamma, gamma log-linear in [1/4, 4] in the
            genotype's parameter count at the run's width (`Space.complexity_bounds` gives the
            cheapest and dearest genotypes); replaces the cosine, as in NB201.
  ms        momentum separation (DYNAS): one momentum buffer per op of one edge every genotype
            uses (node 2's input 0 or 1, normal or reduction cell: `ms.edge` in 0, 1, 14, 15,
            drawn from `seed` by default), 7 groups.
  landmark  landmark regularisation with the NB201 configs' settings (30 random landmarks, the
            regulariser after 60% of the epochs, hinge); DARTS has no packaged ground truth, so
            `landmark.table=` must name a CSV (`arch` column of Genotype text, e.g. a
            `jaxnas standalone` run's W/table.csv) or JSON genotype -> accuracy, or be
            `train`: the landmarks trained stand-alone in DARTS's search network first.
  abs       ABS angle-based shrinking as AngleNAS's DARTS code: from a fifth of the run, every 5
            epochs (every epoch at mini), each edge of both cells drops its lowest operator
            (28 per step), an operator (cell type, edge, op) scoring the mean angle of 1,000
            genotypes of the current space containing it, drawn seeded; 6 steps leave 2 ops
            per edge (AngleNAS's end point; mini's 5 epochs give 4 steps). W0 is the initial
            supernet (AngleNAS's is after its warm-up stages, which DARTS here has not).
  gdas      GDAS (`jaxnas.techniques.gdas`): Gumbel-softmax logits [28, 8] trained on the
            held-out half (Adam lr 3e-4, betas (0.5, 0.999), weight decay 1e-3, tau 10 -> 0.1);
            `jaxnas search --strategy gdas` derives the genotype (per node the two strongest
            edges, each with its best non-`none` op). At paper scale it takes AutoDL's DARTS-space
            GDAS search (`configs/search-opts/GDAS-NASNet-CIFAR.config`, `search-archs/
            GDAS-NASNet-CIFAR.config`, `NASNet-space-search-by-GDAS.sh`): C=16, 6 cells (N=2),
            250 epochs, batch 256, SGD Nesterov lr 0.025 cosine to 0.001, weight decay 5e-4,
            clip 5. Its search network differs from this supernet (DARTS's) in small ways: a
            BN + ReLU before the global pooling (AutoDL's `lastact`) and no BN after the pools.
            Each step is a weight step and an architecture step, about twice an SPOS step.
`sampler=fairnas` works too (7 paths on one topology per step, `jaxnas.train.samplers`). Not in
DARTS yet, refused in one line by the config check: close (`jaxnas/train/rules.py`).
"""

from jaxnas.train.defaults import base_config, darts_scale, scale_arg

VARIANTS = ("abs", "calr", "ms", "landmark", "gdas")


def get_config(arg="paper"):
    scale, variants = scale_arg(arg, VARIANTS)
    config = darts_scale(base_config(techniques=tuple(v for v in VARIANTS if v in variants)))
    if "calr" in variants:
        config.calr.gamma_max = 4.0   # the reference's --max_coeff
        config.calr.eta_min = 0.0
    if "ms" in variants:
        config.ms.rule = "edge_op"
        config.ms.num_groups = 7      # the non-none ops of a node-2 edge
        config.ms.edge = -1           # one of 0, 1, 14, 15, drawn from config.seed
    if "landmark" in variants:
        config.landmark.table = ""    # the user's genotype table (required: no packaged one)
    if "abs" in variants:
        s = config.abs.shrink
        s.metric, s.drop_rule = "angle", "per_edge"
        s.drop_per_step = 28          # one per edge of both cells (AngleNAS: 14, one cell)
        s.num_steps = 6               # 8 ops -> 2 per edge
        s.start_epoch, s.every_epochs = 0.2, 5
        s.samples_per_op = 1000       # AngleNAS's sample_num
    if "gdas" in variants and scale == "paper":  # AutoDL's GDAS search in the DARTS space
        config.supernet.layers = 6
        config.train.epochs = 250
        config.train.batch_size = 256
        config.optim.nesterov = True
        config.optim.weight_decay = 5e-4
    if scale == "mini":
        config.data.resolution = 16
        config.data.pad = 2
        config.supernet.C = 4
        config.supernet.layers = 3
        config.train.epochs = 5
        if "abs" in variants:
            config.abs.shrink.every_epochs = 1
    return config
