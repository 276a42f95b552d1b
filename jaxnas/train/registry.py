"""Techniques by name: the module behind a name, its canonical name and its config block.

Built-in techniques live in `jaxnas.techniques` (close, landmark, calr, ms, abs, gdas); any
importable module exposing `technique(config, run)` and `config_block()` is a technique too.
Names from earlier versions keep working (`ALIASES`), and a run stores canonical names, so
`state.extra` is keyed the same however a technique was spelled.
"""

import functools
import importlib

from jaxnas.errors import ConfigError

PACKAGE = "jaxnas.techniques"
BUILTIN = ("close", "landmark", "calr", "ms", "abs", "gdas")
ALIASES = {"dynamic.calr": "calr", "dynamic.ms": "ms", "angle": "abs", "search.gdas": "gdas"}
# Config blocks renamed with their technique (stored runs are read through this).
BLOCK_ALIASES = {"angle": "abs"}


def _import(module):
    """The module, or None when it (not something it imports) does not exist."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and module.startswith(e.name):
            return None
        raise


@functools.cache
def module(name):
    """The module of technique `name`: an alias's, `jaxnas.techniques.<name>`, else `<name>`."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"technique names must be non-empty strings, got {name!r}")
    name = ALIASES.get(name, name)
    candidates = [f"{PACKAGE}.{name}"] if name in BUILTIN else []
    for path in candidates + [name]:
        found = _import(path)
        if found is None:
            continue
        if not (hasattr(found, "technique") and hasattr(found, "config_block")):
            raise ConfigError(f"module {path} has no technique(config, run) and config_block(); "
                              f"it is not a jaxnas technique")
        return found
    raise ConfigError(f"unknown technique {name!r}: not one of {', '.join(BUILTIN)} and no "
                      f"module {name} to import")


def canonical(name):
    """The name a run stores for technique `name`: its module's `NAME`, else `name` itself."""
    return getattr(module(name), "NAME", ALIASES.get(name, name))


def block_name(name):
    """The config block of technique `name`: its module's `BLOCK`, else the last dotted part
    of its canonical name (`my.pkg.tech` -> `tech`)."""
    found = module(name)
    return getattr(found, "BLOCK", canonical(name).rsplit(".", 1)[-1])


def canonical_names(names):
    """`names` as canonical names; ConfigError if one is listed twice."""
    if isinstance(names, str):
        raise ConfigError(f"config.techniques must be a tuple of names, got the string {names!r} "
                          f"(write ({names!r},))")
    out = tuple(canonical(n) for n in names)
    if len(set(out)) != len(out):
        raise ConfigError(f"config.techniques lists a technique twice: {list(names)}")
    return out
