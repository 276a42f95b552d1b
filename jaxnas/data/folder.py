"""Image-folder source: `root/{train,test}/<class>/*.{jpg,jpeg,png}` -> uint8 arrays, cached.

Class names sorted alphabetically give the label ids; within a class, files are sorted by name, so
the data order is deterministic. Images are decoded once with PIL (a small thread pool) and the
arrays are cached as an .npz keyed by the folder's absolute path, file count, total size and latest
mtime, so a changed folder is decoded again and an unchanged one loads in about a second.

A source returns a dict of numpy arrays with the keys in `ARRAY_KEYS`: `train_images`,
`test_images` (uint8 [N,H,W,3]), `train_labels`, `test_labels` (int32 [N]) and `class_names`
(a str array); `jaxnas.data.tfds_source` returns the same.
"""

import hashlib
import os
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from jaxnas.errors import DataError

ARRAY_KEYS = ("train_images", "train_labels", "test_images", "test_labels", "class_names")
SPLITS = ("train", "test")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
DECODE_WORKERS = 2
DECODE_CHUNK = 512
CACHE_VERSION = 1  # bump when the decoded content or the .npz layout changes


def resolve_cache_dir(cache_dir=None):
    """The cache directory: the argument, else env `JAXNAS_CACHE`, else `~/.cache/jaxnas`."""
    if cache_dir is None:
        cache_dir = os.environ.get("JAXNAS_CACHE") or Path.home() / ".cache" / "jaxnas"
    return Path(cache_dir).expanduser()


def list_split(split_dir):
    """Image paths (str), int32 labels and sorted class names of one split folder."""
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        raise DataError(f"data folder {split_dir} does not exist")
    classes = sorted(e.name for e in os.scandir(split_dir)
                     if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise DataError(f"data folder {split_dir} has no class subfolders")
    paths, labels = [], []
    for label, name in enumerate(classes):
        class_dir = os.path.join(split_dir, name)
        files = sorted(e.name for e in os.scandir(class_dir)
                       if e.is_file() and e.name.lower().endswith(IMAGE_SUFFIXES))
        if not files:
            raise DataError(f"class folder {class_dir} has no .jpg/.jpeg/.png images")
        paths += [os.path.join(class_dir, f) for f in files]
        labels += [label] * len(files)
    return paths, np.asarray(labels, np.int32), tuple(classes)


def fingerprint(root, paths):
    """Cache key of a folder: absolute path, file count, total size and latest mtime (hex digest).

    Directory mtimes count too, so a renamed or deleted file is noticed even if the totals match.
    """
    stats = [os.stat(p) for p in paths]
    class_dirs = {os.path.dirname(p) for p in paths}
    dirs = {root, *class_dirs, *(os.path.dirname(d) for d in class_dirs)}
    mtime = max(s.st_mtime_ns for s in stats + [os.stat(d) for d in dirs])
    text = f"{CACHE_VERSION}|{Path(root).resolve()}|{len(stats)}|"
    text += f"{sum(s.st_size for s in stats)}|{mtime}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_rgb(path):
    """Decode one image file to a uint8 [H,W,3] array."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except OSError as e:  # PIL.UnidentifiedImageError is an OSError
        raise DataError(f"cannot decode image {path}: {e}") from e


def decode_images(paths, *, workers=DECODE_WORKERS, desc="decoding", progress=True):
    """Decode equally sized images into one uint8 [N,H,W,3] array, with a progress bar."""
    first = read_rgb(paths[0])
    out = np.empty((len(paths), *first.shape), np.uint8)

    def decode_chunk(start):
        for i in range(start, min(start + DECODE_CHUNK, len(paths))):
            image = read_rgb(paths[i])
            if image.shape != first.shape:
                raise DataError(f"image {paths[i]} is {image.shape[1]}x{image.shape[0]} but "
                                f"{paths[0]} is {first.shape[1]}x{first.shape[0]}")
            out[i] = image
        return min(DECODE_CHUNK, len(paths) - start)

    pool = ThreadPoolExecutor(workers)
    try:
        with tqdm(total=len(paths), desc=desc, unit="img", disable=not progress) as bar:
            futures = [pool.submit(decode_chunk, s) for s in range(0, len(paths), DECODE_CHUNK)]
            for future in as_completed(futures):
                bar.update(future.result())
    finally:
        pool.shutdown(cancel_futures=True)
    return out


def read_npz(path):
    """The arrays of a cache file, or None when it is missing, truncated or incomplete."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    return arrays if set(ARRAY_KEYS) <= set(arrays) else None


def write_npz(path, arrays):
    """Write a cache file atomically and remove older files of the same source (best effort)."""
    path = Path(path)
    prefix = path.name.rsplit("-", 1)[0]
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
        for old in path.parent.glob(f"{prefix}-*.npz"):
            if old != path and old.name.rsplit("-", 1)[0] == prefix:
                old.unlink(missing_ok=True)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        warnings.warn(f"could not write data cache {path}: {e}", stacklevel=3)


def cached_arrays(source_id, key, build, cache_dir=None):
    """Load `<cache>/<source_id>-<key>.npz`, or call `build()` and save its arrays there.

    `source_id` names the source (older caches of it are replaced); `key` its content version.
    """
    path = resolve_cache_dir(cache_dir) / f"{source_id}-{key}.npz"
    arrays = read_npz(path) if path.exists() else None
    if arrays is None:
        arrays = build()
        write_npz(path, arrays)
    return arrays


def decode_folder(listing, progress=True):
    """Decode the listed train and test images into the source dict of arrays."""
    arrays = {"class_names": np.asarray(listing["train"][2])}
    for split in SPLITS:
        paths, labels, _ = listing[split]
        arrays[f"{split}_images"] = decode_images(paths, desc=f"decoding {split}",
                                                  progress=progress)
        arrays[f"{split}_labels"] = labels
    train_shape, test_shape = arrays["train_images"].shape[1:], arrays["test_images"].shape[1:]
    if train_shape != test_shape:
        raise DataError(f"train images are {train_shape[1]}x{train_shape[0]} but test images "
                        f"are {test_shape[1]}x{test_shape[0]}")
    return arrays


def load_folder(root, *, cache_dir=None, progress=True):
    """Load `root/train` and `root/test` as a source dict of arrays (see module docstring);
    `progress`: a bar while a first load decodes the images."""
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise DataError(f"data folder {root} does not exist")
    listing = {split: list_split(root / split) for split in SPLITS}
    if listing["train"][2] != listing["test"][2]:
        raise DataError(f"data folder {root}: train and test have different class subfolders")
    paths = listing["train"][0] + listing["test"][0]
    source_id = "folder-" + hashlib.sha256(str(root).encode()).hexdigest()[:12]
    return cached_arrays(source_id, fingerprint(root, paths),
                         lambda: decode_folder(listing, progress), cache_dir)
