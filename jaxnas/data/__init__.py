"""Data: image-folder and tfds sources, the cifar10-valid split, seeded batches, augmentation."""

from jaxnas.data.folder import load_folder, resolve_cache_dir
from jaxnas.data.loader import (
    Dataset,
    batches,
    epoch_permutation,
    load_data,
    load_dataset,
    num_batches,
    prefetch,
)
from jaxnas.data.splits import cifar10_valid_split
from jaxnas.data.tfds_source import load_tfds
from jaxnas.data.transforms import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    augment,
    cutout,
    downsample,
    normalize,
    random_crop,
    random_flip,
)

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "Dataset",
    "augment",
    "cutout",
    "batches",
    "cifar10_valid_split",
    "downsample",
    "epoch_permutation",
    "load_data",
    "load_dataset",
    "load_folder",
    "load_tfds",
    "normalize",
    "num_batches",
    "prefetch",
    "random_crop",
    "random_flip",
    "resolve_cache_dir",
]
