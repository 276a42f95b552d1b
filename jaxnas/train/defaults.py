"""The default config: every key a jaxnas experiment may set, with its default.

`base_config(techniques=(...))` is the base's keys plus, for each technique, its config block
(`config.<block>`, the technique module's `config_block()`). Config files in `configs/` start
from it and change what they need; keys that are not here are rejected (`check`), so a typo
cannot silently fall back to a default.
"""

import ml_collections

from jaxnas import config as config_lib
from jaxnas.errors import ConfigError
from jaxnas.train import registry, rules


def base_config(techniques=()):
    c = ml_collections.ConfigDict()
    c.seed = 0
    # Techniques combined with the base (SPOS): e.g. ("close", "landmark"). Each owns a config
    # block of its name (`close`, `landmark`, `calr`, `ms`, `abs`, `gdas`; `jaxnas.techniques`).
    c.techniques = registry.canonical_names(techniques)
    # The search space (`jaxnas.spaces`) and the part of it the run starts in: "" = all of it,
    # else the space's mask text (NB201: 6 comma-separated groups of allowed op digits per edge,
    # e.g. an ABS run's logged `space`, to train SPOS on a shrunk space).
    c.space = "nb201"
    c.space_mask = ""
    # Data: an image folder (train|test/<class>/*) or "tfds:cifar10". The NB201 cifar10-valid
    # protocol splits the training set 25k/25k: the supernet trains on one half and architectures
    # are scored on the other.
    c.data = dict(source="tfds:cifar10", resolution=32, pad=4, flip=True, cache_dir="")
    # NB201 reads C, N (cells per stage) and the rest; the DARTS space reads C, layers (cells,
    # reductions at layers//3 and 2*layers//3) and num_classes.
    c.supernet = dict(C=16, N=5, num_classes=10, slots_per_cell=6, edge_impl="auto",
                      conv_impl="auto", cell_loop="auto", layers=8)
    c.sharing = "vanilla"  # vanilla: one slot per (cell, edge); cell: one slot per cell
    # uniform over 15,625 cells (SPOS), unique: the 6,466 classes, fairnas: 5 paths per step
    c.sampler = "uniform"
    # SGD as the NB201 search scripts (AutoDL configs/nas-benchmark/algos): Nesterov, wd 5e-4,
    # cosine from 0.025 to 0.001, gradient clipping at norm 5. `groups` gives top-level parameter
    # entries their own optimizer, e.g. groups={"gate": {"optimizer": "adam", "lr": 1e-3}}
    # (keys: optimizer sgd|adam|frozen, lr, weight_decay, momentum, nesterov, clip, b1, b2).
    c.optim = dict(lr=0.025, min_lr=0.001, momentum=0.9, nesterov=True, weight_decay=5e-4,
                   clip=5.0, groups={})
    # Checkpoints: at each epoch's end, every `checkpoint_every_steps` steps (0 = not by steps)
    # and every `checkpoint_every_minutes` of training (0 = not by time), so that a kill loses at
    # most that much work; the newest `keep_checkpoints` are kept. `path_loop`: how a step with
    # several paths (FairNAS) runs them, "scan" | "unroll" | "auto" (`train.step.make_train_step`).
    # A step whose loss, gradient norm or new parameters are not finite stops the run (a
    # DivergenceError naming the step; the newest checkpoint stays the last finite one), or with
    # `skip_nonfinite` is skipped: its update is not applied, and the epoch's log counts it.
    c.train = dict(epochs=250, batch_size=64, checkpoint_every_steps=0,
                   checkpoint_every_minutes=10.0, keep_checkpoints=2, path_loop="auto",
                   skip_nonfinite=False)
    # Ranking evaluation during training: every `every_epochs` epochs (0 = never), score
    # `num_archs` fixed non-isomorphic architectures on `num_batches` batches of the held-out half.
    # `table`: a stand-alone ground truth that in-training evaluation and `jaxnas run`'s ranking
    # and search stages use instead of NB201's (its `gt` column; its own cells, not `num_archs`):
    # nb201-mini or a `jaxnas standalone` CSV of the run's space (the only truth a DARTS run
    # has); '' = NB201's.
    c.eval = dict(every_epochs=0, num_archs=200, seed=0, batch_size=256, num_batches=2, gt="valid",
                  table="")
    # Search after training (`jaxnas run`, `jaxnas search`): strategy, budget, metric...
    c.search = search_block()
    # Devices and hosts (jaxnas.parallel). train.batch_size is the global batch, split evenly over
    # `num_devices` devices (0 = every device of every process); training and scoring use them.
    # batch_norm: "global" = statistics of the global batch, as one device computes them;
    # "per_device" = of each device's shard. Several hosts: one command per host with
    # coordinator="host0:port", num_processes and this host's process_id (or coordinator="auto"
    # on TPU pods / SLURM / Open MPI, or JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and
    # JAX_PROCESS_ID in the environment); "" and no environment = one process.
    c.parallel = dict(num_devices=0, batch_norm="global", coordinator="", num_processes=1,
                      process_id=0)
    for name in techniques:
        add_block(c, name)
    return c


def search_block():
    """Defaults of the search settings (`config.search`, read by `jaxnas run` and `search`)."""
    return dict(
        strategy="evolution",  # random | evolution | gdas (the run must train gdas)
        budget=1000,           # cells scored (evolution: the Landmark paper's final search)
        metric="accuracy",     # scorer: accuracy (held-out images), angle, magnitude...
        seed=0,                # seeds the strategy's proposals
        population_size=50,    # evolution: population (Landmark / Real et al.: 50)
        tournament_size=10,    # evolution: tournament drawn with replacement (Landmark: 10)
        num_batches=0,         # held-out batches of eval.batch_size per cell; 0 = eval.num_batches
    )


def migrate(stored):
    """A stored config.json as the current base config names it: runs from before techniques
    composed (`method`), renamed techniques and blocks (`registry.ALIASES`), ABS's start space
    (`angle.space`) now the base's `space_mask`, DARTS runs from before the DARTS supernet
    read `supernet.slots_per_cell` (vanilla sharing: 14)."""
    method = stored.pop("method", None)
    if method is not None and "techniques" not in stored:
        stored["techniques"] = [] if method == "spos" else [method]
        if method != "close":
            stored.pop("close", None)  # the CLOSE block sat in every config then
    stored["techniques"] = [registry.ALIASES.get(n, n) for n in stored.get("techniques", ())]
    for old, new in registry.BLOCK_ALIASES.items():
        if old in stored and new not in stored:
            stored[new] = stored.pop(old)
    abs_block = stored.get("abs")
    if isinstance(abs_block, dict) and "space" in abs_block:
        stored.setdefault("space_mask", abs_block.pop("space"))
    net = stored.get("supernet")
    if (stored.get("space") == "darts" and "close" not in stored.get("techniques", ())
            and stored.get("sharing", "vanilla") == "vanilla" and isinstance(net, dict)
            and net.get("slots_per_cell", 14) < 14):
        net["slots_per_cell"] = 14  # DARTS read no slots_per_cell before CLOSE: one per edge
    return stored


def add_block(config, name):
    """Add technique `name`'s default config block to `config` unless it is there."""
    block = registry.block_name(name)
    if block not in config:
        with config.unlocked():
            config[block] = registry.module(name).config_block()
    return config


def complete(config):
    """Canonical technique names in `config.techniques`, the default block of every listed
    technique that lacks one (e.g. after a command-line `techniques=...` override), then each
    technique's `prepare(config)`; returns `config`. ConfigError if `config.techniques` is not
    a tuple of names (checked first: the blocks are found by name)."""
    rule = rules.RULES["techniques"]
    if not rule.ok(config.techniques):
        raise rules.error("techniques", config.techniques, rule.allowed)
    names = registry.canonical_names(config.techniques)
    if names != tuple(config.techniques):
        config.techniques = names
    for name in names:
        add_block(config, name)
    for name in names:
        prepare = getattr(registry.module(name), "prepare", None)
        if prepare is not None:
            prepare(config)
    return config


def check(config, *, values=True, paths=True):
    """ConfigError naming the first key `config` has that the defaults of its techniques lack,
    then (with `values`) the first value the rules reject (`jaxnas.train.rules`: one line with the
    key, the value and what is allowed). `values=False` checks the keys only (before command-line
    overrides, which may fix a value); `paths=False` does not require data.source to exist (a
    stored run scored without its data). Returns `config`."""
    if "techniques" not in config:
        raise ConfigError("config has no 'techniques' key; start from base_config()")
    complete(config)
    config_lib.check_keys(config, base_config(config.techniques), free=("optim.groups",))
    if values:
        rules.check(config, paths=paths)
    return config


def override(config, overrides):
    """Apply command-line `key=value` overrides to a checked config: `techniques=...` first, so the
    blocks of newly listed techniques exist for the overrides that follow; returns `config`."""
    first = [o for o in overrides if o.split("=", 1)[0].strip() == "techniques"]
    config_lib.apply_overrides(config, first)
    complete(config)
    config_lib.apply_overrides(config, [o for o in overrides if o not in first])
    return config


SCALES = ("paper", "mini")


def scale_arg(arg, variants=()):
    """The argument of a config file's `get_config(arg)` (`--config file.py:mini`): a scale,
    "paper" or "mini", then any of the file's `variants`, comma-separated
    (`nb201_close.py:mini,structure`). Returns `(scale, set of variants)`; ConfigError naming the
    part that is neither."""
    parts = [part.strip() for part in str(arg).split(",")]
    scale, rest = parts[0], set(parts[1:])
    unknown = sorted(rest - set(variants))
    if scale not in SCALES or unknown or len(rest) != len(parts) - 1:
        bad = scale if scale not in SCALES else (unknown[0] if unknown else arg)
        more = f"; variants: {', '.join(variants)}" if variants else ""
        raise ConfigError(f"config argument {bad!r} is not a scale ({' or '.join(SCALES)}){more}")
    return scale, rest


def mini_scale(config):
    """The CPU-sized experiment of every NB201 config's mini scale (`file.py:mini`): C=8, N=1,
    16x16 images, 50 epochs, ranking evaluated every 5 epochs (an SPOS run takes about 10
    minutes on 2 cores)."""
    config.data.resolution = 16
    config.data.pad = 2
    config.supernet.C = 8
    config.supernet.N = 1
    config.train.epochs = 50
    config.eval.every_epochs = 5
    return config


def darts_scale(config):
    """SPOS in the DARTS cell space with DARTS's search settings (quark0/darts
    cnn/train_search.py: init_channels 16, layers 8, batch 64, SGD lr 0.025 cosine to 0.001,
    momentum 0.9 without Nesterov, weight decay 3e-4, gradient clip 5, 50 epochs). Ranking
    evaluation is off (no DARTS ground truth)."""
    config.space = "darts"
    config.supernet.slots_per_cell = 14  # one per edge (the vanilla supernet)
    config.supernet.C = 16
    config.supernet.layers = 8
    config.optim.lr = 0.025
    config.optim.min_lr = 0.001
    config.optim.momentum = 0.9
    config.optim.nesterov = False
    config.optim.weight_decay = 3e-4
    config.optim.clip = 5.0
    config.train.epochs = 50
    config.train.batch_size = 64
    config.eval.every_epochs = 0
    return config
