"""NAS-Bench-201 ground truth: the packaged table and a reader for the official NATS-Bench archive.

A `GroundTruth` holds per-architecture metrics in official NB201 index order. Metric names are
`{split}_{acc,loss}` with accuracies in percent; `GroundTruth.splits` names the official split
behind each prefix, because NB201's dataset names mislead:
  - "cifar10-valid" trains on 25k CIFAR-10 train images; `valid` is "x-valid" (the other 25k
    train images) and `test` is "ori-test" (the 10k CIFAR-10 test set).
  - "cifar10" trains on all 50k; it has only `test` ("ori-test").
  - "cifar100" and "ImageNet16-120" split the original test set in two halves: `valid` is
    "x-valid", `test` is "x-test", and `valtest` is "ori-test" (both halves).
Values are the mean over the training seeds at the final epoch, as `get_more_info` of the
NATS-Bench API reports them.

A stand-alone table (`jaxnas standalone`, `write_standalone_table` / `read_standalone_table`) is a
CSV with one row per trained cell: its architecture string, official index (empty where the space
has none), `train_` / `valid_` (held-out: the other half of the training set, NB201's x-valid) /
`test_` accuracy and loss, params and FLOPs (millions), epochs, seed and scale; a cell whose
training diverged (`train.on_divergence="record"`) has its six accuracy and loss fields empty,
and the readers skip it unless asked (`diverged=True`). In a space
without official indices (DARTS) the same CSV, `arch` the space's text form (DARTS's
`Genotype(...)`) and `index` empty, is read by `read_arch_table` into an `ArchTable`.

The packaged table (`load_table()`) is cifar10-valid at 200 epochs, built by
`experiments/make_groundtruth.py` from the NAS-Landscapes CSV export of NB201. Arrays are float64:
float32 merges about 3,000 distinct valid accuracies into ties, which would change rank metrics.

The mini scale's own ground truth ships too (`load_mini_table()`, `jaxnas evaluate --gt
nb201-mini`, `landmark.table=nb201-mini`): NB201 cells trained stand-alone as the mini
supernet's subnets are (C8 N1 on 16x16 images, 50 epochs; experiments/README.md section 17), a
gzipped stand-alone table per seed, written by `experiments/ceiling.py package`. The experiment
that trains it spans many sessions; the shipped table holds the cells trained so far, and its
`source` says how many.
"""

import bz2
import collections
import csv
import gzip
import io
import lzma
import math
import os
import pickle
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from jaxnas import schema
from jaxnas.errors import ArchError, GroundTruthError
from jaxnas.spaces import nb201 as nb201_space

try:
    from numpy._core.multiarray import scalar as _numpy_scalar
except ImportError:  # numpy < 2
    from numpy.core.multiarray import scalar as _numpy_scalar

NUM_ARCHS = 15625
PACKAGED = {"cifar10-valid": "nb201_cifar10_valid.npz"}
# The mini scale's stand-alone tables (`load_mini_table`): name -> resource, one seed each.
MINI_TABLES = {"nb201-mini": "nb201_mini_seed0.csv.gz",
               "nb201-mini-seed1": "nb201_mini_seed1.csv.gz"}
SPLITS = {
    "cifar10-valid": {"train": "train", "valid": "x-valid", "test": "ori-test"},
    "cifar10": {"train": "train", "test": "ori-test"},
    "cifar100": {"train": "train", "valid": "x-valid", "test": "x-test", "valtest": "ori-test"},
    "ImageNet16-120": {
        "train": "train", "valid": "x-valid", "test": "x-test", "valtest": "ori-test",
    },
}
NATS_HPS = ("12", "200")
# What each nas_201_api dataset name means, for errors that say what is and is not shipped.
DESCRIPTIONS = {
    "cifar10-valid": "trained on 25k CIFAR-10 train images; valid = x-valid (the other 25k), "
                     "test = ori-test (the 10k test images)",
    "cifar10": "trained on all 50k CIFAR-10 train images; test = ori-test",
    "cifar100": "trained on CIFAR-100 train; valid = x-valid, test = x-test (halves of test)",
    "ImageNet16-120": "trained on ImageNet16-120 train; valid = x-valid, test = x-test",
}
_META_FIELDS = ("dataset", "epochs", "source")
_RECORD_NAME = re.compile(r"^(\d{6})\.pickle\.pbz2$")
_META_NAME = "meta.pickle.pbz2"


@dataclass(frozen=True, eq=False)
class GroundTruth:
    """Benchmark metrics of architectures `indices` (official NB201 indices) on `dataset`.

    `metrics[name][i]` belongs to architecture `indices[i]`; `archs[i]` is its string when known.
    Arrays are read-only float64 copies.
    """

    dataset: str
    epochs: int
    metrics: dict[str, np.ndarray]
    indices: np.ndarray
    archs: tuple[str, ...] | None = None
    source: str = ""
    splits: dict[str, str] = field(init=False)

    def __post_init__(self):
        indices = _frozen(np.asarray(self.indices, dtype=np.int64))
        metrics = {k: _frozen(np.asarray(v, dtype=np.float64)) for k, v in self.metrics.items()}
        for name, values in metrics.items():
            if values.shape != indices.shape:
                raise GroundTruthError(
                    f"metric {name!r} has shape {values.shape}, expected {indices.shape}"
                )
        if self.archs is not None and len(self.archs) != indices.size:
            raise GroundTruthError(f"{len(self.archs)} arch strings for {indices.size} indices")
        prefixes = {name.rsplit("_", 1)[0] for name in metrics}
        splits = {k: v for k, v in SPLITS.get(self.dataset, {}).items() if k in prefixes}
        object.__setattr__(self, "indices", indices)
        object.__setattr__(self, "metrics", metrics)
        object.__setattr__(self, "archs", None if self.archs is None else tuple(self.archs))
        object.__setattr__(self, "splits", splits)

    def get(self, metric: str) -> np.ndarray:
        """The values of one metric, e.g. "valid_acc", aligned with `indices`."""
        if metric not in self.metrics:
            known = ", ".join(sorted(self.metrics))
            raise GroundTruthError(f"unknown metric {metric!r} for {self.dataset}; known: {known}")
        return self.metrics[metric]


def _frozen(array: np.ndarray) -> np.ndarray:
    array = array.copy()
    array.setflags(write=False)
    return array


# ---------------------------------------------------------------------------------------------
# Packaged / saved tables


def dataset_name(name: str) -> str:
    """The nas_201_api name of a dataset (`cifar10-valid`, `cifar10`, `cifar100`,
    `ImageNet16-120`), matched without regard to case; GroundTruthError for any other name."""
    known = {d.lower(): d for d in SPLITS}
    found = known.get(str(name).strip().lower())
    if found is None:
        raise GroundTruthError(f"unknown NB201 dataset {name!r}; nas_201_api names: "
                               f"{', '.join(SPLITS)}")
    return found


def check_shipped(dataset: str) -> str:
    """`dataset` (a nas_201_api name, any case) if jaxnas ships its table; otherwise one
    GroundTruthError line saying what that dataset is and what ships instead."""
    dataset = dataset_name(dataset)
    if dataset not in PACKAGED:
        shipped = "; ".join(f"{d} ({DESCRIPTIONS[d]})" for d in PACKAGED)
        raise GroundTruthError(
            f"the NB201 {dataset} ground truth ({DESCRIPTIONS[dataset]}) is not shipped with "
            f"jaxnas; shipped: {shipped}. Build it from the NATS-Bench archive with "
            f"jaxnas.evaluate.groundtruth.read_nats_archive(path, dataset={dataset!r})")
    return dataset


def load_table(dataset: str = "cifar10-valid", *, path=None) -> GroundTruth:
    """The full 15,625-architecture table of `dataset` at 200 epochs.

    `dataset` is a nas_201_api name, any case. Without `path`, the packaged table (only
    "cifar10-valid" ships; the others are one GroundTruthError line, `check_shipped`). With
    `path`, an npz of the same layout, e.g. written by `save_table`: float arrays [15625] in
    index order named `{split}_{acc,loss}`, plus scalar fields `dataset`, `epochs` and
    optionally `source`.
    """
    dataset = dataset_name(dataset)
    if path is not None:
        return _read_npz(Path(path), dataset)
    check_shipped(dataset)
    resource = resources.files("jaxnas").joinpath("resources").joinpath(PACKAGED[dataset])
    with resources.as_file(resource) as file:
        return _read_npz(file, dataset)


def load_mini_table(name: str = "nb201-mini") -> GroundTruth:
    """The shipped mini-scale stand-alone table `name` ("nb201-mini": seed 0,
    "nb201-mini-seed1": the same training with seed 1, the table's own noise) as
    `read_standalone_table` reads it; GroundTruthError for another name or a seed not trained
    yet. Rank the mini supernet against it to tell the supernet's error from the mini proxy's."""
    if name not in MINI_TABLES:
        raise GroundTruthError(f"unknown mini table {name!r}; shipped: {', '.join(MINI_TABLES)}")
    resource = resources.files("jaxnas").joinpath("resources").joinpath(MINI_TABLES[name])
    if not resource.is_file():
        raise GroundTruthError(f"mini table {name!r} is not shipped yet (its cells are still "
                               f"being trained; experiments/README.md section 17)")
    with resources.as_file(resource) as file:
        return read_standalone_table(file, name=f"jaxnas {name}")


def names_table(text) -> bool:
    """Whether `text` names a stand-alone table, as `--gt` and `eval.table` take one: a shipped
    table's name (`MINI_TABLES`) or an existing file (its content is checked when read)."""
    return isinstance(text, str) and (text in MINI_TABLES or schema.path_exists("file").ok(text))


def standalone_table(source) -> GroundTruth:
    """An NB201 stand-alone table: a shipped one by name (`MINI_TABLES`) or a CSV path."""
    if str(source) in MINI_TABLES:
        return load_mini_table(str(source))
    return read_standalone_table(source)


def space_table(source, space):
    """A stand-alone table of `space` (a `Space`): NB201's `standalone_table` (a shipped name
    or a CSV path), another space's `read_arch_table` (its architectures have no indices)."""
    if space.name == "nb201":
        return standalone_table(source)
    if str(source) in MINI_TABLES:
        raise GroundTruthError(f"{source} is an NB201 table; this run searches the "
                               f"{space.name} space (pass a table of its architectures)")
    return read_arch_table(source, space)


def table_keys(table, space) -> list:
    """Each row's canonical text in `space` (`Space.canonical`, `Space.to_str`): one key for
    every member of an isomorphism class, NB201 indices and DARTS genotypes alike."""
    archs = table.archs if isinstance(table, ArchTable) else space.from_index(table.indices)
    return [space.to_str(a) for a in space.canonical(np.asarray(archs))]


def _read_npz(path: Path, dataset: str) -> GroundTruth:
    """Read and validate a table npz; its `dataset` field must equal `dataset`."""
    if not path.is_file():
        raise GroundTruthError(f"ground-truth table not found: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise GroundTruthError(f"not a readable npz table: {path} ({error})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise GroundTruthError(f"not an npz table (a single .npy array): {path}")
    try:
        with loaded:
            arrays = {name: loaded[name] for name in loaded.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, lzma.LZMAError,
            zlib.error) as error:
        raise GroundTruthError(f"corrupt npz table: {path} ({error})") from None
    missing = [name for name in ("dataset", "epochs") if name not in arrays]
    if missing:
        raise GroundTruthError(f"table {path} lacks field(s): {', '.join(missing)}")
    if arrays["dataset"].ndim or arrays["epochs"].ndim:
        raise GroundTruthError(f"table {path}: dataset and epochs must be scalars")
    if str(arrays["dataset"]) != dataset:
        raise GroundTruthError(f"table {path} holds dataset {arrays['dataset']}, not {dataset!r}")
    metrics = {k: v for k, v in arrays.items() if k not in _META_FIELDS}
    for name, values in metrics.items():
        if values.shape != (NUM_ARCHS,) or values.dtype.kind not in "fiu":
            raise GroundTruthError(
                f"table {path}: {name!r} must be numbers of shape ({NUM_ARCHS},), got "
                f"{values.dtype} {values.shape}"
            )
    if not metrics:
        raise GroundTruthError(f"table {path} holds no metric arrays")
    return GroundTruth(
        dataset=dataset,
        epochs=int(arrays["epochs"]),
        metrics=metrics,
        indices=np.arange(NUM_ARCHS),
        source=str(arrays.get("source", "")),
    )


def save_table(table: GroundTruth, path) -> None:
    """Write a full table as an npz that `load_table(path=...)` reads.

    Byte-reproducible (fixed zip timestamps) and LZMA-compressed (np.load reads it): float64
    NB201 accuracies compress about 10% better than with numpy's default deflate.
    """
    if not np.array_equal(table.indices, np.arange(NUM_ARCHS)):
        raise GroundTruthError(f"save_table needs all {NUM_ARCHS} architectures in index order")
    fields = {"dataset": np.array(table.dataset), "epochs": np.array(table.epochs)}
    fields["source"] = np.array(table.source)
    fields.update(table.metrics)
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in fields.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_LZMA
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
            archive.writestr(info, buffer.getvalue())


# ---------------------------------------------------------------------------------------------
# NATS-Bench topology archive (NATS-tss-v1_0-3ffb9-simple/)

_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,  # the same function, numpy >= 2 name
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the few harmless globals NATS-Bench records contain."""

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"forbidden global {module}.{name}") from None


def _load_pbz2(path: Path):
    """Unpickle one bz2-compressed NATS-Bench file with the restricted unpickler."""
    try:
        with bz2.open(path, "rb") as stream:
            return _RestrictedUnpickler(stream).load()
    except pickle.UnpicklingError as error:
        raise GroundTruthError(f"cannot unpickle {path}: {error}") from None
    except (OSError, EOFError, ValueError, TypeError, AttributeError, KeyError,
            IndexError) as error:
        raise GroundTruthError(f"corrupt NATS-Bench file {path}: {error}") from None


def _archive_layout(root: Path) -> tuple[Path, dict[int, Path]]:
    """The meta file and the record files by index of an archive directory."""
    if not root.exists():
        raise GroundTruthError(f"NATS-Bench archive not found: {root}")
    if not root.is_dir():
        raise GroundTruthError(
            f"NATS-Bench archive must be the extracted directory (e.g. "
            f"NATS-tss-v1_0-3ffb9-simple/), got a file: {root}"
        )
    meta = root / _META_NAME
    if not meta.is_file():
        raise GroundTruthError(f"not a NATS-Bench archive (no {_META_NAME}): {root}")
    records = {}
    for entry in root.iterdir():
        match = _RECORD_NAME.match(entry.name)
        if match:
            records[int(match.group(1))] = entry
    return meta, records


def _meta_archs(meta_path: Path) -> list[str]:
    meta = _load_pbz2(meta_path)
    archs = meta.get("meta_archs") if isinstance(meta, dict) else None
    if not isinstance(archs, list) or not all(isinstance(a, str) for a in archs):
        raise GroundTruthError(f"unexpected NATS-Bench meta layout (no meta_archs): {meta_path}")
    return archs


def _select(records: dict[int, Path], indices, total: int, root: Path) -> list[int]:
    """Sorted indices to read: all record files, or the requested ones (which must exist)."""
    if indices is None:
        selected = sorted(i for i in records if i < total)
        if not selected:
            raise GroundTruthError(f"NATS-Bench archive holds no architecture records: {root}")
        return selected
    selected = sorted({int(i) for i in np.asarray(indices).reshape(-1)})
    bad = [i for i in selected if not 0 <= i < total]
    if bad:
        raise GroundTruthError(f"architecture index {bad[0]} out of range [0, {total})")
    if not selected:
        raise GroundTruthError("indices is empty")
    absent = [i for i in selected if i not in records]
    if absent:
        raise GroundTruthError(f"no record {absent[0]:06d}.pickle.pbz2 in {root}")
    return selected


def _check_arch(record, hp: str, arch: str, path: Path) -> None:
    """Fail unless the record holds `hp` results for the architecture the meta file names."""
    try:
        found = record[hp]["arch_str"]
    except (KeyError, TypeError, IndexError):
        raise GroundTruthError(f"record {path} has no hp={hp} results") from None
    if found != arch:
        raise GroundTruthError(f"record {path} holds arch {found!r}, meta says {arch!r}")


def _record_metrics(record, dataset: str, hp: str, path: Path) -> dict[str, float]:
    """Final-epoch metrics of one architecture record, mean over the seeds of `dataset`.

    Keys are `train_{acc,loss}` and `{prefix}_{acc,loss}` for each eval split of the dataset
    (see `SPLITS`).
    """
    try:
        results = record[hp]
        seeds = results["dataset_seed"][dataset]
        runs = [results["all_results"][(dataset, seed)] for seed in seeds]
        values = collections.defaultdict(list)
        for run in runs:
            last = run["epochs"] - 1
            values["train_acc"].append(run["train_acc1es"][last])
            values["train_loss"].append(run["train_losses"][last])
            for prefix, split in SPLITS[dataset].items():
                if prefix != "train":
                    values[f"{prefix}_acc"].append(run["eval_acc1es"][f"{split}@{last}"])
                    values[f"{prefix}_loss"].append(run["eval_losses"][f"{split}@{last}"])
    except (KeyError, TypeError, IndexError) as error:
        raise GroundTruthError(f"unexpected layout of record {path}: missing {error}") from None
    return {name: float(np.mean(v)) for name, v in values.items()}


def read_nats_archive(path, *, dataset: str = "cifar10-valid", hp="200",
                      indices=None) -> GroundTruth:
    """Read the NATS-Bench topology archive directory `NATS-tss-v1_0-3ffb9-simple/`.

    It holds `meta.pickle.pbz2` and one `{index:06d}.pickle.pbz2` per architecture (bz2
    pickles, loaded with an unpickler that allows only OrderedDict, numpy dtypes and numpy
    scalars). Returns the final-epoch, mean-over-seeds metrics of `dataset` under training
    schedule `hp` ("12" or "200" epochs) for `indices` (default: every record file present),
    with arch strings. Files are read one at a time; all 15,625 take several minutes.
    """
    hp = str(hp)
    dataset = dataset_name(dataset)
    if hp not in NATS_HPS:
        raise GroundTruthError(f"unknown hp {hp!r}; NATS-Bench topology has {', '.join(NATS_HPS)}")
    root = Path(path)
    meta_path, records = _archive_layout(root)
    archs = _meta_archs(meta_path)
    selected = _select(records, indices, len(archs), root)
    rows = []
    for index in selected:
        record = _load_pbz2(records[index])
        _check_arch(record, hp, archs[index], records[index])
        rows.append(_record_metrics(record, dataset, hp, records[index]))
    metrics = {name: np.array([row[name] for row in rows]) for name in rows[0]}
    return GroundTruth(
        dataset=dataset,
        epochs=int(hp),
        metrics=metrics,
        indices=np.array(selected),
        archs=tuple(archs[i] for i in selected),
        source=f"NATS-Bench topology archive {root.name} (hp={hp}, mean over seeds)",
    )


# ---------------------------------------------------------------------------------------------
# Stand-alone tables (CSV)

STANDALONE_COLUMNS = ("arch", "index", "train_acc", "train_loss", "valid_acc", "valid_loss",
                      "test_acc", "test_loss", "params", "flops", "epochs", "seed", "scale")
METRIC_COLUMNS = STANDALONE_COLUMNS[2:8]
STANDALONE_DATASET = "standalone"


def write_standalone_table(rows, path) -> None:
    """Write `rows` (dicts with `STANDALONE_COLUMNS`; `index` None where the space has none) as
    a CSV, floats at full precision, atomically (a temporary file renamed into place); gzipped
    where `path` ends in .gz, without a name or time stamp, so the same rows give the same
    bytes."""
    path = Path(path)
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(STANDALONE_COLUMNS)
    for row in rows:
        writer.writerow(["" if row[c] is None else (repr(float(row[c])) if isinstance(
            row[c], float) else row[c]) for c in STANDALONE_COLUMNS])
    data = text.getvalue().encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    os.replace(tmp, path)


def is_diverged_row(fields) -> bool:
    """Whether a stand-alone table row (a dict of its text fields) is a diverged cell's: its six
    accuracy and loss fields empty (`train.on_divergence="record"`)."""
    return not any((fields.get(c) or "").strip() for c in METRIC_COLUMNS)


def read_standalone_rows(path, *, diverged=False) -> list[dict]:
    """The rows of a stand-alone CSV table as dicts of typed values, each with its `line` and
    `diverged` (its accuracy and loss fields empty: training diverged); the diverged rows only
    with `diverged=True` (what a resumed run counts as done), their metrics None.
    GroundTruthError (one line, naming the file, line and column) for a missing file, a missing
    column, a bad value or no rows at all."""
    path = Path(path)
    if not path.is_file():
        raise GroundTruthError(f"ground-truth table not found: {path}")
    try:
        with (gzip.open(path, "rt", encoding="utf-8", newline="") if path.suffix == ".gz"
              else open(path, newline="")) as f:
            lines = list(csv.reader(f))
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as error:
        raise GroundTruthError(f"cannot read ground-truth table {path}: {error}") from None
    if not lines:
        raise GroundTruthError(f"ground-truth table {path} is empty (no header line)")
    header = [h.strip() for h in lines[0]]
    missing = [c for c in STANDALONE_COLUMNS if c not in header]
    if missing:
        raise GroundTruthError(f"ground-truth table {path} lacks column(s) {', '.join(missing)} "
                               f"(a `jaxnas standalone` table has {', '.join(STANDALONE_COLUMNS)})")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not any(v.strip() for v in line):
            continue
        if len(line) != len(header):
            raise GroundTruthError(f"ground-truth table {path} line {number}: {len(line)} "
                                   f"fields, the header has {len(header)}")
        raw = dict(zip(header, (v.strip() for v in line)))
        rows.append({**_typed_row(raw, f"ground-truth table {path} line {number}"),
                     "line": number})
    if not rows:
        raise GroundTruthError(f"ground-truth table {path} has no rows")
    return rows if diverged else [r for r in rows if not r["diverged"]]


def _ranked_rows(path):
    """The rows of `path` a ranking reads (the diverged left out) and the `source` text's note
    on those left out; GroundTruthError when every row diverged."""
    rows = read_standalone_rows(path, diverged=True)
    finite = [r for r in rows if not r["diverged"]]
    if not finite:
        raise GroundTruthError(f"ground-truth table {path}: every one of its {len(rows)} cells "
                               f"diverged; nothing to rank")
    n = len(rows) - len(finite)
    return finite, f"; {n} diverged, not ranked" if n else ""


def _typed_row(raw, where):
    def number(column, kind=float):
        try:
            value = kind(raw[column])
        except ValueError:
            raise GroundTruthError(f"{where}: {column} is {raw[column]!r}, not "
                                   f"{'an integer' if kind is int else 'a number'}") from None
        if kind is float and not math.isfinite(value):
            raise GroundTruthError(f"{where}: {column} is {raw[column]!r}, not finite")
        return value

    if not raw["arch"]:
        raise GroundTruthError(f"{where}: arch is empty")
    row = {"arch": raw["arch"], "scale": raw["scale"]}
    row["index"] = None if raw["index"] == "" else number("index", int)
    row["diverged"] = is_diverged_row(raw)
    for column in METRIC_COLUMNS + ("params", "flops"):
        # valid_* is empty when the run held nothing out (`jaxnas final`'s whole training split)
        empty = (row["diverged"] and column in METRIC_COLUMNS) or (
            column.startswith("valid_") and raw[column] == "")
        row[column] = None if empty else number(column)
    row["epochs"], row["seed"] = number("epochs", int), number("seed", int)
    return row


def read_standalone_table(path, *, name=None) -> GroundTruth:
    """A stand-alone CSV table as a `GroundTruth` (dataset "standalone"): metrics
    `{train,valid,test}_{acc,loss}` of the rows' cells, `indices` their official NB201 indices
    (every row must have one, in range, each once), `archs` their strings; `source` names it
    `name` (default: its path)."""
    rows, skipped = _ranked_rows(path)
    seen = {}
    for row in rows:
        index, line = row["index"], row["line"]
        if index is None or not 0 <= index < NUM_ARCHS:
            raise GroundTruthError(f"ground-truth table {path} line {line}: index is "
                                   f"{'empty' if index is None else index}; ranking needs the "
                                   f"official index in 0..{NUM_ARCHS - 1}")
        try:
            of_arch = nb201_space.arch_to_index(nb201_space.str_to_arch(row["arch"]))
        except ArchError as error:
            raise GroundTruthError(f"ground-truth table {path} line {line}: {error}") from None
        if of_arch != index:
            raise GroundTruthError(f"ground-truth table {path} line {line}: index {index} is "
                                   f"not the index of its arch ({of_arch})")
        if index in seen:
            raise GroundTruthError(f"ground-truth table {path}: index {index} is on lines "
                                   f"{seen[index]} and {line}; one row per cell (one seed "
                                   f"per table)")
        seen[index] = line
    epochs = {row["epochs"] for row in rows}
    return GroundTruth(
        dataset=STANDALONE_DATASET,
        epochs=max(epochs),
        metrics={c: np.array([row[c] for row in rows]) for c in METRIC_COLUMNS},
        indices=np.array([row["index"] for row in rows]),
        archs=tuple(row["arch"] for row in rows),
        source=f"stand-alone table {name or path} ({len(rows)} cells, scale "
               f"{', '.join(sorted({row['scale'] for row in rows}))}{skipped})",
    )


@dataclass(frozen=True, eq=False)
class ArchTable:
    """Ground truth of architectures that have no official index (a DARTS genotype table):
    `archs` int32 `[n, ...]` in the space's canonical encoding, `texts` their text forms,
    `metrics[name][i]` of `archs[i]` (the stand-alone metric columns)."""

    space: str
    archs: np.ndarray
    texts: tuple
    metrics: dict
    epochs: int
    source: str

    def get(self, metric: str) -> np.ndarray:
        if metric not in self.metrics:
            raise GroundTruthError(f"unknown metric {metric!r}; known: "
                                   f"{', '.join(sorted(self.metrics))}")
        return self.metrics[metric]


def read_arch_table(path, space) -> ArchTable:
    """A stand-alone CSV table of `space` (e.g. DARTS: `arch` the `Genotype(...)` text, `index`
    empty) as an `ArchTable`: each row's arch parsed strictly and made canonical, one row per
    architecture; GroundTruthError (one line, naming the file and line) otherwise."""
    rows, skipped = _ranked_rows(path)
    archs, seen = [], {}
    for row in rows:
        where = f"ground-truth table {path} line {row['line']}"
        if row["index"] is not None:
            raise GroundTruthError(f"{where}: index is {row['index']}, but the {space.name} "
                                   f"space has no official indices (leave it empty)")
        try:
            arch = space.canonical(space.from_str(row["arch"])[None])[0]
        except ArchError as error:
            raise GroundTruthError(f"{where}: {error}") from None
        text = space.to_str(arch)
        if text in seen:
            raise GroundTruthError(f"ground-truth table {path}: lines {seen[text]} and "
                                   f"{row['line']} hold the same architecture; one row per "
                                   f"architecture")
        seen[text] = row["line"]
        archs.append(arch)
    return ArchTable(
        space=space.name, archs=_frozen(np.stack(archs).astype(np.int32)),
        texts=tuple(seen), epochs=max(row["epochs"] for row in rows),
        metrics={c: _frozen(np.array([row[c] for row in rows], np.float64))
                 for c in METRIC_COLUMNS},
        source=f"stand-alone table {path} ({len(rows)} {space.name} architectures, scale "
               f"{', '.join(sorted({row['scale'] for row in rows}))}{skipped})")
