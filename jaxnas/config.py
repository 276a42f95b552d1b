"""Experiment configs: Python files with a `get_config()` returning an `ml_collections.ConfigDict`.

As in big_vision, a file may take one argument, named after a colon: `configs/nb201_spos.py:mini`
calls `get_config("mini")` (each shipped method has one file with a paper and a mini scale).

Configs are locked after loading, so a mistyped key in a file or on the command line is an error
naming the key, not a silently ignored setting. Command-line overrides are `dotted.key=value`; the
value is parsed as a Python literal and must have the type of the value it replaces.
"""

import ast
import difflib
import importlib.util
import inspect
import json
from pathlib import Path

import ml_collections

from jaxnas.errors import ConfigError


def split_arg(spec):
    """`"file.py:arg"` -> `(Path("file.py"), "arg")`; `(path, None)` when no argument is named."""
    text = str(spec)
    head, sep, arg = text.rpartition(":")
    if sep and head.endswith(".py") and "/" not in arg:
        return Path(head), arg
    return Path(text), None


def load_config(path, arg=None):
    """Load `get_config()` (or `get_config(arg)`; `path` may be `file.py:arg`) from a Python config
    file; ConfigError if it is missing, broken, or refuses the argument."""
    if arg is None:
        path, arg = split_arg(path)
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    if path.suffix != ".py":
        raise ConfigError(f"config {path} is not a Python file (.py) with get_config()")
    spec = importlib.util.spec_from_file_location(f"jaxnas_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # a user's file: report any failure in one line
        raise ConfigError(f"cannot load config {path}: {type(e).__name__}: {e}") from e
    get_config = getattr(module, "get_config", None)
    if not callable(get_config):
        raise ConfigError(f"config {path} has no get_config() function")
    if arg is not None and not _takes_argument(get_config):
        raise ConfigError(f"config {path} takes no argument (its get_config() has no "
                          f"parameter), got {path}:{arg}")
    try:
        config = get_config() if arg is None else get_config(arg)
        if not isinstance(config, ml_collections.ConfigDict):
            config = ml_collections.ConfigDict(config)
    except ConfigError:
        raise
    except Exception as e:  # the user's get_config() failed, or returned no mapping
        raise ConfigError(f"get_config() of {path} failed: {type(e).__name__}: {e}") from e
    config.lock()
    return config


def _takes_argument(fn):
    try:
        return len(inspect.signature(fn).parameters) >= 1
    except (TypeError, ValueError):
        return True


def _suggest(key, config):
    """A known key for a mistyped one: one with the same last part in another block first
    (`train.lr` -> `optim.lr`), else the closest whole key."""
    keys = _flat_keys(config)
    leaf = key.strip().rsplit(".", 1)[-1]
    close = ([k for k in keys if k.rsplit(".", 1)[-1] == leaf]
             or difflib.get_close_matches(key, keys, n=1))
    return f" (did you mean {close[0]!r}?)" if close else ""


def _flat_keys(config, prefix=""):
    keys = []
    for k, v in config.items():
        keys.append(prefix + k)
        if isinstance(v, ml_collections.ConfigDict):
            keys.extend(_flat_keys(v, prefix + k + "."))
    return keys


def _parse_value(raw, old, key):
    try:
        value = ast.literal_eval(raw)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        value = raw  # a bare word is a string (so is text Python cannot parse)
    if old is None or value is None or isinstance(value, type(old)):
        return value  # None switches an optional setting off (e.g. optim.clip=None)
    if isinstance(old, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(old, (tuple, list)) and isinstance(value, (tuple, list)):
        return type(old)(value)
    if isinstance(old, str):
        return raw
    raise ConfigError(f"config key {key!r} expects {type(old).__name__}, got {raw!r}")


def apply_overrides(config, overrides):
    """Apply `key=value` strings to a (locked) config in place; ConfigError for unknown keys."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key, raw = item.split("=", 1)
        *parents, leaf = key.strip().split(".")
        node = config
        for part in parents:
            if part not in node or not isinstance(node[part], ml_collections.ConfigDict):
                raise ConfigError(f"unknown config key {key!r}{_suggest(key, config)}")
            node = node[part]
        if leaf not in node or isinstance(node[leaf], ml_collections.ConfigDict):
            raise ConfigError(f"unknown config key {key!r}{_suggest(key, config)}")
        value = _parse_value(raw.strip(), node[leaf], key)
        try:
            with node.unlocked():
                node[leaf] = value
        except (TypeError, ValueError) as e:  # ConfigDict's own type check
            raise ConfigError(f"config key {key!r} cannot be {raw!r}: {e}") from e
    return config


def check_keys(config, reference, prefix="", free=()):
    """ConfigError if `config` has a key that `reference` (the defaults) does not know; keys
    below the dotted paths in `free` (user-named entries such as `optim.groups`) are not checked."""
    for k, v in config.items():
        if k not in reference:
            raise ConfigError(f"unknown config key {prefix + k!r}{_suggest(prefix + k, reference)}")
        if prefix + k in free:
            continue
        if isinstance(v, ml_collections.ConfigDict) and isinstance(
                reference[k], ml_collections.ConfigDict):
            check_keys(v, reference[k], prefix + k + ".", free)


def to_json(config):
    return json.dumps(config.to_dict(), indent=2, sort_keys=True)


def from_json(text, base=None):
    """A locked config from `to_json` text; with `base` (the defaults), keys the text lacks (a run
    written by an older version) keep their default values."""
    try:
        stored = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"stored config is not valid JSON: {e}") from e
    if base is None:
        config = ml_collections.ConfigDict(stored)
    else:
        config = base
        _merge(config, stored, "")
    config.lock()
    return config


def _merge(node, values, prefix, free=("optim.groups",)):
    for k, v in values.items():
        if k not in node:
            raise ConfigError(f"unknown config key {prefix + k!r}")
        if prefix + k in free and isinstance(v, dict):  # user-named entries: taken as stored
            node[k] = ml_collections.ConfigDict(v)
            continue
        if isinstance(node[k], ml_collections.ConfigDict) and isinstance(v, dict):
            _merge(node[k], v, prefix + k + ".", free)
            continue
        try:
            node[k] = v
        except TypeError as e:
            raise ConfigError(f"config key {prefix + k!r}: {e}") from e


def epochs_of(value, total, key, minimum=0):
    """An epoch-valued setting in epochs: a value in [0, 1) is a fraction of the run's `total`
    epochs (rounded down), a value >= 1 a number of epochs; so one config trains at any
    `train.epochs`. At least `minimum`. ConfigError naming `key` for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 \
            or value != value or value == float("inf"):
        raise ConfigError(f"{key} must be a number of epochs >= 1 or a fraction of train.epochs "
                          f"in [0, 1), got {value!r}")
    epochs = int(value * total) if value < 1 else int(value)
    return max(minimum, epochs)
