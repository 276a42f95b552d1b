"""Tests of jaxnas.data on small synthetic image folders (lossless PNG, exact pixel checks)."""

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxnas.data import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    augment,
    batches,
    cifar10_valid_split,
    downsample,
    folder,
    load_dataset,
    load_folder,
    load_tfds,
    normalize,
    num_batches,
    prefetch,
    random_crop,
    random_flip,
    resolve_cache_dir,
    tfds_source,
)
from jaxnas.errors import DataError

CLASSES = ("bird", "airplane", "cat")  # created unsorted on purpose
NAMES = ("img2.png", "img10.png", "a.png", "img1.png", "z.png")  # sorted: a img1 img10 img2 z


def pixels(value, size=8):
    """A recognisable RGB image: R = value, G = row-major position, B = column."""
    y, x = np.mgrid[:size, :size]
    return np.stack([np.full_like(y, value), y * size + x, x * 10], -1).astype(np.uint8)


def write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def value_of(split, class_name, file_name):
    """The R value written into an image, so tests can tell which file landed where."""
    return 100 * (split == "test") + 20 * CLASSES.index(class_name) + NAMES.index(file_name)


@pytest.fixture
def image_root(tmp_path):
    root = tmp_path / "images"
    for split, names in (("train", NAMES), ("test", NAMES[:2])):
        for c in CLASSES:
            for name in names:
                write_png(root / split / c / name, pixels(value_of(split, c, name)))
    return root


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def test_folder_labels_order_and_pixels(image_root, cache):
    arrays = load_folder(image_root, cache_dir=cache)
    assert list(arrays["class_names"]) == ["airplane", "bird", "cat"]
    assert arrays["train_images"].shape == (15, 8, 8, 3)
    assert arrays["train_images"].dtype == np.uint8
    assert arrays["test_images"].shape == (6, 8, 8, 3)
    assert arrays["train_labels"].dtype == np.int32
    np.testing.assert_array_equal(arrays["train_labels"], np.repeat([0, 1, 2], 5))
    np.testing.assert_array_equal(arrays["test_labels"], np.repeat([0, 1, 2], 2))
    expected = [value_of("train", c, n) for c in sorted(CLASSES) for n in sorted(NAMES)]
    np.testing.assert_array_equal(arrays["train_images"][:, 0, 0, 0], expected)
    np.testing.assert_array_equal(arrays["train_images"][3], pixels(expected[3]))
    expected_test = [value_of("test", c, n) for c in sorted(CLASSES) for n in sorted(NAMES[:2])]
    np.testing.assert_array_equal(arrays["test_images"][:, 0, 0, 0], expected_test)


def test_folder_converts_grayscale_and_ignores_other_files(image_root, cache):
    Image.fromarray(np.full((8, 8), 7, np.uint8)).save(image_root / "train" / "cat" / "zz.png")
    (image_root / "train" / "cat" / "notes.txt").write_text("not an image")
    arrays = load_folder(image_root, cache_dir=cache)
    assert arrays["train_images"].shape == (16, 8, 8, 3)
    np.testing.assert_array_equal(arrays["train_images"][-1], np.full((8, 8, 3), 7))


def test_cache_hit_does_not_decode(image_root, cache, monkeypatch):
    first = load_folder(image_root, cache_dir=cache)
    assert len(list(cache.glob("*.npz"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("decoded although the cache is valid")

    monkeypatch.setattr(folder, "decode_images", fail)
    second = load_folder(image_root, cache_dir=cache)
    for key in folder.ARRAY_KEYS:
        np.testing.assert_array_equal(first[key], second[key])


def test_decoding_bar_follows_progress(image_root, tmp_path, capsys):
    """`progress=False` of the library's entry points reaches a first load's decoding bar (the
    CLI's `--no-progress` also sets TQDM_DISABLE; a library caller had no way before)."""
    load_dataset(image_root, resolution=8, cache_dir=tmp_path / "quiet", progress=False)
    assert "decoding" not in capsys.readouterr().err
    load_dataset(image_root, resolution=8, cache_dir=tmp_path / "shown")
    assert "decoding train" in capsys.readouterr().err


def test_cache_invalidated_when_a_file_is_added(image_root, cache, monkeypatch):
    load_folder(image_root, cache_dir=cache)
    write_png(image_root / "train" / "bird" / "new.png", pixels(250))
    calls = []
    decode = folder.decode_images
    monkeypatch.setattr(folder, "decode_images", lambda *a, **k: calls.append(1) or decode(*a, **k))
    arrays = load_folder(image_root, cache_dir=cache)
    assert calls and arrays["train_images"].shape[0] == 16
    assert arrays["train_images"][5 + 4, 0, 0, 0] == 250  # bird: a img1 img10 img2 new z
    assert len(list(cache.glob("*.npz"))) == 1  # the stale cache was replaced


def test_corrupt_cache_is_rebuilt(image_root, cache):
    load_folder(image_root, cache_dir=cache)
    (path,) = cache.glob("*.npz")
    path.write_bytes(b"garbage")
    arrays = load_folder(image_root, cache_dir=cache)
    assert arrays["train_images"].shape == (15, 8, 8, 3)


def test_cache_dir_resolution(image_root, tmp_path, monkeypatch):
    monkeypatch.delenv("JAXNAS_CACHE", raising=False)
    assert resolve_cache_dir().parts[-2:] == (".cache", "jaxnas")
    monkeypatch.setenv("JAXNAS_CACHE", str(tmp_path / "env-cache"))
    assert resolve_cache_dir() == tmp_path / "env-cache"
    assert resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    load_folder(image_root)
    assert len(list((tmp_path / "env-cache").glob("*.npz"))) == 1


def test_folder_errors(tmp_path, cache):
    with pytest.raises(DataError, match="does not exist"):
        load_folder(tmp_path / "missing", cache_dir=cache)
    (tmp_path / "root" / "train").mkdir(parents=True)
    with pytest.raises(DataError, match="train has no class subfolders"):
        load_folder(tmp_path / "root", cache_dir=cache)
    (tmp_path / "root" / "train" / "cat").mkdir()
    (tmp_path / "root" / "train" / "cat" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match="cat has no .jpg/.jpeg/.png images"):
        load_folder(tmp_path / "root", cache_dir=cache)
    write_png(tmp_path / "root" / "train" / "cat" / "0.png", pixels(1))
    with pytest.raises(DataError, match="test does not exist"):
        load_folder(tmp_path / "root", cache_dir=cache)
    write_png(tmp_path / "root" / "test" / "dog" / "0.png", pixels(1))
    with pytest.raises(DataError, match="different class subfolders"):
        load_folder(tmp_path / "root", cache_dir=cache)


def test_folder_rejects_unequal_sizes(image_root, cache):
    write_png(image_root / "train" / "cat" / "big.png", pixels(1, size=9))
    with pytest.raises(DataError, match="big.png is 9x9 but .* is 8x8"):
        load_folder(image_root, cache_dir=cache)


def test_folder_rejects_train_test_size_mismatch(tmp_path, cache):
    write_png(tmp_path / "train" / "a" / "0.png", pixels(1, size=8))
    write_png(tmp_path / "test" / "a" / "0.png", pixels(1, size=4))
    with pytest.raises(DataError, match="train images are 8x8 but test images are 4x4"):
        load_folder(tmp_path, cache_dir=cache)


def test_folder_rejects_corrupt_image(image_root, cache):
    (image_root / "test" / "cat" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="cannot decode image .*broken.jpg"):
        load_folder(image_root, cache_dir=cache)


def test_load_dataset_native_and_downsampled(image_root, cache):
    native = load_dataset(image_root, resolution=8, cache_dir=cache)
    assert native.num_classes == 3 and native.class_names == ("airplane", "bird", "cat")
    assert native.resolution == 8 and native.train_images.shape == (15, 8, 8, 3)
    small = load_dataset(str(image_root), resolution=4, cache_dir=cache)
    assert small.train_images.shape == (15, 4, 4, 3) and small.test_images.shape == (6, 4, 4, 3)
    np.testing.assert_array_equal(small.train_images, downsample(native.train_images, 4))
    np.testing.assert_array_equal(small.train_labels, native.train_labels)
    with pytest.raises(DataError, match="factor"):
        load_dataset(image_root, resolution=3, cache_dir=cache)
    with pytest.raises(DataError, match="exceeds the native resolution 8"):
        load_dataset(image_root, resolution=16, cache_dir=cache)


def test_split_properties():
    labels = np.random.default_rng(1).permutation(np.repeat(np.arange(10, dtype=np.int32), 500))
    train, valid = cifar10_valid_split(labels)
    assert len(np.intersect1d(train, valid)) == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, valid])), np.arange(5000))
    assert (np.bincount(labels[train]) == 250).all() and (np.bincount(labels[valid]) == 250).all()
    again = cifar10_valid_split(labels.copy())
    np.testing.assert_array_equal(train, again[0])
    np.testing.assert_array_equal(valid, again[1])
    assert not np.array_equal(train, cifar10_valid_split(labels, seed=1)[0])


def test_split_prefix_mixes_classes_of_a_class_sorted_folder():
    # An image folder loads class by class; scoring reads the first batches of the held-out half,
    # so every prefix of it must mix the classes (a class-sorted prefix ranks by one class only).
    labels = np.repeat(np.arange(10), 5000)
    train, valid = cifar10_valid_split(labels)
    for half in (train, valid):
        counts = np.bincount(labels[half[:512]], minlength=10)
        assert counts.min() >= 25, counts  # about 51 per class, far from all-one-class


def test_split_cifar_sizes_and_odd_counts():
    train, valid = cifar10_valid_split(np.repeat(np.arange(10), 5000))
    assert len(train) == len(valid) == 25000
    train, valid = cifar10_valid_split(np.array([0, 0, 0, 1, 1, 1, 1, 1, 2]))
    assert len(train) == 1 + 2 + 0 and len(valid) == 2 + 3 + 1
    with pytest.raises(DataError, match="1-D integer"):
        cifar10_valid_split(np.zeros((2, 2), np.int32))


def test_downsample_hand_example():
    image = np.array([[0, 1, 10, 20],
                      [1, 1, 30, 41],
                      [255, 255, 0, 0],
                      [255, 254, 0, 1]], np.uint8)
    images = np.repeat(image[None, :, :, None], 3, axis=-1)
    out = downsample(images, 2)
    # block means 0.75 -> 1, 25.25 -> 25, 254.75 -> 255, 0.25 -> 0 (halves round up: see below)
    np.testing.assert_array_equal(out[0, :, :, 0], [[1, 25], [255, 0]])
    assert out.shape == (1, 2, 2, 3) and out.dtype == np.uint8
    half = np.array([1, 1, 0, 0], np.uint8).reshape(1, 2, 2, 1)
    assert downsample(half, 1)[0, 0, 0, 0] == 1
    np.testing.assert_array_equal(downsample(images, 1)[0, 0, 0], [np.round(image.mean())] * 3)
    assert downsample(images, 4) is images
    with pytest.raises(DataError, match="cannot downsample 4x4 images to 3x3"):
        downsample(images, 3)


def test_normalize_values():
    images = np.array([0, 255], np.uint8).reshape(2, 1, 1, 1).repeat(3, axis=-1)
    out = normalize(images)
    assert out.dtype == jnp.float32
    mean, std = np.array(CIFAR10_MEAN), np.array(CIFAR10_STD)
    np.testing.assert_allclose(out[0, 0, 0], -mean / std, rtol=1e-6)
    np.testing.assert_allclose(out[1, 0, 0], (1 - mean) / std, rtol=1e-6)


def batch_of(image, n):
    return jnp.broadcast_to(jnp.asarray(image), (n, *image.shape))


def test_random_crop_shifts_content_with_zero_padding():
    image = pixels(200, size=6)
    out = np.asarray(random_crop(jax.random.key(0), batch_of(image, 32), 2))
    padded = np.pad(image, ((2, 2), (2, 2), (0, 0)))
    crops = {(dy, dx): padded[dy:dy + 6, dx:dx + 6] for dy in range(5) for dx in range(5)}
    seen = set()
    for crop in out:
        matches = [off for off, expected in crops.items() if np.array_equal(crop, expected)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 5  # offsets vary per image


def test_random_flip():
    image = pixels(9, size=4)
    out = np.asarray(random_flip(jax.random.key(1), batch_of(image, 32)))
    flipped = [np.array_equal(o, image[:, ::-1]) for o in out]
    kept = [np.array_equal(o, image) for o in out]
    assert all(f or k for f, k in zip(flipped, kept, strict=True)) and any(flipped) and any(kept)


def test_augment_shape_determinism_and_padding_value():
    images = batch_of(np.full((8, 8, 3), 255, np.uint8), 16)
    step = jax.jit(augment, static_argnames=("pad", "flip"))
    out = step(jax.random.key(3), images, pad=2)
    assert out.shape == (16, 8, 8, 3) and out.dtype == jnp.float32
    np.testing.assert_array_equal(out, step(jax.random.key(3), images, pad=2))
    assert not np.array_equal(out, step(jax.random.key(4), images, pad=2))
    mean, std = np.array(CIFAR10_MEAN, np.float32), np.array(CIFAR10_STD, np.float32)
    values = np.unique(np.asarray(out).reshape(-1, 3), axis=0)
    # padding is raw zero pixels normalised like the image (torchvision RandomCrop)
    np.testing.assert_allclose(values, [-mean / std, (1 - mean) / std], rtol=1e-6)
    plain = augment(jax.random.key(3), images, pad=0, flip=False)
    np.testing.assert_array_equal(plain, normalize(images))
    with pytest.raises(DataError, match="pad"):
        augment(jax.random.key(0), images, pad=-1)


def test_batches_determinism_and_coverage():
    images = np.arange(10)[:, None] * np.ones((1, 2), np.uint8)
    labels = np.arange(10, dtype=np.int32)

    def order(**kw):
        return [lab.tolist() for _, lab in batches(images, labels, 3, seed=7, **kw)]

    assert order(epoch=0) == order(epoch=0)
    assert order(epoch=0) != order(epoch=1)
    assert len(order(epoch=0)) == num_batches(10, 3) == 3
    full = order(epoch=2, drop_last=False)
    assert len(full) == num_batches(10, 3, drop_last=False) == 4
    assert sorted(sum(full, [])) == list(range(10))
    assert order(epoch=2, drop_last=False, start=2) == full[2:]
    for x, y in batches(images, labels, 4, seed=0, epoch=0):
        np.testing.assert_array_equal(x[:, 0], y)
    with pytest.raises(DataError, match="batch_size"):
        next(batches(images, labels, 0, seed=0, epoch=0))


def test_prefetch_moves_to_device_and_propagates_errors():
    items = [(np.full(2, i), np.int32(i)) for i in range(5)]
    out = list(prefetch(iter(items), size=2))
    assert len(out) == 5 and all(isinstance(x, jax.Array) for x, _ in out)
    np.testing.assert_array_equal(out[3][0], [3, 3])

    def broken():
        yield np.zeros(1)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        list(prefetch(broken()))
    endless = prefetch(iter(lambda: np.zeros(1), None), size=1)
    next(endless)
    endless.close()  # must not hang


def test_tfds_unprepared_without_download_is_a_clean_data_error(tmp_path):
    with pytest.raises(DataError, match=r"pip install tensorflow.*--data /path/to/image-folder"):
        load_tfds("cifar10", data_dir=tmp_path, download=False, cache_dir=tmp_path / "cache")


@pytest.mark.skipif(tfds_source.has_tensorflow(), reason="would try to download with tensorflow")
def test_tfds_without_tensorflow_does_not_try_to_download(tmp_path):
    with pytest.raises(DataError, match="preparing it needs tensorflow; either `pip install"):
        load_tfds("cifar10", data_dir=tmp_path, cache_dir=tmp_path / "cache")


def test_tfds_unknown_name(tmp_path):
    with pytest.raises(DataError, match="no dataset named 'no_such_dataset'"):
        load_tfds("no_such_dataset", data_dir=tmp_path, download=False)


def test_tfds_reads_array_record_without_tensorflow(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")

    class TinyImages(tfds.core.GeneratorBasedBuilder, skip_registration=True):
        """Two classes of 8x8 images whose R value is the example number."""

        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            features = tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(8, 8, 3)),
                "label": tfds.features.ClassLabel(names=["even", "odd"]),
            })
            return tfds.core.DatasetInfo(builder=self, features=features,
                                         supervised_keys=("image", "label"))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(6), "test": self._generate_examples(2)}

        def _generate_examples(self, n):
            for i in range(n):  # PIL images: encoding them needs no tensorflow
                yield i, {"image": Image.fromarray(pixels(i)), "label": i % 2}

    TinyImages(data_dir=tmp_path / "tfds", file_format="array_record").download_and_prepare()
    arrays = load_tfds("tiny_images", data_dir=tmp_path / "tfds", cache_dir=tmp_path / "cache")
    assert arrays["train_images"].shape == (6, 8, 8, 3) and arrays["test_images"].shape[0] == 2
    assert list(arrays["class_names"]) == ["even", "odd"]
    np.testing.assert_array_equal(arrays["train_images"][:, 0, 0, 0] % 2, arrays["train_labels"])
    assert sorted(arrays["train_images"][:, 0, 0, 0]) == list(range(6))
    first = arrays["train_images"][0]
    np.testing.assert_array_equal(first, pixels(first[0, 0, 0]))
    assert len(list((tmp_path / "cache").glob("tfds-*.npz"))) == 1


@pytest.mark.slow
def test_real_cifar10_jpeg_folder(shared_dir):
    root = shared_dir / "data" / "cifar10-jpeg"
    if not root.is_dir():
        pytest.skip(f"no CIFAR-10 JPEG folder at {root}")
    start = time.perf_counter()
    data = load_dataset(root)  # default cache dir, so later runs reuse the decode
    first = time.perf_counter() - start
    start = time.perf_counter()
    again = load_dataset(root, resolution=16)
    cached = time.perf_counter() - start
    print(f"\nCIFAR-10 JPEG folder: first load {first:.1f} s, "
          f"cached load + downsample {cached:.1f} s")
    assert data.train_images.shape == (50000, 32, 32, 3)
    assert data.test_images.shape == (10000, 32, 32, 3)
    assert data.class_names[:3] == ("airplane", "automobile", "bird") and data.num_classes == 10
    assert (np.bincount(data.train_labels) == 5000).all()
    assert again.train_images.shape == (50000, 16, 16, 3)
    train, valid = cifar10_valid_split(data.train_labels)
    assert len(train) == len(valid) == 25000
    mean = data.train_images.reshape(-1, 3).mean(0) / 255
    np.testing.assert_allclose(mean, CIFAR10_MEAN, atol=0.01)
