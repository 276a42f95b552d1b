"""Landmark sets: architectures with known stand-alone accuracy, and how to choose them.

A `Table` maps architecture *keys* to a ground-truth accuracy (float64, so that close accuracies
keep their order). Keys come from the run's space (`jaxnas.spaces.Space`, NB201 by default):
official indices (int64) where the space has them (NB201), else the canonical text form
(`Space.to_str`, e.g. DARTS Genotype text), so a table is read and looked up through the Space
protocol. It comes from the packaged NB201 table (`read_table("cifar10-valid")`), an npz
written by `jaxnas.evaluate.groundtruth.save_table` (both NB201 only), a CSV (e.g. a
`jaxnas standalone` run's `W/table.csv`, whose `arch` column holds the space's text form) or
JSON file, or a Python dict, keyed by architecture string or NB201 index.

Selection (`select`), as in the reference (kcyu2014/nas-landmarkreg, `search_space.py` and
`NASBench201HammingDistancePolicy`):
  * "random": M indices uniformly without replacement from the table (the reference's effective
    NB201 default; it includes disconnected cells).
  * "diverse" (NB201 only): the Hamming walk of the paper's Algorithm 1. A root is drawn
    uniformly; each further landmark starts a random walk at the root and mutates one edge at a
    time until its Hamming distance *to the root* exceeds `distance` (at most 500 mutations).
    With `roots=r` the M landmarks are split over r roots (the reference's `hamming-iteration`
    uses 10 per root).
    Departures: duplicates are redrawn (the reference keeps them, so a pair of copies is a
    wasted step) and index 0 is kept (the reference's `if nid:` drops its GT-worst cell).
    Walks that end on a cell missing from the table are redrawn.
  * "fixed": M cells evenly spaced in ground-truth rank, always including the best.
Top-k of a trained supernet (the multi-round pipeline, NB201 only) is
`jaxnas.techniques.landmark.rounds.add_top_k`.

In the train state the set is a `LandmarkState` of fixed-capacity arrays sorted by accuracy
(ascending, as the reference sorts landmark ids by GT rank), so growing the set changes values,
not shapes: no recompilation, and checkpoints restore into the same template.
"""

import csv
import functools
import json
from pathlib import Path
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from jaxnas.errors import ArchError, ConfigError, GroundTruthError
from jaxnas.evaluate import groundtruth
from jaxnas.spaces import NB201, nb201  # nb201: the diverse selection's walk (NB201 only)
from jaxnas.spaces.base import from_text

SELECTIONS = ("random", "diverse", "fixed")
MAX_WALK = 500  # mutations per walk before giving up on the distance, as the reference


class Table(NamedTuple):
    """Ground truth of some architectures: sorted unique keys `indices` `[n]` (NB201 indices
    int64, or canonical texts in a space without indices; `keys_of`) and their accuracies `acc`
    float64 `[n]`."""

    indices: np.ndarray
    acc: np.ndarray

    def lookup(self, indices):
        """Accuracies of keys `indices` (float64, NaN where the table has no entry)."""
        indices = np.asarray(indices, self.indices.dtype)
        pos = np.clip(np.searchsorted(self.indices, indices), 0, len(self.indices) - 1)
        return np.where(self.indices[pos] == indices, self.acc[pos], np.nan)


def _indexed(space) -> bool:
    """Whether `space` keys its tables by official index (finite spaces: NB201)."""
    return space.size is not None


def keys_of(archs, space=NB201) -> np.ndarray:
    """Table keys of architectures `[n, ...]`: official indices (int64) or canonical texts."""
    archs = np.asarray(archs)
    if _indexed(space):
        return np.asarray(space.to_index(archs), np.int64).reshape(-1)
    return np.array([space.to_str(a) for a in archs], dtype=str)


def archs_of(keys, space=NB201) -> np.ndarray:
    """Architectures `[n, ...]` of table keys (the inverse of `keys_of`)."""
    if _indexed(space):
        return np.asarray(space.from_index(np.asarray(keys, np.int64)))
    if len(keys) == 0:
        return np.zeros((0, *space.arch_shape), np.int32)
    return np.stack([space.from_str(str(k)) for k in keys]).astype(np.int32)


def _key_array(keys, space) -> np.ndarray:
    return np.asarray(keys, np.int64) if _indexed(space) else np.asarray(keys, dtype=str)


def _index_of(key, where, space=NB201):
    """Table key of `key`: an int or a string of digits (an official index, where the space has
    them) or an architecture string (the space's text form)."""
    try:
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            key = int(key)
        return keys_of(from_text(space, key)[None], space)[0].item()
    except ArchError as error:
        raise GroundTruthError(f"{where}: bad architecture {key!r} ({error})") from None


def table_from_mapping(mapping, where="landmark table", space=NB201) -> Table:
    """A `Table` from `{architecture string or official index: accuracy}`."""
    if not mapping:
        raise GroundTruthError(f"{where} is empty")
    rows = {}
    for key, value in mapping.items():
        index = _index_of(key, where, space)
        try:
            acc = float(value)
        except (TypeError, ValueError):
            raise GroundTruthError(f"{where}: accuracy of {key!r} is not a number: {value!r}")
        if not np.isfinite(acc):
            raise GroundTruthError(f"{where}: accuracy of {key!r} is not finite: {value!r}")
        if index in rows and rows[index] != acc:
            raise GroundTruthError(f"{where}: index {index} given twice with different "
                                   f"accuracies ({rows[index]} and {acc})")
        rows[index] = acc
    keys = sorted(rows)
    return Table(_key_array(keys, space), np.array([rows[k] for k in keys], np.float64))


def _read_csv(path: Path, metric: str, space=NB201) -> Table:
    """CSV with a header: a column `arch` or `index`, and the accuracy column `metric` (or
    `acc`). The NAS-Landscapes NB201 export (`index, arch, ..., valid_acc, test_acc, ...`) and
    a stand-alone run's `table.csv` fit (`arch` only in a space without indices; its rows of
    diverged cells, without accuracy, are left out)."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        fields = [c.strip() for c in (reader.fieldnames or [])]
        key = "index" if "index" in fields and _indexed(space) else \
            "arch" if "arch" in fields else None
        value = metric if metric in fields else "acc" if "acc" in fields else None
        if key is None or value is None:
            columns = "an 'index' or 'arch'" if _indexed(space) else "an 'arch'"
            raise GroundTruthError(f"{path}: need a header with {columns} column and "
                                   f"a {metric!r} (or 'acc') column, got {fields}")
        standalone = set(groundtruth.METRIC_COLUMNS) <= set(fields)
        mapping = {}
        for row in reader:
            row = {k.strip(): v for k, v in row.items() if k is not None}
            if standalone and groundtruth.is_diverged_row(row):
                continue  # no accuracy: the cell's training diverged
            mapping[row[key]] = row[value]
    return table_from_mapping(mapping, where=str(path), space=space)


def read_table(source="cifar10-valid", metric="valid_acc", space=NB201) -> Table:
    """The ground truth landmarks are ranked by.

    `source`: a packaged NB201 table name ("cifar10-valid"; "nb201-mini" for the mini scale's
    shipped stand-alone table, `groundtruth.load_mini_table`), a path to an npz table
    (`groundtruth.save_table` layout), a CSV (see `_read_csv`), a JSON object
    `{arch or index: accuracy}`, a `Table`, a `GroundTruth`, or a dict. `metric` names the column
    of npz/CSV/`GroundTruth` tables, e.g. "valid_acc" (NB201 x-valid) or "test_acc" (ori-test).
    `space` keys the table (see `Table`); packaged and npz tables are NB201's.
    """

    if isinstance(source, Table):
        return source
    if isinstance(source, groundtruth.GroundTruth):
        order = np.argsort(source.indices)
        return Table(np.asarray(source.indices)[order], source.get(metric)[order])
    if isinstance(source, dict) or hasattr(source, "items"):
        return table_from_mapping(dict(source.items()), space=space)
    source = str(source)
    path = Path(source)
    shipped = (*groundtruth.PACKAGED, *groundtruth.MINI_TABLES)
    if not _indexed(space) and (source in shipped or path.suffix == ".npz"):
        raise ConfigError(f"landmark.table {source!r} is NB201 ground truth; the {space.name} "
                          f"space needs a table of its own (a .csv with 'arch' and accuracy "
                          f"columns, e.g. a `jaxnas standalone` run's W/table.csv, or a .json)")
    if source in groundtruth.PACKAGED:
        truth = groundtruth.load_table(source)
    elif source in groundtruth.MINI_TABLES:
        truth = groundtruth.load_mini_table(source)
    elif path.suffix == ".npz":
        if not path.is_file():
            raise GroundTruthError(f"landmark table not found: {path}")
        with np.load(path, allow_pickle=False) as data:
            if "dataset" not in data.files:
                raise GroundTruthError(f"table {path} lacks the field 'dataset'")
            dataset = str(data["dataset"])
        truth = groundtruth.load_table(dataset, path=path)
    elif path.suffix == ".csv":
        if not path.is_file():
            raise GroundTruthError(f"landmark table not found: {path}")
        return _read_csv(path, metric, space)
    elif path.suffix == ".json":
        if not path.is_file():
            raise GroundTruthError(f"landmark table not found: {path}")
        try:
            mapping = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise GroundTruthError(f"{path}: not valid JSON ({error})") from None
        if not isinstance(mapping, dict):
            raise GroundTruthError(f"{path}: expected a JSON object {{arch or index: acc}}")
        return table_from_mapping(mapping, where=str(path), space=space)
    else:
        raise GroundTruthError(
            f"landmark table {source!r}: expected one of {sorted(shipped)} or a "
            ".npz, .csv or .json path")
    return read_table(truth, metric)


# ---------------------------------------------------------------------------------- selection


def _diverse(rng, table, num, distance, roots):
    """The Hamming walk (module docstring): `num` distinct table indices."""
    if not 1 <= roots <= num:
        raise ConfigError(f"landmark.roots must be in 1..{num}, got {roots}")
    known = set(table.indices.tolist())
    chosen, budget = [], 1000 * num
    per_root = [num // roots + (r < num % roots) for r in range(roots)]
    for size in per_root:
        root = None
        while root is None:
            budget -= 1
            if budget < 0:
                break
            candidate = nb201.sample(rng)
            index = nb201.arch_to_index(candidate)
            if index in known and index not in chosen:
                root, members = candidate, [index]
        while root is not None and len(members) < size and budget > 0:
            budget -= 1
            walk = root.copy()
            for _ in range(MAX_WALK):
                walk = nb201.mutate(rng, walk)
                if nb201.hamming(walk, root) > distance:
                    break
            index = nb201.arch_to_index(walk)
            if index in known and index not in chosen and index not in members:
                members.append(index)
        if root is None or len(members) < size:
            raise ConfigError(f"diverse landmark sampling found only {len(chosen)} distinct cells "
                              f"of the table (wanted {num}; table of {len(known)} cells, "
                              f"distance {distance})")
        chosen.extend(members)
    return np.array(chosen, np.int64)


def select(table: Table, num, method="random", *, seed=0, distance=5, roots=1, exclude=(),
           space=NB201):
    """Keys of `num` landmarks chosen from `table` by `method` (module docstring).

    A table of at most `num` cells gives all of them. `exclude` lists keys never chosen.
    """
    if method not in SELECTIONS:
        raise ConfigError(f"unknown landmark selection {method!r}; choose one of {SELECTIONS}")
    if method == "diverse" and space.name != nb201.SPACE.name:
        raise ConfigError(f"landmark.select='diverse' walks NB201's Hamming neighbourhood; use "
                          f"random or fixed in the {space.name} space")
    if not isinstance(num, (int, np.integer)) or num < 2:
        raise ConfigError(f"landmark.num must be an int >= 2 (a pair), got {num!r}")
    keep = ~np.isin(table.indices, np.asarray(exclude, table.indices.dtype))
    table = Table(table.indices[keep], table.acc[keep])
    if len(table.indices) < 2:
        raise ConfigError(f"the landmark table holds {len(table.indices)} usable cell(s); a "
                          "ranking needs at least 2")
    if len(table.indices) <= num:
        return table.indices.copy()
    rng = np.random.default_rng(seed)
    if method == "random":
        return np.sort(rng.choice(table.indices, size=num, replace=False))
    if method == "fixed":
        order = table.indices[np.argsort(table.acc, kind="stable")]
        step = len(order) // num
        return np.sort(order[len(order) - (num - 1) * step - 1::step][:num])
    return np.sort(_diverse(rng, table, num, distance, roots))


# ------------------------------------------------------------------------- state in the step


class LandmarkState(NamedTuple):
    """The landmark set inside the train state (`state.extra["landmark"]`).

    The first `count` rows are the landmarks in ascending ground-truth order; the rest is
    padding. `rank` is the dense rank of each landmark's accuracy among the landmarks (computed
    in float64 on the host, so equal ranks mean equal accuracies: such pairs are not penalised).
    `acc` is the accuracy in float32 for logs. `rounds_done` counts completed multi-round
    additions (resume-safe bookkeeping).
    """

    archs: jnp.ndarray        # int32 [capacity, *arch_shape] (NB201: [capacity, 6])
    acc: jnp.ndarray          # float32 [capacity]
    rank: jnp.ndarray         # int32 [capacity]
    count: jnp.ndarray        # int32 []
    rounds_done: jnp.ndarray  # int32 []


def make_state(indices, table: Table, capacity, rounds_done=0, space=NB201) -> LandmarkState:
    """A `LandmarkState` of keys `indices` (of `space`), sorted by their accuracy in `table`."""
    indices = np.unique(_key_array(indices, space))
    if len(indices) > capacity:
        raise ConfigError(f"{len(indices)} landmarks exceed the capacity {capacity}")
    acc = table.lookup(indices)
    if np.isnan(acc).any():
        missing = indices[np.isnan(acc)][:3].tolist()
        raise GroundTruthError(f"no ground truth for landmark indices {missing}")
    order = np.argsort(acc, kind="stable")
    indices, acc = indices[order], acc[order]
    rank = np.unique(acc, return_inverse=True)[1].reshape(-1)
    n = len(indices)
    archs = np.zeros((capacity, *space.arch_shape), np.int32)
    archs[:n] = archs_of(indices, space)
    def pad(values, dtype):
        return np.concatenate([values, np.zeros(capacity - n)]).astype(dtype)
    return LandmarkState(archs=jnp.asarray(archs), acc=jnp.asarray(pad(acc, np.float32)),
                         rank=jnp.asarray(pad(rank, np.int32)), count=jnp.int32(n),
                         rounds_done=jnp.int32(rounds_done))


def within(state: LandmarkState, table: Table, mask, num, method="random", *, seed=0,
           space=NB201):
    """`(state, added)`: the landmark set for the space `mask` (bool `Space.mask_shape`)
    allows.

    Landmarks outside the space are dropped and cells of the space, chosen from `table` by
    `method` (`select`; "diverse" becomes "random", as its Hamming walks leave a shrunk space),
    refill the set to `num`, or to half the space's cells with ground truth when that is fewer
    (so that a search of the space keeps cells that are not landmarks). Why: after ABS
    shrinking, landmarks drawn from the whole space mostly fall outside it, and the step pairs
    only landmarks the mask allows (`loss.usable`), so the regulariser would go silent.
    `added` lists the new keys (empty: `state` is returned as it is).
    """
    current = indices_of(state, space)
    kept = current[space.allowed(archs_of(current, space), mask)]
    inside = space.allowed(archs_of(table.indices, space), mask)
    room = Table(table.indices[inside], table.acc[inside])
    need = min(num, len(room.indices) // 2) - len(kept)
    nothing = _key_array([], space)
    if len(kept) == len(current) and need <= 0:
        return state, nothing
    added = nothing
    if need > 0:
        added = select(room, max(need, 2), "random" if method == "diverse" else method,
                       seed=seed, exclude=kept, space=space)[:need]
    return (make_state(np.concatenate([kept, added]), table, state.archs.shape[0],
                       int(state.rounds_done), space), added)


@functools.cache
def _canonical_keys(space) -> np.ndarray:
    """The key of each official index's class representative (finite spaces)."""
    keys = keys_of(space.canonical(space.enumerate()), space)
    keys.flags.writeable = False
    return keys


def indices_of(state: LandmarkState, space=NB201) -> np.ndarray:
    """Keys of the current landmarks (NB201 indices), in ascending accuracy order."""
    count = int(state.count)
    return keys_of(np.asarray(state.archs)[:count], space)


def exclusions(state: LandmarkState, isomorphic=True, space=NB201) -> np.ndarray:
    """Sorted keys an evaluation set must drop: the landmarks and, with `isomorphic`, every
    cell isomorphic to one (its own stand-alone run is the same architecture). In a space
    without indices the keys are canonical texts, so the landmarks' own keys cover their
    classes."""
    own = indices_of(state, space)
    if not isomorphic or not _indexed(space):
        return np.unique(own)
    canon = _canonical_keys(space)
    return np.flatnonzero(np.isin(canon, canon[own])).astype(np.int64)
