"""tensorflow-datasets source (e.g. CIFAR-10) giving the same dict of arrays as the folder source.

Without tensorflow, tfds can READ a dataset prepared in the `array_record` format (random-access
`data_source`, images decoded by PIL) but cannot download and PREPARE one (its image encoder and the
CIFAR reader call tensorflow), nor read the default `tfrecord` format. So: an array_record dataset
is read without tensorflow; a tfrecord dataset is read with tensorflow when it is installed; a
missing dataset is prepared as array_record when tensorflow is installed and `download` is true;
anything else raises `DataError` telling the user to install tensorflow or use an image folder.
The decoded arrays are cached like the folder source's.
"""

import hashlib
import importlib.util
import os

import numpy as np
from tqdm import tqdm

from jaxnas.data.folder import SPLITS, cached_arrays
from jaxnas.errors import DataError

READ_CHUNK = 1024


def _advice(name):
    return (f"either `pip install tensorflow` or pass --data /path/to/image-folder instead of "
            f"tfds:{name}")


def has_tensorflow():
    """Whether tensorflow is importable (tfds needs it to prepare or to read tfrecord)."""
    return importlib.util.find_spec("tensorflow") is not None


def _builder(name, data_dir):
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as e:
        raise DataError(f"tfds has no dataset named {name!r}") from e


def _prepare(builder, name, download):
    if not download:
        raise DataError(f"tfds:{name} is not prepared in {builder.data_dir} and download is "
                        f"disabled; {_advice(name)}")
    if not has_tensorflow():
        raise DataError(f"tfds:{name} is not prepared in {builder.data_dir} and preparing it "
                        f"needs tensorflow; {_advice(name)}")
    try:
        builder.download_and_prepare(file_format="array_record")
    except Exception as e:  # network, disk, checksum: all reported as one user-facing error
        raise DataError(f"could not download/prepare tfds:{name} into {builder.data_dir}: "
                        f"{type(e).__name__}: {e}".splitlines()[0]) from e


def _read_random_access(source, image_key, label_key, desc, progress):
    """All records of an array_record data source as (uint8 images, int32 labels)."""
    images, labels = [], []
    with tqdm(total=len(source), desc=desc, unit="img", disable=not progress) as bar:
        for start in range(0, len(source), READ_CHUNK):
            records = source.__getitems__(range(start, min(start + READ_CHUNK, len(source))))
            images += [r[image_key] for r in records]
            labels += [r[label_key] for r in records]
            bar.update(len(records))
    return np.stack(images).astype(np.uint8), np.asarray(labels, np.int32)


def _read_tfrecord(builder, split, image_key, label_key):
    import tensorflow_datasets as tfds

    data = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
    return np.asarray(data[image_key], np.uint8), np.asarray(data[label_key], np.int32)


def read_builder(builder, name, progress=True):
    """Decode the train and test splits of a prepared builder into the source dict of arrays."""
    image_key, label_key = builder.info.supervised_keys
    arrays = {"class_names": np.asarray(builder.info.features[label_key].names)}
    random_access = {"array_record", "parquet"}
    formats = {f.value for f in builder.info.available_file_formats()}
    if formats & random_access:
        sources = builder.as_data_source()
        for split in SPLITS:
            arrays[f"{split}_images"], arrays[f"{split}_labels"] = _read_random_access(
                sources[split], image_key, label_key, f"reading tfds:{name} {split}", progress)
    elif has_tensorflow():
        for split in SPLITS:
            arrays[f"{split}_images"], arrays[f"{split}_labels"] = _read_tfrecord(
                builder, split, image_key, label_key)
    else:
        raise DataError(f"tfds:{name} in {builder.data_dir} is stored as {sorted(formats)}, "
                        f"which needs tensorflow to read; {_advice(name)}")
    return arrays


def _content_key(data_dir):
    """Cache key of a prepared dataset directory: its files' names, sizes and mtimes."""
    entries = sorted(os.scandir(data_dir), key=lambda e: e.name)
    text = "|".join(f"{e.name}:{e.stat().st_size}:{e.stat().st_mtime_ns}" for e in entries)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_tfds(name="cifar10", data_dir=None, *, download=True, cache_dir=None, progress=True):
    """Load a tfds image-classification dataset as the source dict of arrays (see folder.py).

    `data_dir` defaults to tfds' own (`TFDS_DATA_DIR` or ~/tensorflow_datasets). Downloading and
    preparing happen only when the dataset is missing, `download` is true and tensorflow is
    installed. `progress`: a bar while a first load reads the records.
    """
    builder = _builder(name, data_dir)
    if not builder.is_prepared():
        _prepare(builder, name, download)
    data_path = os.fspath(builder.data_dir)
    source_id = "tfds-" + hashlib.sha256(data_path.encode()).hexdigest()[:12]
    return cached_arrays(source_id, _content_key(data_path),
                         lambda: read_builder(builder, name, progress), cache_dir)
