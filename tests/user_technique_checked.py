"""A user's technique that declares the rules of its config block: `schema()` beside
`config_block()`, so that `jaxnas.train.rules.check` rejects a bad value of its block (named
`user_technique_checked.<key>`) before anything is built, as it does for the base config's keys."""

from jaxnas import schema as rules
from jaxnas.train.technique import Technique


def config_block():
    return dict(weight=0.5, warmup_epochs=1, mode="sum")


def schema():
    return {"weight": rules.fraction(), "warmup_epochs": rules.count(),
            "mode": rules.one_of("sum", "mean")}


def technique(config, run):
    del config, run
    return Technique(name="user_technique_checked")
