"""The stand-alone trainer's configs: every key, its default and its rule.

Three config types (`config_type`), told apart by `space` and `network.kind`: NB201's
(`base_config`), DARTS's evaluation network (`darts_config`, the final training of a genotype,
`jaxnas final`; no `network.kind`) and DARTS's search network (`darts_search_config`,
`network.kind="search"`: the networks the DARTS supernet shares weights between, a ground truth
for ranking it). NB201's defaults are NAS-Bench-201's stand-alone recipe (AutoDL
`configs/nas-benchmark/hyper-opts/200E.config`): SGD with Nesterov momentum 0.9, lr 0.1 cosine
to 0, weight decay 5e-4, batch 256, 200 epochs, no gradient clipping, C=16 N=5 on 32x32 images
with random crop (pad 4) and flips. `mini_scale` is the CPU-sized scale of the NB201 mini
supernet configs, `file.py:mini` (C8 N1 16x16, pad 2); `darts_mini_scale` the DARTS mini
supernet's (C4, 3 cells, 16x16, pad 2).
"""

import ml_collections

from jaxnas import config as config_lib
from jaxnas import spaces
from jaxnas.errors import ConfigError
from jaxnas.schema import (Rule, boolean, check_rules, count, data_source, error,
                           finite_nonnegative, fraction, int_in, one_of, positive_int, seed,
                           text)
from jaxnas.train import rules, standalone_step

KIND = "standalone"
SEARCH = "search"  # `network.kind` of DARTS's search-network config (`darts_search_config`)


def base_config():
    c = ml_collections.ConfigDict()
    c.kind = KIND  # marks a stand-alone config (`jaxnas train` configs have no such key)
    c.seed = 0     # seeds every network's initialisation, data order and augmentation
    c.space = "nb201"
    # Cells to train: `num` seeded non-isomorphic cells (NB201: the 200 fixed evaluation cells
    # of `jaxnas evaluate` first, then more drawn with `seed`), or the cells listed in `file`
    # (one architecture string or NB201 index per line; `#` comments).
    c.archs = dict(num=200, seed=0, file="")
    c.data = dict(source="tfds:cifar10", resolution=32, pad=4, flip=True, cache_dir="")
    c.network = dict(C=16, N=5, num_classes=10, edge_impl="auto", conv_impl="auto",
                     cell_loop="auto")
    c.optim = dict(lr=0.1, min_lr=0.0, momentum=0.9, nesterov=True, weight_decay=5e-4, clip=None)
    # k: networks trained at once (0 = as many as `memory_fraction` of the free memory holds,
    # at most `max_k`); checkpoints at every epoch's end and every `checkpoint_every_minutes`.
    # eval_every_epochs: every that many epochs (0: never) the held-out accuracy and loss of
    # each network join the epoch's line of metrics.jsonl: a learning curve per cell.
    # loop: how a stack's step runs its K networks, "vmap" (batched: every edge runs every op),
    # "map" (one after another inside the step) or "auto" (map on the CPU, vmap elsewhere).
    # on_divergence: a network whose epoch loss is not finite stops the run ("stop": one line,
    # the checkpoints kept) or is recorded in the table without accuracy while the rest train
    # on ("record": a long table is not held up by one cell; readers skip such rows).
    c.train = dict(epochs=200, batch_size=256, k=0, max_k=64, memory_fraction=0.5, loop="auto",
                   eval_batch_size=256, eval_every_epochs=0, checkpoint_every_minutes=10.0,
                   keep_checkpoints=2, on_divergence="stop")
    return c


def darts_config():
    """DARTS's evaluation recipe (quark0/darts `cnn/train.py` defaults): C=36, 20 cells, the
    auxiliary head after cell 2*layers//3 with loss weight 0.4, cutout 16, drop path 0.2
    (raised linearly by epoch: prob * epoch / epochs), 600 epochs at batch 96, SGD (momentum
    0.9, not Nesterov) lr 0.025 cosine to 0, weight decay 3e-4, gradient norm clipped at 5, on
    the whole CIFAR-10 training split (`data.split="full"`: no held-out part), evaluated on the
    test split. The cosine runs per step here (DARTS steps it per epoch). The network's
    structure is its genotype, so each genotype is its own program: `train.k` is 1."""
    c = ml_collections.ConfigDict()
    c.kind = KIND
    c.seed = 0
    c.space = "darts"
    c.archs = dict(num=1, seed=0, file="")
    # split: "full" trains on the whole training split (DARTS), "valid" on the cifar10-valid
    # halves (a held-out accuracy for ground-truth tables).
    # train_subset: train on the first N images of the split in a seeded order (0: all of them).
    c.data = dict(source="tfds:cifar10", resolution=32, pad=4, flip=True, cutout=16,
                  split="full", train_subset=0, cache_dir="")
    c.network = dict(C=36, layers=20, num_classes=10, auxiliary=True, auxiliary_weight=0.4,
                     drop_path_prob=0.2)
    c.optim = dict(lr=0.025, min_lr=0.0, momentum=0.9, nesterov=False, weight_decay=3e-4,
                   clip=5.0)
    c.train = dict(epochs=600, batch_size=96, k=1, max_k=1, memory_fraction=0.5, loop="auto",
                   eval_batch_size=256, eval_every_epochs=0, checkpoint_every_minutes=10.0,
                   keep_checkpoints=2, on_divergence="stop")
    return c


def darts_search_config():
    """DARTS's search network (`jaxnas.supernet.darts`: BN without affine parameters, a BN after
    the pools, FactorizedReduce skips) with one fixed genotype and the vanilla sharing map, each
    (cell, edge) its own weights: the network the DARTS supernet trains a path of, trained
    alone from its own initialisation, as NB201's stand-alone networks are the NB201 supernet's.
    The genotype is a runtime array: one compiled step serves every genotype, K at once, like
    NB201's. Trained on the cifar10-valid training half, ranked by the held-out half.

    The recipe is the DARTS supernet's (`defaults.darts_scale`, quark0/darts
    `cnn/train_search.py`): SGD lr 0.025 cosine to 0.001, momentum 0.9 without Nesterov, weight
    decay 3e-4, gradient norm clipped at 5, batch 64, 50 epochs, with the supernet's
    augmentation (random crop, pad 4 at 32x32, and flips). No stand-alone recipe is published
    for this network; NB201's (lr 0.1, batch 256, no clipping) was tuned for NB201's network
    with affine BNs, while these are the settings the weights being ranked were trained with
    and those DARTS trains its own networks with (lr 0.025, clip 5 in `cnn/train.py` too)."""
    c = ml_collections.ConfigDict()
    c.kind = KIND
    c.seed = 0
    c.space = "darts"
    c.archs = dict(num=100, seed=0, file="")
    c.data = dict(source="tfds:cifar10", resolution=32, pad=4, flip=True, cache_dir="")
    # kind "search": this config type (`darts_config` has no kind: the evaluation network)
    c.network = dict(kind=SEARCH, C=16, layers=8, num_classes=10)
    c.optim = dict(lr=0.025, min_lr=0.001, momentum=0.9, nesterov=False, weight_decay=3e-4,
                   clip=5.0)
    c.train = dict(epochs=50, batch_size=64, k=0, max_k=64, memory_fraction=0.5, loop="auto",
                   eval_batch_size=256, eval_every_epochs=0, checkpoint_every_minutes=10.0,
                   keep_checkpoints=2, on_divergence="stop")
    return c


def config_type(config):
    """"nb201", "darts" (the evaluation network) or "darts_search" (`network.kind="search"`)."""
    if config.get("space") != "darts":
        return "nb201"
    network = config.get("network")
    kind = network.get("kind") if isinstance(network, ml_collections.ConfigDict) else None
    return "darts" if kind is None else "darts_search"


def base_config_for(config):
    """The defaults of `config`'s type (`config_type`)."""
    return {"nb201": base_config, "darts": darts_config,
            "darts_search": darts_search_config}[config_type(config)]()


# Per space: the stand-alone config of the networks its supernet shares weights between, and
# the `supernet.*` keys that size them (trained landmarks, `landmark.table="train"`).
SUPERNET_NETWORKS = {"nb201": (base_config, ("C", "N", "num_classes")),
                     "darts": (darts_search_config, ("C", "layers", "num_classes"))}


def for_supernet(run_config):
    """The stand-alone config of the networks `run_config`'s supernet (a `jaxnas train` config)
    shares weights between, sized as that supernet (width, depth, classes) with its images
    (source, resolution, crop padding, flips, cache), seed and epochs; the space's own recipe."""
    make, keys = SUPERNET_NETWORKS[run_config.get("space", "nb201")]
    s = make()
    s.seed = run_config.seed
    for key in ("source", "resolution", "pad", "flip", "cache_dir"):
        s.data[key] = run_config.data[key]
    for key in keys:
        s.network[key] = run_config.supernet[key]
    s.train.epochs = run_config.train.epochs
    return s


def per_genotype(config):
    """Whether `config`'s network structure is its genotype (DARTS's evaluation network): one
    compiled program per genotype, K=1."""
    return config_type(config) == "darts"


def mini_scale(config):
    """C=8, N=1, 16x16 images (pad 2): the scale of the mini supernet configs (`file.py:mini`)."""
    config.data.resolution = 16
    config.data.pad = 2
    config.network.C = 8
    config.network.N = 1
    return config


def darts_mini_scale(config):
    """C=4, 3 cells, 16x16 images (pad 2): the DARTS mini supernet's scale
    (`configs/darts_spos.py:mini`)."""
    config.data.resolution = 16
    config.data.pad = 2
    config.network.C = 4
    config.network.layers = 3
    return config


ON_DIVERGENCE = ("stop", "record")

RULES = {
    "kind": one_of(KIND),
    "seed": seed(),
    "space": one_of(*sorted(standalone_step.NETWORKS)),
    "archs.num": positive_int(),
    "archs.seed": seed(),
    "archs.file": text(),
    **rules.DATA_RULES,
    "network.C": positive_int(),
    "network.N": positive_int(),
    "network.num_classes": int_in(2),
    **rules.impl_rules("network"),
    **rules.SGD_RULES,
    "train.epochs": positive_int(),
    "train.batch_size": positive_int(),
    "train.k": count(),
    "train.max_k": positive_int(),
    "train.memory_fraction": Rule("a number in (0, 1]", lambda v: isinstance(v, (int, float))
                                  and not isinstance(v, bool) and 0 < v <= 1),
    "train.loop": one_of(*standalone_step.LOOPS),
    "train.eval_batch_size": positive_int(),
    "train.eval_every_epochs": count(),
    "train.checkpoint_every_minutes": finite_nonnegative(),
    "train.keep_checkpoints": positive_int(),
    "train.on_divergence": one_of(*ON_DIVERGENCE),
}

DARTS_RULES = {
    **{k: v for k, v in RULES.items() if not k.startswith("network.")},
    "data.cutout": count(),
    "data.split": one_of("full", "valid"),
    "data.train_subset": count(),
    "network.C": positive_int(),
    "network.layers": int_in(3),
    "network.num_classes": int_in(2),
    "network.auxiliary": boolean(),
    "network.auxiliary_weight": finite_nonnegative(),
    "network.drop_path_prob": fraction(upper_open=True),
    "train.k": Rule("0 or 1 (a DARTS network's structure is its genotype: one per program)",
                    lambda v: v in (0, 1) and not isinstance(v, bool)),
    "train.max_k": Rule("1 (one genotype per program)", lambda v: v == 1
                        and not isinstance(v, bool)),
}


DARTS_SEARCH_RULES = {
    **{k: v for k, v in RULES.items() if not k.startswith("network.")},
    "network.kind": Rule(f"{SEARCH!r} (the evaluation network is darts_config(), without "
                         f"this key)", lambda v: v == SEARCH),
    "network.C": positive_int(),
    "network.layers": int_in(3),
    "network.num_classes": int_in(2),
}

TYPE_RULES = {"nb201": RULES, "darts": DARTS_RULES, "darts_search": DARTS_SEARCH_RULES}


def _check_darts(config):
    """The DARTS network's cross-key rules, one line each."""
    n, d = config.network, config.data
    if n.C % 2:
        raise error("network.C", n.C, "an even number (FactorizedReduce halves the channels)")
    if d.resolution % 4:
        raise error("data.resolution", d.resolution, "a multiple of 4 (two reductions)")
    if config.train.eval_every_epochs and d.get("split", "valid") == "full":
        raise ConfigError(f"config key 'train.eval_every_epochs' is "
                          f"{config.train.eval_every_epochs}; allowed: 0 with data.split='full' "
                          f"(nothing is held out to evaluate)")
    if n.get("auxiliary") and d.resolution < 32:
        raise ConfigError(f"config key 'data.resolution' is {d.resolution}; the auxiliary head "
                          f"(network.auxiliary=True) needs at least 32 (it pools 5x5 stride 3 "
                          f"and convolves 2x2 the 8x8 map after the second reduction)")


# Keys whose change does not change what a checkpoint or a finished row means.
# `archs.file` is among them: the workdir's cells.txt is compared with the cells themselves, so a
# copy of the run resumes from another checkout's list of the same cells.
RESUMABLE_KEYS = ("data.source", "data.cache_dir", "archs.file",
                  "train.checkpoint_every_minutes", "train.keep_checkpoints", "train.max_k",
                  "train.memory_fraction", "train.eval_every_epochs", "train.on_divergence")


def is_standalone(config):
    """Whether `config` is a stand-alone trainer's config (it has `kind="standalone"`)."""
    return config.get("kind") == KIND


def check(config, *, values=True, paths=True):
    """ConfigError naming the first unknown key, then (with `values`) the first value the rules
    reject (one line: key, value, what is allowed). Returns `config`."""
    if not is_standalone(config):
        raise ConfigError("not a stand-alone config (no kind='standalone'); start from "
                          "jaxnas.train.standalone_config.base_config()")
    ctype = config_type(config)
    config_lib.check_keys(config, base_config_for(config))
    if values:
        base = TYPE_RULES[ctype]
        rules = base if paths else {**base, "data.source": data_source(paths=False)}
        check_rules(config, rules)
        spaces.get(config.space)
        if ctype != "nb201":
            _check_darts(config)
    return config


def override(config, overrides):
    """Apply command-line `key=value` overrides; returns `config`."""
    config_lib.apply_overrides(config, list(overrides))
    return config


def scale(config):
    """The scale's short name in tables, e.g. `C8-N1-16px` (DARTS: `C36-L20-32px`, its search
    network `C4-L3-16px-search`)."""
    ctype = config_type(config)
    if ctype != "nb201":
        suffix = "-search" if ctype == "darts_search" else ""
        return f"C{config.network.C}-L{config.network.layers}-{config.data.resolution}px{suffix}"
    return f"C{config.network.C}-N{config.network.N}-{config.data.resolution}px"
