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
  close     CLOSE (`jaxnas.techniques.close`) as aw_nas's NB301 CloseNet: per cell a pool of
            k_max GLOW blocks (a reduction cell two: its edges from the inputs read stride-2
            blocks at the same GATE index), an edge's block drawn per sampled genotype by the
            GATE (GCNFlowArchEmbedder of the NB301 configs `nb301/node_cl-*_lr-4_mlp-200x3_wit`:
            node/op/hidden 32, GCN [64]*4, MLP 200x3, tau 5; one decision per genotype edge,
            a normal and a reduction group); blocks added with WIT inheritance. The curriculum
            is the released `cl-246` + SRT one (k_max 4, blocks at epochs 1, 201, 401, 601 of
            1000, LR restart at 401) scaled to DARTS's 50 epochs: blocks at 1, 11, 21, 31,
            restart at 21; the optimizer is the DARTS base's (the reference: SGD 0.05, plateau,
            batch 256, 1000 epochs), so CLOSE and SPOS differ only in the method, as in
            configs/nb201_close.py. mini: k_max 3, blocks at epochs 1, 3, 5, restart at 5 (the
            third block's epoch, as 401 in the reference). Each step runs every active block on
            each genotype edge (cost ~ level x an SPOS step's cell ops).
`sampler=fairnas` works too (7 paths on one topology per step, `jaxnas.train.samplers`).
"""

from jaxnas.techniques.close.technique import curriculum
from jaxnas.train.defaults import base_config, darts_scale, scale_arg

VARIANTS = ("abs", "calr", "ms", "landmark", "gdas", "close")


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
    if "close" in variants:  # the NB301 GATE sizes (aw_nas nb301/node_cl-* configs)
        config.close.gate.update(dict(op_emb_dim=32, node_emb_dim=32, hid_dim=32,
                                      gcn_out_dims=(64,) * 4, mlp_dims=(200, 200, 200)))
        if scale == "mini":
            curriculum(config, (1, 3, 5), (5,), k_max=3)
        else:
            curriculum(config, (1, 11, 21, 31), (21,), k_max=4)
    if scale == "mini":
        config.data.resolution = 16
        config.data.pad = 2
        config.supernet.C = 4
        config.supernet.layers = 3
        config.train.epochs = 5
        if "abs" in variants:
            config.abs.shrink.every_epochs = 1
    return config
