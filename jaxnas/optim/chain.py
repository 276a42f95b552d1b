"""Edits of a named chain: how techniques change the base optimizer without owning it.

A technique lists `Edit`s (`jaxnas.train.technique`): insert a part before or after a named one,
replace a part, or append one. `apply_edits` applies every technique's edits in order and refuses
two techniques replacing the same part, or an edit naming a part that does not exist.
"""

from jaxnas.errors import ConfigError

KINDS = ("before", "after", "replace", "append")


def apply_edits(parts, edits):
    """New list of `(name, transform)` after `edits`, a sequence of `(owner, Edit)` pairs."""
    parts = list(parts)
    owners = {name: "base" for name, _ in parts}
    replaced = {}
    for owner, edit in edits:
        names = [name for name, _ in parts]
        if edit.kind not in KINDS:
            raise ConfigError(f"{owner}: unknown optimizer edit {edit.kind!r}; choose one of "
                              f"{KINDS}")
        if edit.kind == "replace":
            if edit.name not in names:
                raise ConfigError(f"{owner} replaces optimizer part {edit.name!r}, which is not in "
                                  f"the chain {names}")
            if edit.name in replaced:
                raise ConfigError(f"{replaced[edit.name]} and {owner} both replace the optimizer "
                                  f"part {edit.name!r}; they cannot be combined")
            replaced[edit.name] = owner
            parts[names.index(edit.name)] = (edit.name, edit.transform)
            continue
        if edit.name in owners:
            raise ConfigError(f"{owner} adds optimizer part {edit.name!r}, which "
                              f"{owners[edit.name]} already has; names in the chain must be "
                              f"unique")
        if edit.kind == "append":
            parts.append((edit.name, edit.transform))
        else:
            if edit.anchor not in names:
                raise ConfigError(f"{owner} inserts {edit.name!r} {edit.kind} optimizer part "
                                  f"{edit.anchor!r}, which is not in the chain {names}")
            at = names.index(edit.anchor) + (edit.kind == "after")
            parts.insert(at, (edit.name, edit.transform))
        owners[edit.name] = owner
    return parts
