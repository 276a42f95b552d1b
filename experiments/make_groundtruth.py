"""Build the packaged NB201 table `jaxnas/resources/nb201_cifar10_valid.npz` from the CSV.

The CSV is the NAS-Landscapes (gabro8a, MIT) export of NAS-Bench-201 cifar10-valid at 200 epochs:
columns `index,arch,train_acc,valid_acc,test_acc,train_loss,valid_loss,test_loss,
train_epoch_seconds`, 15,625 rows in official index order, means over seeds, accuracies in %.
The output stores the six metrics as float64 in index order (arch strings are rebuilt by
`jaxnas.spaces.nb201`), plus `dataset`, `epochs` and a `source` naming the CSV and its sha256.
Running it twice gives byte-identical files.

    python experiments/make_groundtruth.py --csv shared/data/nb201/cifar10-valid_200epochs.csv \
        --out jaxnas/resources/nb201_cifar10_valid.npz
"""

import argparse
import csv
import hashlib
import sys
from pathlib import Path

import numpy as np

from jaxnas.errors import GroundTruthError
from jaxnas.evaluate.groundtruth import NUM_ARCHS, GroundTruth, save_table

METRICS = ("train_acc", "valid_acc", "test_acc", "train_loss", "valid_loss", "test_loss")


def read_csv(path: Path) -> dict[str, np.ndarray]:
    """The metric columns of the CSV as float64 arrays, checked to be in index order."""
    with open(path, newline="") as file:
        reader = csv.DictReader(file)
        missing = [c for c in ("index", *METRICS) if c not in (reader.fieldnames or [])]
        if missing:
            raise GroundTruthError(f"{path} lacks column(s): {', '.join(missing)}")
        rows = list(reader)
    if [int(row["index"]) for row in rows] != list(range(NUM_ARCHS)):
        raise GroundTruthError(f"{path} must hold indices 0..{NUM_ARCHS - 1} in order")
    return {name: np.array([float(row[name]) for row in rows]) for name in METRICS}


def build_table(csv_path: Path) -> GroundTruth:
    """The cifar10-valid 200-epoch table of the CSV, with its provenance in `source`."""
    digest = hashlib.sha256(csv_path.read_bytes()).hexdigest()
    return GroundTruth(
        dataset="cifar10-valid",
        epochs=200,
        metrics=read_csv(csv_path),
        indices=np.arange(NUM_ARCHS),
        source=f"NAS-Landscapes NB201 export {csv_path.name} sha256={digest}",
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, required=True, help="cifar10-valid_200epochs.csv")
    parser.add_argument("--out", type=Path, required=True, help="output .npz")
    args = parser.parse_args(argv)
    try:
        table = build_table(args.csv)
        save_table(table, args.out)
    except (GroundTruthError, OSError, ValueError) as error:
        sys.exit(f"error: {error}")
    best = int(np.argmax(table.get("valid_acc")))
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes); "
          f"best valid_acc {table.get('valid_acc')[best]:.4f} at index {best}")


if __name__ == "__main__":
    main()
