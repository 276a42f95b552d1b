"""Config rules: a `Rule` tests one value and says in words what it allows.

The rule constructors (`positive_int`, `fraction`, `finite_positive`, `one_of`, ...) and the
one-line error (`error`: the key, the value and what is allowed) import nothing heavy, so the
command line checks its arguments without starting JAX. The base config's table of rules is
`jaxnas.train.rules`; a technique module may define `schema() -> {key in its block: Rule}`.
"""

import dataclasses
import math
import re
from pathlib import Path
from typing import Callable, Union

import ml_collections

from jaxnas.errors import ConfigError

INT_MAX = 2**31 - 1  # sizes, counts and seeds end up in int32 arrays and shapes
SEED_MAX = 2**32 - 1
TFDS_PREFIX = "tfds:"


@dataclasses.dataclass(frozen=True)
class Rule:
    """What a key allows: `ok(value) -> bool`, and `allowed`, the same in words (`words` is the
    text, or a function making it when an error is reported)."""

    words: Union[str, Callable[[], str]]
    ok: Callable[[object], bool]

    @property
    def allowed(self):
        return self.words() if callable(self.words) else self.words


# -- rule constructors -------------------------------------------------------------------------

def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _finite(v):
    """Whether the number `v` is finite as a float (a huge int overflows: not finite)."""
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


def int_in(low, high=INT_MAX, allowed=None):
    """An integer (not a bool) in [low, high]."""
    return Rule(allowed or f"an integer in [{low}, {high}]",
                lambda v: _is_int(v) and low <= v <= high)


def positive_int(high=INT_MAX):
    """An integer >= 1 (sizes, epochs, counts that cannot be zero)."""
    return int_in(1, high, f"an integer in [1, {high}]")


def count():
    """An integer >= 0 (counts where 0 means off or all)."""
    return int_in(0, INT_MAX, f"an integer in [0, {INT_MAX}]")


def seed():
    """A seed: an integer in [0, 2**32 - 1] (numpy and JAX both accept it)."""
    return int_in(0, SEED_MAX)


def finite_positive():
    """A finite number > 0 (learning rates, temperatures)."""
    return Rule("a finite number > 0", lambda v: _is_real(v) and _finite(v) and v > 0)


def finite_nonnegative():
    """A finite number >= 0 (weight decay, minutes, 0 = off)."""
    return Rule("a finite number >= 0", lambda v: _is_real(v) and _finite(v) and v >= 0)


def fraction(upper_open=False):
    """A probability-like number in [0, 1] (or [0, 1) with `upper_open`, e.g. a momentum)."""
    if upper_open:
        return Rule("a number in [0, 1)", lambda v: _is_real(v) and 0 <= v < 1)
    return Rule("a number in [0, 1]", lambda v: _is_real(v) and 0 <= v <= 1)


def boolean():
    return Rule("True or False", lambda v: isinstance(v, bool))


def text(empty=True):
    """A string (a non-empty one unless `empty`)."""
    if empty:
        return Rule("a string", lambda v: isinstance(v, str))
    return Rule("a non-empty string", lambda v: isinstance(v, str) and v.strip() != "")


def one_of(*choices):
    """One of the strings `choices`; a single callable argument gives them lazily (read from a
    module that imports JAX only when a config is checked)."""
    lazy = len(choices) == 1 and callable(choices[0])

    def get():
        return tuple(choices[0]()) if lazy else choices

    return Rule(lambda: "one of " + ", ".join(map(repr, get())),
                lambda v: isinstance(v, str) and v in get())


def optional(rule):
    """`rule`, or None (a setting switched off, e.g. optim.clip=None)."""
    return Rule(f"{rule.allowed} or None", lambda v: v is None or rule.ok(v))


def mapping():
    """A dict (free-form entries such as optim.groups, checked where they are read)."""
    return Rule("a dict", lambda v: isinstance(v, (dict, ml_collections.ConfigDict)))


def names():
    """A tuple of non-empty strings (config.techniques)."""
    return Rule("a tuple of non-empty names, e.g. ('close',)",
                lambda v: isinstance(v, (tuple, list)) and all(
                    isinstance(n, str) and n.strip() for n in v))


def path_exists(kind="dir"):
    """An existing directory (`kind="dir"`) or file (`kind="file"`)."""
    test = Path.is_dir if kind == "dir" else Path.is_file
    return Rule(f"an existing {'folder' if kind == 'dir' else 'file'}",
                lambda v: isinstance(v, str) and v != "" and _safe(test, v))


def _safe(test, v):
    try:
        return test(Path(v))
    except (OSError, ValueError):  # a name too long, a NUL byte
        return False


def folder_path():
    """A folder to create or use ('' = the default): not an existing file, no NUL byte."""
    def ok(v):
        return isinstance(v, str) and "\0" not in v and not (v and _safe(Path.is_file, v))
    return Rule("a folder path (created if missing) or ''", ok)


def coordinator():
    """A multi-host coordinator: '' (one process or the environment), 'auto' or 'host:port'."""
    return Rule("'', 'auto' or 'host:port'", lambda v: isinstance(v, str) and (
        v in ("", "auto") or re.fullmatch(r"\S+:\d+", v) is not None))


def data_source(paths=True):
    """'tfds:<name>' or an image folder (that exists, with `paths`)."""
    folder = path_exists("dir")

    def ok(v):
        if not isinstance(v, str) or not v.strip() or "\0" in v:
            return False
        if v.startswith(TFDS_PREFIX):
            return v[len(TFDS_PREFIX):].strip() != ""
        return folder.ok(v) if paths else True

    return Rule("'tfds:<name>' or an existing image folder (train|test/<class>/*)", ok)


# -- checking ----------------------------------------------------------------------------------

def show(value, limit=60):
    """`repr(value)` on one line, shortened to about `limit` characters."""
    if isinstance(value, ml_collections.ConfigDict):
        value = value.to_dict()
    try:
        text_ = repr(value)
    except Exception:  # e.g. an int too long to print
        text_ = f"<{type(value).__name__}>"
    text_ = " ".join(text_.splitlines())
    return text_ if len(text_) <= limit else text_[:limit - 3] + "..."


def error(key, value, allowed):
    """The one-line ConfigError for `key` set to `value`."""
    return ConfigError(f"config key {key!r} is {show(value)}; allowed: {allowed}")


def _get(config, key):
    """The value at dotted `key`, or `_MISSING` (a config need not have every block)."""
    node = config
    for part in key.split("."):
        if not isinstance(node, (ml_collections.ConfigDict, dict)) or part not in node:
            return _MISSING
        node = node[part]
    return node


_MISSING = object()


def check_rules(config, rules, prefix=""):
    """ConfigError for the first key of `rules` (under `prefix`) whose value `config` breaks."""
    for key, rule in rules.items():
        value = _get(config, prefix + key)
        if value is not _MISSING and not rule.ok(value):
            raise error(prefix + key, value, rule.allowed)
