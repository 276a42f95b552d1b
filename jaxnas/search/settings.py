"""The search settings of a run: `config.search` (read by `jaxnas run` and `jaxnas search`).

Kept apart from the strategies so that configs and the base config can import the defaults
without importing JAX.
"""

from jaxnas.errors import ConfigError

STRATEGIES = ("random", "evolution", "gdas")


def config_block():
    """Defaults of the search settings (`config.search`, read by `jaxnas run`)."""
    return dict(
        strategy="evolution",  # random | evolution | gdas (the run must train search.gdas)
        budget=1000,           # cells scored (evolution: the Landmark paper's final search)
        metric="accuracy",     # scorer: accuracy (held-out images), angle, magnitude...
        seed=0,                # seeds the strategy's proposals
        population_size=50,    # evolution: population (Landmark / Real et al.: 50)
        tournament_size=10,    # evolution: tournament drawn with replacement (Landmark: 10)
        num_batches=0,         # held-out batches of eval.batch_size per cell; 0 = eval.num_batches
    )


def settings(config=None, **given):
    """The search settings: `config_block()`, then the run config's `search` block if it has
    one, then the arguments that are not None."""
    opts = config_block()
    if config is not None and "search" in config:
        opts.update(config.search.to_dict())
    opts.update({k: v for k, v in given.items() if v is not None})
    if opts["strategy"] not in STRATEGIES:
        raise ConfigError(f"unknown search strategy {opts['strategy']!r}; choose one of "
                          f"{', '.join(STRATEGIES)}")
    return opts
