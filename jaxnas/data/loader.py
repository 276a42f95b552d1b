"""Public data entry: load a dataset into host memory, iterate seeded batches, prefetch to device.

The whole dataset lives on the host as uint8 (CIFAR-10: 184 MB); batches are uint8 too and are
augmented on device inside the jitted step (`jaxnas.data.transforms.augment`).
"""

import dataclasses
import os
import queue
import threading

import jax
import numpy as np

from jaxnas.data.folder import load_folder
from jaxnas.data.splits import cifar10_valid_split
from jaxnas.data.tfds_source import load_tfds
from jaxnas.data.transforms import downsample
from jaxnas.errors import DataError

TFDS_PREFIX = "tfds:"


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """Train and test splits as host numpy arrays: uint8 images [N,R,R,3], int32 labels [N]."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: tuple[str, ...]
    resolution: int

    @property
    def num_classes(self):
        return len(self.class_names)


def load_source(source, *, cache_dir=None, progress=True):
    """The native-resolution source dict of arrays for a folder path or `"tfds:<name>"`;
    `progress`: a bar while a first load decodes (later loads read the cache)."""
    if isinstance(source, str) and source.startswith(TFDS_PREFIX):
        return load_tfds(source[len(TFDS_PREFIX):], cache_dir=cache_dir, progress=progress)
    return load_folder(os.fspath(source), cache_dir=cache_dir, progress=progress)


def load_dataset(source, *, resolution=32, cache_dir=None, progress=True):
    """Load `source` (an image folder with train/ and test/, or `"tfds:cifar10"`) as a Dataset.

    The native decode is cached; a smaller `resolution` (an integer factor of the native one) is
    obtained by area averaging at load time.
    """
    arrays = load_source(source, cache_dir=cache_dir, progress=progress)
    native = arrays["train_images"].shape[1]
    if resolution > native:
        raise DataError(f"resolution {resolution} exceeds the native resolution {native} of "
                        f"{source}")
    return Dataset(
        train_images=downsample(arrays["train_images"], resolution),
        train_labels=arrays["train_labels"].astype(np.int32),
        test_images=downsample(arrays["test_images"], resolution),
        test_labels=arrays["test_labels"].astype(np.int32),
        class_names=tuple(str(c) for c in arrays["class_names"]),
        resolution=resolution,
    )


def load_data(data_cfg, progress=True):
    """The NB201 cifar10-valid protocol for the config's `data` block: (train half, held-out half)
    of the training set, each `(uint8 images [n, H, W, 3], int32 labels [n])`."""
    data = load_dataset(data_cfg.source, resolution=data_cfg.resolution,
                        cache_dir=data_cfg.cache_dir or None, progress=progress)
    train_idx, valid_idx = cifar10_valid_split(data.train_labels)
    return ((data.train_images[train_idx], data.train_labels[train_idx]),
            (data.train_images[valid_idx], data.train_labels[valid_idx]))


def num_batches(n, batch_size, drop_last=True):
    """Number of batches `batches` yields for `n` examples."""
    return n // batch_size if drop_last else -(-n // batch_size)


def epoch_permutation(n, *, seed, epoch):
    """The example order of one epoch; a function of (seed, epoch) only, so resumes replay it."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def batches(images, labels, batch_size, *, seed, epoch, drop_last=True, start=0):
    """Yield (images, labels) numpy batches of one epoch in its seeded order.

    `start` skips that many batches, to resume in the middle of an epoch.
    """
    if len(images) != len(labels):
        raise DataError(f"{len(images)} images but {len(labels)} labels")
    if batch_size <= 0:
        raise DataError(f"batch_size must be positive, got {batch_size}")
    order = epoch_permutation(len(images), seed=seed, epoch=epoch)
    for b in range(start, num_batches(len(images), batch_size, drop_last)):
        idx = order[b * batch_size:(b + 1) * batch_size]
        yield images[idx], labels[idx]


def prefetch(iterator, size=2):
    """Iterate `iterator` with items moved to the device by `jax.device_put` in a background thread.

    Keeps up to `size` items ready so host batching overlaps device compute; an exception in the
    iterator is re-raised in the consumer, and closing the generator stops the thread and waits for
    it (a thread still inside `device_put` when the interpreter exits aborts the process).
    """
    if size < 1:
        raise DataError(f"prefetch size must be >= 1, got {size}")
    ready = queue.Queue(maxsize=size)
    stop = threading.Event()

    def put(item):
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def produce():
        try:
            for item in iterator:
                if not put((True, jax.device_put(item))):
                    return
            put((False, None))
        except BaseException as e:  # handed to the consumer, which re-raises it
            put((False, e))

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while True:
            ok, item = ready.get()
            if not ok:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        thread.join()
