"""The base config's rules: every key's type and range, checked before anything is built.

`RULES` maps each dotted key of the base config (`jaxnas.train.defaults.base_config`) to a
`jaxnas.schema.Rule`. `check(config)` applies them, then `RELATIONS` (rules over several keys,
e.g. a batch that must split over the devices), then each listed technique's own rules (its
module's optional `schema()`, checked as `<block>.<key>`), and raises a one-line ConfigError
naming the key, the value and what is allowed: a bad value stops the run before data is loaded
or a workdir is touched. Free-form entries (`optim.groups`) are only checked to be mappings;
their content is checked where it is read (`jaxnas.optim.groups`).
"""

from jaxnas.schema import (Rule, boolean, check_rules, coordinator, count, data_source, error,
                           finite_nonnegative, finite_positive, folder_path, fraction, int_in,
                           mapping, names, one_of, optional, positive_int, seed, text)
from jaxnas import spaces
from jaxnas.evaluate.groundtruth import MINI_TABLES, names_table
from jaxnas.supernet import ops
from jaxnas.train import registry, samplers, step

SEARCH_STRATEGIES = ("random", "evolution", "gdas")


def table_source():
    """'' (NB201's own truth), a shipped stand-alone table's name or an existing table file."""
    return Rule(f"'', {', '.join(map(repr, MINI_TABLES))} or an existing table file (CSV)",
                lambda v: v == "" or names_table(v))


# Rule groups the stand-alone trainer's config shares (`standalone_config.RULES`).
DATA_RULES = {
    "data.source": data_source(),
    "data.resolution": positive_int(),
    "data.pad": count(),
    "data.flip": boolean(),
    "data.cache_dir": folder_path(),
}
SGD_RULES = {
    "optim.lr": finite_positive(),
    "optim.min_lr": finite_nonnegative(),
    "optim.momentum": fraction(upper_open=True),
    "optim.nesterov": boolean(),
    "optim.weight_decay": finite_nonnegative(),
    "optim.clip": optional(finite_positive()),
}


def impl_rules(block):
    """How the network of `block` ("supernet", "network") is computed: edges, convs, cells."""
    return {f"{block}.edge_impl": one_of("auto", *ops.EDGE_IMPLS),
            f"{block}.conv_impl": one_of("auto", "nested", "xla"),
            f"{block}.cell_loop": one_of("auto", "scan", "unroll")}


RULES = {
    "seed": seed(),
    "techniques": names(),
    "space": one_of(*sorted(spaces.SPACES)),
    "space_mask": text(),
    **DATA_RULES,
    "supernet.C": positive_int(),
    "supernet.N": positive_int(),
    "supernet.layers": int_in(3),
    "supernet.num_classes": int_in(2),
    "supernet.slots_per_cell": positive_int(),
    **impl_rules("supernet"),
    "sharing": one_of("vanilla", "cell"),
    "sampler": one_of(*sorted(samplers.SAMPLERS)),
    **SGD_RULES,
    "optim.groups": mapping(),
    "train.epochs": positive_int(),
    "train.batch_size": positive_int(),
    "train.checkpoint_every_steps": count(),
    "train.checkpoint_every_minutes": finite_nonnegative(),
    "train.keep_checkpoints": positive_int(),
    "train.path_loop": one_of(*step.PATH_LOOPS),
    "train.skip_nonfinite": boolean(),
    "eval.every_epochs": count(),
    "eval.num_archs": positive_int(),
    "eval.seed": seed(),
    "eval.batch_size": positive_int(),
    "eval.num_batches": positive_int(),
    "eval.gt": one_of("valid", "test"),
    "eval.table": table_source(),
    "search.strategy": one_of(*SEARCH_STRATEGIES),
    "search.budget": positive_int(),
    "search.metric": text(empty=False),
    "search.seed": seed(),
    "search.population_size": positive_int(),
    "search.tournament_size": positive_int(),
    "search.num_batches": count(),
    "parallel.num_devices": count(),
    "parallel.batch_norm": one_of("global", "per_device"),
    "parallel.coordinator": coordinator(),
    "parallel.num_processes": positive_int(),
    "parallel.process_id": count(),
}


def _process_id(config):
    p = config.get("parallel")
    if p is not None and p.process_id >= p.num_processes:
        return ("parallel.process_id", p.process_id,
                f"an integer in [0, {p.num_processes - 1}] (parallel.num_processes is "
                f"{p.num_processes})")
    return None


def _batches_split(config):
    """Batches split evenly over `parallel.num_devices` (when given; 0 = every device, known only
    once JAX starts, is checked by the training loop)."""
    p = config.get("parallel")
    n = p.num_devices if p is not None else 0
    for key in ("train.batch_size", "eval.batch_size"):
        block, leaf = key.split(".")
        if n and block in config and config[block][leaf] % n:
            return (key, config[block][leaf],
                    f"a multiple of parallel.num_devices ({n})")
    return None


# What a DARTS run may not use: ranking evaluation during training (NB201 ground truth) and
# unique_conv (NB201's live-convolution rule). Every technique is ported.
_DARTS_SAMPLERS = ("uniform", "unique", "fairnas")


def _space_trains(config):
    """What the DARTS space needs of a config (every technique trains there; landmark with a
    table or trained landmarks): one line naming what it cannot do."""
    if config.get("space", "nb201") != "darts":
        return None
    names = [registry.ALIASES.get(n, n) for n in config.get("techniques", ())]
    if "landmark" in names and config.landmark.table != "train" and \
            not str(config.landmark.table).endswith((".csv", ".json")):
        return ("landmark.table", config.landmark.table, "'train' (landmarks trained "
                "stand-alone) or a .csv or .json table genotype -> accuracy in the DARTS space "
                "(no packaged ground truth; e.g. a `jaxnas standalone` run's W/table.csv)")
    if (config.sharing == "vanilla" and config.supernet.slots_per_cell < 14
            and "close" not in names):
        return ("supernet.slots_per_cell", config.supernet.slots_per_cell, "at least 14 in the "
                "DARTS space with sharing='vanilla' (one slot per edge; close sets its own)")
    if config.sampler not in _DARTS_SAMPLERS:
        return ("sampler", config.sampler, f"one of {_DARTS_SAMPLERS} in the DARTS space "
                f"(unique_conv's live-convolution rule is NB201's)")
    if config.eval.every_epochs and not config.eval.get("table"):
        return ("eval.every_epochs", config.eval.every_epochs, "0 in the DARTS space unless "
                "eval.table names a table of its genotypes (no DARTS ground truth ships)")
    if config.supernet.C % 2:
        return ("supernet.C", config.supernet.C, "an even integer in the DARTS space "
                "(FactorizedReduce halves the channels)")
    if config.data.resolution % 4:
        return ("data.resolution", config.data.resolution, "a multiple of 4 in the DARTS space "
                "(two stride-2 reductions)")
    return None


RELATIONS = (_process_id, _batches_split, _space_trains)


def technique_rules(config):
    """`(block prefix, rules)` of each listed technique whose module defines `schema()`."""
    found = []
    for name in config.get("techniques", ()):
        module = registry.module(name)
        if hasattr(module, "schema"):
            found.append((registry.block_name(name) + ".", dict(module.schema())))
    return found


def check(config, *, paths=True):
    """ConfigError (one line: key, value, what is allowed) for the first value of `config` that
    the schema rejects: the base keys, the relations between them, then each technique's own
    `schema()`. `paths=False` skips the existence of data.source (a stored run scored without
    its data). Returns `config`."""
    rules = RULES if paths else {**RULES, "data.source": data_source(paths=False)}
    check_rules(config, rules)
    for relation in RELATIONS:
        broken = relation(config)
        if broken is not None:
            raise error(*broken)
    for prefix, block_rules in technique_rules(config):
        check_rules(config, block_rules, prefix)
    return config
