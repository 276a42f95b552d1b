"""Parameter groups: a different optimizer for some top-level entries of the parameters.

Parameters are labelled by the first key of their path (`"supernet"`, `"gate"`, ...): a label that
names a group in `config.optim.groups` gets that group's optimizer, every other leaf the default
(technique-edited) chain. `optax.partition` combines them; extra update arguments shaped like the
parameters (CLOSE's `block_mask`) are masked per group.
"""

import jax
import optax

from jaxnas.errors import ConfigError
from jaxnas.optim.sgd import sgd_torch

GROUP_KEYS = {"optimizer": str, "lr": float, "weight_decay": float, "momentum": float,
              "nesterov": bool, "clip": float, "b1": float, "b2": float}
DEFAULT = "default"


def path_labels(groups):
    """`params -> labels`: each leaf labelled by its first path key if that names a group."""
    def first_key(path):
        key = path[0] if path else None
        name = getattr(key, "key", getattr(key, "name", None))
        return name if name in groups else DEFAULT

    return lambda params: jax.tree_util.tree_map_with_path(lambda p, _: first_key(p), params)


def group_transform(name, spec):
    """The optax transformation of one group spec, e.g. `{"optimizer": "adam", "lr": 1e-3}`."""
    for key, value in spec.items():
        if key not in GROUP_KEYS:
            raise ConfigError(f"unknown key {key!r} in optim.groups.{name}; allowed: "
                              f"{sorted(GROUP_KEYS)}")
        if value is not None and not isinstance(value, (GROUP_KEYS[key], int)):
            raise ConfigError(f"optim.groups.{name}.{key} must be {GROUP_KEYS[key].__name__}, "
                              f"got {value!r}")
    kind = spec.get("optimizer", "sgd")
    lr = spec.get("lr", 1e-3)
    wd = spec.get("weight_decay", 0.0)
    if kind == "adam":
        core = optax.adamw(lr, b1=spec.get("b1", 0.9), b2=spec.get("b2", 0.999), weight_decay=wd)
    elif kind == "sgd":
        core = sgd_torch(lr, spec.get("momentum", 0.9), spec.get("nesterov", False), wd)
    elif kind == "frozen":
        core = optax.set_to_zero()
    else:
        raise ConfigError(f"optim.groups.{name}.optimizer must be sgd, adam or frozen, "
                          f"got {kind!r}")
    clip = spec.get("clip")
    return core if clip is None else optax.chain(optax.clip_by_global_norm(clip), core)


def partition(default, groups):
    """`default` for unlisted parameters, each group's own transformation for its entry."""
    if not groups:
        return default
    if DEFAULT in groups:
        raise ConfigError(f"optim.groups cannot be named {DEFAULT!r}")
    transforms = {name: group_transform(name, dict(spec)) for name, spec in groups.items()}
    transforms[DEFAULT] = default
    return optax.partition(transforms, path_labels(set(groups)), mask_compatible_extra_args=True)
