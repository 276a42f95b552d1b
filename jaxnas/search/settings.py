"""The search settings of a run: `config.search` (read by `jaxnas run` and `jaxnas search`).

The defaults are the base config's block (`jaxnas.train.defaults.search_block`).
"""

from jaxnas.errors import ConfigError
from jaxnas.train.defaults import search_block
from jaxnas.train.rules import SEARCH_STRATEGIES as STRATEGIES


def settings(config=None, **given):
    """The search settings: the defaults, then the run config's `search` block if it has one,
    then the arguments that are not None."""
    opts = search_block()
    if config is not None and "search" in config:
        opts.update(config.search.to_dict())
    opts.update({k: v for k, v in given.items() if v is not None})
    if opts["strategy"] not in STRATEGIES:
        raise ConfigError(f"unknown search strategy {opts['strategy']!r}; choose one of "
                          f"{', '.join(STRATEGIES)}")
    return opts
